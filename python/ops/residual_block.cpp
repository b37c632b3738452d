// Host functions of the fused residual block ``x + res_scale * conv2(relu(conv1(x)))``:
//   * residual_block_cuda: checks -> device guard -> numel()==0 -> layout/weight preparation ->
//     allocate -> launch -> check, over csrc/cuda/residual_block.cu;
//   * residual_block_cpu: the same block composed of ATen convolutions (oneDNN), for CPU tensors;
//   * residual_block_autograd: the op's autograd formula, for every device. It lives here, in
//     C++, rather than in Python (torch.library.register_autograd): a training step of small
//     blocks is bound by host time, and the Python formula cost more of it than eager's five
//     ops. One block of 1 x 4 x 4 x 4 on the CPU dev machine (1 thread, 10th percentile):
//     forward + backward 351-367 us with the Python formula, 206-208 us with this one, 222-278
//     us for eager's ops; the Python autograd kernel also cost ~10 us per call under no_grad.
//
// Copies made by the CUDA path (documented in the public op): an input that is not NHWC-strided
// with 16-byte aligned pixels (e.g. NCHW) is converted to channels_last once; weights that are
// not channels_last are copied to that layout (conv_weight.h: the kernel reads contiguous
// input-channel rows; 2 x 9*C*C elements, 144 KB at C = 64 in fp16). The output keeps the input's
// memory format: channels_last for a channels_last input, NCHW otherwise (written directly through
// its strides by the kernel).
#include "sr_kernels/residual_block.h"

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/add.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mul.h>
#include <ATen/ops/relu.h>
#include <ATen/ops/threshold_backward.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <cstdint>
#include <tuple>

#include "checks.h"
#include "conv3x3.h"
#include "conv_input.h"
#include "conv_weight.h"
#include "env_knob.h"

#ifdef SR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

void check_weight(const at::Tensor& x, const at::Tensor& w, const char* name, int64_t c) {
  SR_CHECK_DIM(w, name, 4);
  SR_CHECK_ARG(w.size(0) == c && w.size(1) == c && w.size(2) == 3 && w.size(3) == 3, name,
               "expected shape [C, C, 3, 3] with C = ", c, " (x's channels), got ", w.sizes());
  SR_CHECK_TYPE(w.scalar_type() == x.scalar_type(), name, "expected dtype ", x.scalar_type(),
                " (x's dtype), got ", w.scalar_type());
  SR_CHECK_ARG(w.device() == x.device(), name, "expected device ", x.device(), ", got ",
               w.device());
}

void check_bias(const at::Tensor& x, const at::Tensor& b, const char* name, int64_t c) {
  SR_CHECK_DIM(b, name, 1);
  SR_CHECK_ARG(b.size(0) == c, name, "expected shape [C] with C = ", c, ", got ", b.sizes());
  SR_CHECK_TYPE(b.scalar_type() == x.scalar_type(), name, "expected dtype ", x.scalar_type(),
                " (x's dtype), got ", b.scalar_type());
  SR_CHECK_ARG(b.device() == x.device(), name, "expected device ", x.device(), ", got ",
               b.device());
}

#ifdef SR_WITH_CUDA

// SR_KERNELS_RESBLOCK_CUDA_WARPS=4 selects the 4-warp configuration for C <= 128 (two blocks per
// SM; residual_block.cu), for comparison with the default 8 (read at each call).
int narrow_config_warps() { return env_is("SR_KERNELS_RESBLOCK_CUDA_WARPS", "4") ? 4 : 8; }

// SR_KERNELS_CUDA_WGMMA=1 selects the wgmma form of that configuration (residual_block.cu), for
// comparison with the default mma.sync one (read at each call).
bool wgmma_requested() { return env_is("SR_KERNELS_CUDA_WGMMA", "1"); }

at::Tensor residual_block_cuda(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                               const at::Tensor& w2, const at::Tensor& b2, double res_scale) {
  SR_CHECK_DIM(x, "x", 4);
  SR_CHECK_TYPE(x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16, "x",
                "expected float16 or bfloat16 (the CUDA kernel's dtypes), got ", x.scalar_type());
  SR_CHECK_ARG(x.is_cuda(), "x", "expected a CUDA tensor, got device ", x.device());
  const int64_t c = x.size(1);
  SR_CHECK_ARG(c >= 16 && c % 16 == 0 && c <= sr::kResidualBlockMaxChannels, "x",
               "expected a channel count that is a multiple of 16 between 16 and ",
               sr::kResidualBlockMaxChannels, ", got ", c);
  check_weight(x, w1, "w1", c);
  check_bias(x, b1, "b1", c);
  check_weight(x, w2, "w2", c);
  check_bias(x, b2, "b2", c);

  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(output_format(x)));
  if (out.numel() == 0) return out;

  sr::ResidualBlockArgs args;
  const at::Tensor input = kernel_input(x, args.x_stride, "residual_block");
  // [C_out][3][3][C_in] in memory: no copy for channels_last weights.
  const at::Tensor w1p = channels_last_weight(w1);
  const at::Tensor w2p = channels_last_weight(w2);
  const at::Tensor b1c = b1.contiguous();
  const at::Tensor b2c = b2.contiguous();

  args.dtype = x.scalar_type() == at::kHalf ? sr::ConvDType::kFloat16 : sr::ConvDType::kBFloat16;
  args.x = input.const_data_ptr();
  args.w1 = w1p.const_data_ptr();
  args.b1 = b1c.const_data_ptr();
  args.w2 = w2p.const_data_ptr();
  args.b2 = b2c.const_data_ptr();
  args.out = out.mutable_data_ptr();
  for (int d = 0; d < 4; ++d) args.out_stride[d] = out.size(d) == 1 ? 0 : out.stride(d);
  args.n = x.size(0);
  args.c = c;
  args.h = x.size(2);
  args.w = x.size(3);
  args.res_scale = static_cast<float>(res_scale);
  args.warps = narrow_config_warps();
  args.wgmma = wgmma_requested();
  args.largest_tile = largest_conv_tiles();
  SR_CHECK_STATUS(sr::launch_residual_block(args, c10::cuda::getCurrentCUDAStream().stream()),
                  "residual_block");
  return out;
}

