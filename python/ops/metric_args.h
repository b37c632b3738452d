// What the image-metric host functions (ops/psnr_mse.cpp, ops/ssim_mean.cpp) share: checks
// that name the offending argument, the at::Tensor -> sr::ImagePairView conversion, and the
// host-function steps around the kernel call, which differ between the two metrics only in the
// smallest accepted image, the workspace and the launcher.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <cmath>

#include "checks.h"
#include "sr_kernels/metric_types.h"

#ifdef SR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sr_metric_args {

inline sr::MetricDType metric_dtype(const at::Tensor& x) {
  switch (x.scalar_type()) {
    case at::kByte:
      return sr::MetricDType::kUInt8;
    case at::kHalf:
      return sr::MetricDType::kFloat16;
    case at::kBFloat16:
      return sr::MetricDType::kBFloat16;
    case at::kFloat:
      return sr::MetricDType::kFloat32;
    default:
      return sr::MetricDType::kFloat64;
  }
}

// Validates the pair and the protocol; `min_size` is the smallest cropped height/width the metric
// accepts (1 for PSNR, 11 for SSIM's valid window).
inline void check(const at::Tensor& sr, const at::Tensor& hr, double data_range,
                  int64_t crop_border, bool y_channel, bool quantize, bool round_y,
                  int64_t min_size) {
  SR_CHECK_DIM(sr, "sr", 4);
  SR_CHECK_DIM(hr, "hr", 4);
  SR_CHECK_ARG(sr.sizes() == hr.sizes(), "hr", "expected the shape of sr ", sr.sizes(), ", got ",
               hr.sizes());
  const auto st = sr.scalar_type();
  SR_CHECK_TYPE(st == at::kByte || st == at::kHalf || st == at::kBFloat16 || st == at::kFloat ||
                    st == at::kDouble,
                "sr", "expected uint8, float16, bfloat16, float32 or float64, got ", st);
  SR_CHECK_TYPE(hr.scalar_type() == st, "hr", "expected the dtype of sr (", st, "), got ",
                hr.scalar_type());
  SR_CHECK_ARG(sr.device() == hr.device(), "hr", "expected the device of sr (", sr.device(),
               "), got ", hr.device());
  SR_CHECK_ARG(std::isfinite(data_range) && data_range > 0, "data_range",
               "expected a positive finite number, got ", data_range);
  SR_CHECK_ARG(st != at::kByte || data_range == 255.0, "data_range",
               "uint8 images are on [0, 255]: expected 255, got ", data_range);
  SR_CHECK_ARG(crop_border >= 0, "crop_border", "expected >= 0, got ", crop_border);
  SR_CHECK_ARG(sr.size(2) - 2 * crop_border >= min_size && sr.size(3) - 2 * crop_border >= min_size,
               "crop_border", "cropping ", crop_border, " pixels from a ", sr.size(2), "x",
               sr.size(3), " image leaves less than ", min_size, "x", min_size);
  SR_CHECK_ARG(!y_channel || sr.size(1) == 3 || sr.size(1) == 1, "y_channel",
               "needs 3 (RGB) or 1 (grey) channels, got ", sr.size(1));
  SR_CHECK_ARG(sr.size(1) > 0, "sr", "expected at least one channel");
  SR_CHECK_ARG(!round_y || y_channel, "round_y", "needs y_channel=True");
  SR_CHECK_ARG(!round_y || quantize || st == at::kByte, "round_y",
               "needs 8-bit values: uint8 images or quantize=True");
}

inline sr::ImagePairView view(const at::Tensor& sr, const at::Tensor& hr) {
  sr::ImagePairView v;
  v.sr = sr.const_data_ptr();
  v.hr = hr.const_data_ptr();
  v.dtype = metric_dtype(sr);
  v.n = sr.size(0);
  v.c = sr.size(1);
  v.h = sr.size(2);
  v.w = sr.size(3);
  for (int d = 0; d < 4; ++d) {
    v.sr_stride[d] = sr.stride(d);
    v.hr_stride[d] = hr.stride(d);
  }
  return v;
}

inline sr::MetricProtocol protocol(double data_range, int64_t crop_border, bool y_channel,
                                   bool quantize, bool round_y) {
  return sr::MetricProtocol{255.0 / data_range, crop_border, y_channel, quantize, round_y};
}

// CPU host functions need no device guard.
struct NoDeviceGuard {
  explicit NoDeviceGuard(const c10::Device& /*device*/) {}
};

// A host function: checks -> device guard -> empty batch -> `launch(pair, protocol, out)`, which
// allocates the kernel's workspace, runs the kernel into `out` (one float64 per image) and checks
// its status.
template <typename DeviceGuard, typename Launch>
at::Tensor run(const at::Tensor& sr, const at::Tensor& hr, double data_range, int64_t crop_border,
               bool y_channel, bool quantize, bool round_y, int64_t min_size,
               const Launch& launch) {
  check(sr, hr, data_range, crop_border, y_channel, quantize, round_y, min_size);
  const DeviceGuard guard(sr.device());
  at::Tensor out = at::empty({sr.size(0)}, sr.options().dtype(at::kDouble));
  if (sr.size(0) == 0) return out;
  launch(view(sr, hr), protocol(data_range, crop_border, y_channel, quantize, round_y), out);
  return out;
}

#ifdef SR_WITH_CUDA
// The CUDA host function of a metric: `workspace_size(pair, protocol)` float64 values of
// workspace, then `launch(pair, protocol, workspace, out, stream)` on the current stream.
template <typename WorkspaceSize, typename Launch>
at::Tensor run_cuda(const char* op, int64_t min_size, WorkspaceSize workspace_size, Launch launch,
                    const at::Tensor& sr, const at::Tensor& hr, double data_range,
                    int64_t crop_border, bool y_channel, bool quantize, bool round_y) {
  return run<c10::cuda::CUDAGuard>(
      sr, hr, data_range, crop_border, y_channel, quantize, round_y, min_size,
      [&](const sr::ImagePairView& pair, const sr::MetricProtocol& protocol, at::Tensor& out) {
        at::Tensor workspace = at::empty({workspace_size(pair, protocol)}, out.options());
        SR_CHECK_STATUS(
            launch(pair, protocol, workspace.mutable_data_ptr<double>(),
                   out.mutable_data_ptr<double>(), c10::cuda::getCurrentCUDAStream().stream()),
            op);
      });
}
#endif

}  // namespace sr_metric_args
