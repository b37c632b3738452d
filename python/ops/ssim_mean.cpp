// Host functions for ssim_mean: checks -> device guard -> numel()==0 -> allocate -> launch ->
// check (the steps are sr_metric_args::run). Returns one float64 per image on the input's device;
// inputs keep their layout (no copies).
#include "sr_kernels/ssim_mean.h"

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "checks.h"
#include "metric_args.h"

namespace {

constexpr int64_t kWindow = 11;  // SSIM's valid 11 x 11 window needs at least 11 x 11 pixels

at::Tensor ssim_mean_cpu(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                         int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return sr_metric_args::run<sr_metric_args::NoDeviceGuard>(
      sr, hr, data_range, crop_border, y_channel, quantize, round_y, kWindow,
      [](const sr::ImagePairView& pair, const sr::MetricProtocol& protocol, at::Tensor& out) {
        const int threads = at::get_num_threads();
        const int64_t bytes = sr::ssim_mean_cpu_workspace_bytes(pair, protocol, threads);
        // float64 storage: 8-byte (in practice 64-byte) aligned scratch
        at::Tensor workspace = at::empty({(bytes + 7) / 8}, out.options());
        SR_CHECK_STATUS(sr::ssim_mean_cpu(pair, protocol, threads, workspace.mutable_data_ptr(),
                                          out.mutable_data_ptr<double>()),
                        "ssim_mean");
      });
}

#ifdef SR_WITH_CUDA
at::Tensor ssim_mean_cuda(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                          int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return sr_metric_args::run_cuda("ssim_mean", kWindow, sr::ssim_mean_cuda_workspace,
                                  sr::launch_ssim_mean, sr, hr, data_range, crop_border, y_channel,
                                  quantize, round_y);
}
#endif

}  // namespace

TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) { m.impl("ssim_mean", &ssim_mean_cpu); }

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) { m.impl("ssim_mean", &ssim_mean_cuda); }
#endif
