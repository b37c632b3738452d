// Host functions for ssim_mean: checks -> device guard -> numel()==0 -> allocate -> launch ->
// check. Returns one float64 per image on the input's device; inputs keep their layout (no copies).
#include "sr_kernels/ssim_mean.h"

#include <ATen/Parallel.h>
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

constexpr int64_t kWindow = 11;  // SSIM's valid 11 x 11 window needs at least 11 x 11 pixels

at::Tensor ssim_mean_cpu(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                         int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  sr_metric_args::check(sr, hr, data_range, crop_border, y_channel, quantize, round_y, kWindow);
  at::Tensor out = at::empty({sr.size(0)}, sr.options().dtype(at::kDouble));
  if (sr.size(0) == 0) return out;
  const auto pair = sr_metric_args::view(sr, hr);
  const auto protocol =
      sr_metric_args::protocol(data_range, crop_border, y_channel, quantize, round_y);
  const int threads = at::get_num_threads();
  const int64_t bytes = sr::ssim_mean_cpu_workspace_bytes(pair, protocol, threads);
  // float64 storage: 8-byte (in practice 64-byte) aligned scratch
  at::Tensor workspace = at::empty({(bytes + 7) / 8}, out.options());
  SR_CHECK_STATUS(sr::ssim_mean_cpu(pair, protocol, threads, workspace.mutable_data_ptr(),
                                    out.mutable_data_ptr<double>()),
                  "ssim_mean");
  return out;
}

#ifdef SR_WITH_CUDA
at::Tensor ssim_mean_cuda(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                          int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  sr_metric_args::check(sr, hr, data_range, crop_border, y_channel, quantize, round_y, kWindow);
  const c10::cuda::CUDAGuard guard(sr.device());
  at::Tensor out = at::empty({sr.size(0)}, sr.options().dtype(at::kDouble));
  if (sr.size(0) == 0) return out;
  const auto pair = sr_metric_args::view(sr, hr);
  const auto protocol =
      sr_metric_args::protocol(data_range, crop_border, y_channel, quantize, round_y);
  at::Tensor workspace = at::empty({sr::ssim_mean_cuda_workspace(pair, protocol)}, out.options());
  SR_CHECK_STATUS(sr::launch_ssim_mean(pair, protocol, workspace.mutable_data_ptr<double>(),
                                       out.mutable_data_ptr<double>(),
                                       c10::cuda::getCurrentCUDAStream().stream()),
                  "ssim_mean");
  return out;
}
#endif

}  // namespace

TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) { m.impl("ssim_mean", &ssim_mean_cpu); }

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) { m.impl("ssim_mean", &ssim_mean_cuda); }
#endif