#endif  // SR_WITH_CUDA

at::Tensor residual_block_cpu(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                              const at::Tensor& w2, const at::Tensor& b2, double res_scale) {
  SR_CHECK_DIM(x, "x", 4);
  SR_CHECK_TYPE(at::isFloatingType(x.scalar_type()), "x", "expected a floating dtype, got ",
                x.scalar_type());
  SR_CHECK_ARG(x.is_cpu(), "x", "expected a CPU tensor, got device ", x.device());
  const int64_t c = x.size(1);
  SR_CHECK_ARG(c >= 1, "x", "expected at least one channel, got shape ", x.sizes());
  check_weight(x, w1, "w1", c);
  check_bias(x, b1, "b1", c);
  check_weight(x, w2, "w2", c);
  check_bias(x, b2, "b2", c);
  at::Tensor hidden = conv3x3(x, weight_like_input(w1, x), b1).relu_();
  at::Tensor out = conv3x3(hidden, weight_like_input(w2, x), b2);
  hidden.reset();                       // its buffer goes back before the epilogue's
  at::add_out(out, x, out, res_scale);  // x + res_scale * y, rounded once, in conv2's output
  return out.contiguous(output_format(x));
}

// The autograd formula. Forward: the op below autograd (the device's kernel). Backward:
// recomputes the intermediate relu(conv1(x)) (one convolution) instead of saving it, then
// takes the gradient convolutions from ATen's convolution_backward (cuDNN on the GPU, oneDNN on
// the CPU). Saved: x and the conv1 parameters, w2: one activation per block instead of eager's
// two (x and the ReLU output), for one extra convolution in the backward.
class ResidualBlockFunction : public torch::autograd::Function<ResidualBlockFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& w1, const at::Tensor& b1, const at::Tensor& w2,
                            const at::Tensor& b2, double res_scale) {
    static const auto op = c10::Dispatcher::singleton()
                               .findSchemaOrThrow("sr_kernels::residual_block", "")
                               .typed<decltype(residual_block_cpu)>();
    at::Tensor out;
    {
      const at::AutoDispatchBelowADInplaceOrView below_autograd;
      out = op.call(x, w1, b1, w2, b2, res_scale);
    }
    ctx->save_for_backward({x, w1, b1, w2});
    ctx->saved_data["res_scale"] = res_scale;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &w1 = saved[1], &b1 = saved[2], &w2 = saved[3];
    const double res_scale = ctx->saved_data["res_scale"].toDouble();
    const at::Tensor& grad = grads[0];
    // Inputs (x, w1, b1, w2, b2) that need a gradient; res_scale has none.
    const bool need_x = ctx->needs_input_grad(0), need_w1 = ctx->needs_input_grad(1);
    const bool need_b1 = ctx->needs_input_grad(2), need_w2 = ctx->needs_input_grad(3);
    const bool need_b2 = ctx->needs_input_grad(4);
    const bool need_first = need_x || need_w1 || need_b1;

    const at::Tensor hidden = conv3x3(x, w1, b1).relu_();  // recomputed, never saved
    // The branch's gradient is res_scale * grad. The scale goes into w2 for the data gradient
    // (9 C^2 elements, not a full-size product of grad) and onto the small weight and bias
    // gradients after; res_scale = 1 (EDSR-baseline) scales nothing.
    const bool scaled = res_scale != 1.0;
    auto [grad_hidden, grad_w2, grad_b2] = conv3x3_backward(
        grad, hidden, scaled ? at::mul(w2, res_scale) : w2, {need_first, need_w2, need_b2});
    if (scaled && need_w2) grad_w2.mul_(res_scale);
    if (scaled && need_b2) grad_b2.mul_(res_scale);
    at::Tensor grad_x, grad_w1, grad_b1;
    if (need_first) {
      const at::Tensor grad_pre = at::threshold_backward(grad_hidden, hidden, 0);
      at::Tensor grad_x1;
      std::tie(grad_x1, grad_w1, grad_b1) =
          conv3x3_backward(grad_pre, x, w1, {need_x, need_w1, need_b1});
      if (need_x) grad_x = grad_x1.add_(grad);  // the skip's gradient, into a fresh tensor
    }
    return {grad_x, grad_w1, grad_b1, grad_w2, grad_b2, at::Tensor()};
  }
};

at::Tensor residual_block_autograd(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                                   const at::Tensor& w2, const at::Tensor& b2, double res_scale) {
  return ResidualBlockFunction::apply(x, w1, b1, w2, b2, res_scale);
}

}  // namespace

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) { m.impl("residual_block", &residual_block_cuda); }
#endif
TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) { m.impl("residual_block", &residual_block_cpu); }
TORCH_LIBRARY_IMPL(sr_kernels, Autograd, m) { m.impl("residual_block", &residual_block_autograd); }
