// Host functions for psnr_mse: checks -> device guard -> numel()==0 -> allocate -> launch -> check.
// Returns one float64 per image on the input's device; inputs keep their layout (no copies).
#include "sr_kernels/psnr_mse.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "checks.h"
#include "ops/metric_args.h"

#ifdef SR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

at::Tensor psnr_mse_cpu(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                        int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  sr_metric_args::check(sr, hr, data_range, crop_border, y_channel, quantize, round_y, 1);
  at::Tensor out = at::empty({sr.size(0)}, sr.options().dtype(at::kDouble));
  if (sr.size(0) == 0) return out;
  const auto pair = sr_metric_args::view(sr, hr);
  const auto protocol =
      sr_metric_args::protocol(data_range, crop_border, y_channel, quantize, round_y);
  const auto region = sr::metric_region(pair, protocol);
  at::Tensor rows = at::empty({pair.n * region.rows}, out.options());
  SR_CHECK_STATUS(sr::psnr_mse_cpu(pair, protocol, rows.mutable_data_ptr<double>(),
                                   out.mutable_data_ptr<double>()),
                  "psnr_mse");
  return out;
}

#ifdef SR_WITH_CUDA
at::Tensor psnr_mse_cuda(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                         int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  sr_metric_args::check(sr, hr, data_range, crop_border, y_channel, quantize, round_y, 1);
  const c10::cuda::CUDAGuard guard(sr.device());
  at::Tensor out = at::empty({sr.size(0)}, sr.options().dtype(at::kDouble));
  if (sr.size(0) == 0) return out;
  const auto pair = sr_metric_args::view(sr, hr);
  const auto protocol =
      sr_metric_args::protocol(data_range, crop_border, y_channel, quantize, round_y);
  at::Tensor workspace = at::empty({sr::psnr_mse_cuda_workspace(pair, protocol)}, out.options());
  SR_CHECK_STATUS(sr::launch_psnr_mse(pair, protocol, workspace.mutable_data_ptr<double>(),
                                      out.mutable_data_ptr<double>(),
                                      c10::cuda::getCurrentCUDAStream().stream()),
                  "psnr_mse");
  return out;
}
#endif

}  // namespace

TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) { m.impl("psnr_mse", &psnr_mse_cpu); }

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) { m.impl("psnr_mse", &psnr_mse_cuda); }
#endif
