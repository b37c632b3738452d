// Host function for the fused residual block (CUDA only; the reference backend is the CPU path):
// checks -> device guard -> numel()==0 -> layout/weight preparation -> allocate -> launch -> check.
//
// Copies made here (documented in the public op): an input that is not NHWC-strided with 16-byte
// aligned pixels (e.g. NCHW) is converted to channels_last once; weights that are not
// channels_last are copied to that layout (conv_weight.h: the kernel reads contiguous
// input-channel rows; 2 x 9*C*C elements, 144 KB at C = 64 in fp16). The output keeps the input's
// memory format: channels_last for a channels_last input, NCHW otherwise (written directly through
// its strides by the kernel).
#include "sr_kernels/residual_block.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <cstdint>

#include "checks.h"
#include "conv_weight.h"
#include "env_knob.h"

#ifdef SR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace {

bool is_channels_last(const at::Tensor& x) {
  return x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous();
}

// NHWC addressing the kernel accepts as is: channel stride 1, 16-byte aligned pixel rows.
// Strides of size-1 dimensions never matter, so they are reported as 0.
bool kernel_readable(const at::Tensor& x, int64_t (&strides)[4]) {
  for (int d = 0; d < 4; ++d) strides[d] = x.size(d) == 1 ? 0 : x.stride(d);
  if (x.size(1) > 1 && strides[1] != 1) return false;
  strides[1] = 1;
  for (int d : {0, 2, 3}) {
    if (strides[d] % 8 != 0) return false;
  }
  return (reinterpret_cast<uintptr_t>(x.const_data_ptr()) & 15u) == 0;
}

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
  at::Tensor out = at::empty(
      x.sizes(), x.options().memory_format(is_channels_last(x) ? at::MemoryFormat::ChannelsLast
                                                               : at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;

  sr::ResidualBlockArgs args;
  at::Tensor input = x;
  if (!kernel_readable(input, args.x_stride)) {
    // Documented copy (NCHW input, odd pixel strides, or a misaligned channels_last view,
    // which contiguous() would return unchanged).
    input = x.clone(at::MemoryFormat::ChannelsLast);
    const bool ok = kernel_readable(input, args.x_stride);
    TORCH_CHECK(ok, "sr_kernels: residual_block: could not make x NHWC-addressable");
  }
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
  SR_CHECK_STATUS(sr::launch_residual_block(args, c10::cuda::getCurrentCUDAStream().stream()),
                  "residual_block");
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) { m.impl("residual_block", &residual_block_cuda); }

#endif  // SR_WITH_CUDA
