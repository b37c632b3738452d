// Host functions of the upsampler ``pixel_shuffle(conv3x3(x, w, b), r)``:
//   * conv_pixel_shuffle_cuda: checks -> device guard -> numel()==0 -> layout/weight
//     preparation -> allocate -> launch -> check, over csrc/cuda/conv_pixel_shuffle.cu;
//   * conv_pixel_shuffle_cpu: the same composed of ATen's convolution and pixel_shuffle, for CPU
//     tensors;
//   * conv_pixel_shuffle_autograd: the op's autograd formula, for every device, in C++ for the
//     host time a Python formula costs (see residual_block.cpp).
//
// Copies made by the CUDA path (documented in the public op): an input that is not NHWC-strided
// with 16-byte aligned pixels (e.g. NCHW) is converted to channels_last once; a weight that is
// not channels_last is copied to that layout (conv_weight.h). The output keeps the input's memory
// format: channels_last for a channels_last input, NCHW otherwise (written directly through its
// strides by the kernel).
#include "sr_kernels/conv_pixel_shuffle.h"

#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/pixel_shuffle.h>
#include <ATen/ops/pixel_unshuffle.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <cstdint>

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

// The weight and bias checks both kernels make (r >= 1 and x 4-D checked before): w is
// [C_out*r*r, C_in, 3, 3] with x's C_in, b is [C_out*r*r], both of x's dtype and device.
void check_parameters(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, int64_t r) {
  SR_CHECK_DIM(w, "w", 4);
  SR_CHECK_ARG(w.size(0) > 0 && w.size(0) % (r * r) == 0 && w.size(1) == x.size(1) &&
                   w.size(2) == 3 && w.size(3) == 3,
               "w", "expected shape [C_out*r*r, C_in, 3, 3] with C_in = ", x.size(1),
               " and r = ", r, ", got ", w.sizes());
  SR_CHECK_TYPE(w.scalar_type() == x.scalar_type(), "w", "expected dtype ", x.scalar_type(),
                " (x's dtype), got ", w.scalar_type());
  SR_CHECK_ARG(w.device() == x.device(), "w", "expected device ", x.device(), ", got ", w.device());
  SR_CHECK_DIM(b, "b", 1);
  SR_CHECK_ARG(b.size(0) == w.size(0), "b", "expected shape [", w.size(0), "], got ", b.sizes());
  SR_CHECK_TYPE(b.scalar_type() == x.scalar_type(), "b", "expected dtype ", x.scalar_type(),
                " (x's dtype), got ", b.scalar_type());
  SR_CHECK_ARG(b.device() == x.device(), "b", "expected device ", x.device(), ", got ", b.device());
}

#ifdef SR_WITH_CUDA

at::Tensor conv_pixel_shuffle_cuda(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                   int64_t r) {
  SR_CHECK_DIM(x, "x", 4);
  SR_CHECK_TYPE(x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16, "x",
                "expected float16 or bfloat16 (the CUDA kernel's dtypes), got ", x.scalar_type());
  SR_CHECK_ARG(x.is_cuda(), "x", "expected a CUDA tensor, got device ", x.device());
  SR_CHECK_ARG(r == 2 || r == 3, "r", "expected 2 or 3, got ", r);
  const int64_t c_in = x.size(1);
  SR_CHECK_ARG(c_in >= 16 && c_in % 16 == 0 && c_in <= sr::kConvPixelShuffleMaxInChannels, "x",
               "expected a channel count that is a multiple of 16 between 16 and ",
               sr::kConvPixelShuffleMaxInChannels, ", got ", c_in);
  check_parameters(x, w, b, r);
  const int64_t n_conv = w.size(0);
  const int64_t block = sr::conv_pixel_shuffle_channel_block(r);
  SR_CHECK_ARG((n_conv / (r * r)) % block == 0, "w",
               "expected C_out*r*r output channels with C_out a positive multiple of ", block,
               " for r = ", r, ", got ", n_conv);

  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t c_out = n_conv / (r * r);
  at::Tensor out = at::empty({x.size(0), c_out, x.size(2) * r, x.size(3) * r},
                             x.options().memory_format(output_format(x)));
  if (out.numel() == 0) return out;

  sr::ConvPixelShuffleArgs args;
  const at::Tensor input = kernel_input(x, args.x_stride, "conv_pixel_shuffle");
  const at::Tensor wp = channels_last_weight(w);
  const at::Tensor bc = b.contiguous();

  args.dtype = x.scalar_type() == at::kHalf ? sr::ConvDType::kFloat16 : sr::ConvDType::kBFloat16;
  args.x = input.const_data_ptr();
  args.w = wp.const_data_ptr();
  args.b = bc.const_data_ptr();
  args.out = out.mutable_data_ptr();
  for (int d = 0; d < 4; ++d) args.out_stride[d] = out.size(d) == 1 ? 0 : out.stride(d);
  args.n = x.size(0);
  args.h = x.size(2);
  args.w_size = x.size(3);
  args.c_in = c_in;
  args.c_out = c_out;
  args.r = r;
  args.largest_tile = largest_conv_tiles();
  SR_CHECK_STATUS(sr::launch_conv_pixel_shuffle(args, c10::cuda::getCurrentCUDAStream().stream()),
                  "conv_pixel_shuffle");
  return out;
}

