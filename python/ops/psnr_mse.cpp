// Host functions for psnr_mse: checks -> device guard -> numel()==0 -> allocate -> launch -> check
// (the steps are sr_metric_args::run). Returns one float64 per image on the input's device;
// inputs keep their layout (no copies).
#include "sr_kernels/psnr_mse.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "checks.h"
#include "metric_args.h"

namespace {

at::Tensor psnr_mse_cpu(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                        int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return sr_metric_args::run<sr_metric_args::NoDeviceGuard>(
      sr, hr, data_range, crop_border, y_channel, quantize, round_y, 1,
      [](const sr::ImagePairView& pair, const sr::MetricProtocol& protocol, at::Tensor& out) {
        const auto region = sr::metric_region(pair, protocol);
        at::Tensor rows = at::empty({pair.n * region.rows}, out.options());
        SR_CHECK_STATUS(sr::psnr_mse_cpu(pair, protocol, rows.mutable_data_ptr<double>(),
                                         out.mutable_data_ptr<double>()),
                        "psnr_mse");
      });
}

#ifdef SR_WITH_CUDA
at::Tensor psnr_mse_cuda(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                         int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return sr_metric_args::run_cuda("psnr_mse", 1, sr::psnr_mse_cuda_workspace, sr::launch_psnr_mse,
                                  sr, hr, data_range, crop_border, y_channel, quantize, round_y);
}
#endif

}  // namespace

TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) { m.impl("psnr_mse", &psnr_mse_cpu); }

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) { m.impl("psnr_mse", &psnr_mse_cuda); }
#endif
