// Host functions for psnr_mse and psnr (the same kernels, PSNR in dB written by the last step):
// checks -> device guard -> numel()==0 -> allocate -> launch -> check
// (the steps are sr_metric_args::run). Returns one float64 per image on the input's device;
// inputs keep their layout (no copies).
#include "sr_kernels/psnr_mse.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "checks.h"
#include "metric_args.h"

namespace {

// Both ops on the CPU: `kernel` is sr::psnr_mse_cpu or sr::psnr_cpu.
template <typename Kernel>
at::Tensor metric_cpu(const char* op, Kernel kernel, const at::Tensor& sr, const at::Tensor& hr,
                      double data_range, int64_t crop_border, bool y_channel, bool quantize,
                      bool round_y) {
  return sr_metric_args::run<sr_metric_args::NoDeviceGuard>(
      sr, hr, data_range, crop_border, y_channel, quantize, round_y, 1,
      [&](const sr::ImagePairView& pair, const sr::MetricProtocol& protocol, at::Tensor& out) {
        const auto region = sr::metric_region(pair, protocol);
        at::Tensor rows = at::empty({pair.n * region.rows}, out.options());
        SR_CHECK_STATUS(
            kernel(pair, protocol, rows.mutable_data_ptr<double>(), out.mutable_data_ptr<double>()),
            op);
      });
}

at::Tensor psnr_mse_cpu(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                        int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return metric_cpu("psnr_mse", sr::psnr_mse_cpu, sr, hr, data_range, crop_border, y_channel,
                    quantize, round_y);
}

at::Tensor psnr_cpu(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                    int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return metric_cpu("psnr", sr::psnr_cpu, sr, hr, data_range, crop_border, y_channel, quantize,
                    round_y);
}

#ifdef SR_WITH_CUDA
at::Tensor psnr_mse_cuda(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                         int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return sr_metric_args::run_cuda("psnr_mse", 1, sr::psnr_mse_cuda_workspace, sr::launch_psnr_mse,
                                  sr, hr, data_range, crop_border, y_channel, quantize, round_y);
}

at::Tensor psnr_cuda(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                     int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return sr_metric_args::run_cuda("psnr", 1, sr::psnr_mse_cuda_workspace, sr::launch_psnr, sr, hr,
                                  data_range, crop_border, y_channel, quantize, round_y);
}
#endif

}  // namespace

TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) {
  m.impl("psnr_mse", &psnr_mse_cpu);
  m.impl("psnr", &psnr_cpu);
}

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) {
  m.impl("psnr_mse", &psnr_mse_cuda);
  m.impl("psnr", &psnr_cuda);
}
#endif