#endif  // SR_WITH_CUDA

at::Tensor conv_pixel_shuffle_cpu(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b,
                                  int64_t r) {
  SR_CHECK_DIM(x, "x", 4);
  SR_CHECK_TYPE(at::isFloatingType(x.scalar_type()), "x", "expected a floating dtype, got ",
                x.scalar_type());
  SR_CHECK_ARG(x.is_cpu(), "x", "expected a CPU tensor, got device ", x.device());
  SR_CHECK_ARG(r >= 1, "r", "expected a positive upscale factor, got ", r);
  SR_CHECK_ARG(x.size(1) >= 1, "x", "expected at least one channel, got shape ", x.sizes());
  check_parameters(x, w, b, r);
  const at::Tensor conv = conv3x3(x, weight_like_input(w, x), b);
  return at::pixel_shuffle(conv, r).contiguous(output_format(x));
}

// The autograd formula. Forward: the op below autograd (the device's kernel). Backward: the
// output gradient pixel_unshuffled to the convolution's shape, then ATen's convolution_backward
// (cuDNN on the GPU, oneDNN on the CPU). Saves only x and w: no C*r*r-channel activation.
class ConvPixelShuffleFunction : public torch::autograd::Function<ConvPixelShuffleFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& w, const at::Tensor& b, int64_t r) {
    static const auto op = c10::Dispatcher::singleton()
                               .findSchemaOrThrow("sr_kernels::conv_pixel_shuffle", "")
                               .typed<decltype(conv_pixel_shuffle_cpu)>();
    at::Tensor out;
    {
      const at::AutoDispatchBelowADInplaceOrView below_autograd;
      out = op.call(x, w, b, r);
    }
    ctx->save_for_backward({x, w});
    ctx->saved_data["r"] = r;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const int64_t r = ctx->saved_data["r"].toInt();
    const at::Tensor grad_conv = at::pixel_unshuffle(grads[0], r);
    auto [grad_x, grad_w, grad_b] = conv3x3_backward(
        grad_conv, saved[0], saved[1],
        {ctx->needs_input_grad(0), ctx->needs_input_grad(1), ctx->needs_input_grad(2)});
    return {grad_x, grad_w, grad_b, at::Tensor()};
  }
};

at::Tensor conv_pixel_shuffle_autograd(const at::Tensor& x, const at::Tensor& w,
                                       const at::Tensor& b, int64_t r) {
  return ConvPixelShuffleFunction::apply(x, w, b, r);
}

}  // namespace

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) { m.impl("conv_pixel_shuffle", &conv_pixel_shuffle_cuda); }
#endif
TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) { m.impl("conv_pixel_shuffle", &conv_pixel_shuffle_cpu); }
TORCH_LIBRARY_IMPL(sr_kernels, Autograd, m) {
  m.impl("conv_pixel_shuffle", &conv_pixel_shuffle_autograd);
}
