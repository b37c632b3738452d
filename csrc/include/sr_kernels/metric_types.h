// Shared launcher types of the image-metric ops (psnr_mse, ssim_mean): a pair of images with
// explicit strides and the evaluation protocol. See sr_kernels/metrics/README.md.
#pragma once

#include <cstdint>

namespace sr {

enum class MetricDType : int {
  kUInt8 = 0,
  kFloat16 = 1,
  kBFloat16 = 2,
  kFloat32 = 3,
  kFloat64 = 4
};

// Two images of the same logical shape (N, C, H, W) and dtype; strides in elements, any layout
// (NCHW, NHWC, sliced, permuted).
struct ImagePairView {
  const void* sr;
  const void* hr;
  MetricDType dtype;
  int64_t n, c, h, w;
  int64_t sr_stride[4];
  int64_t hr_stride[4];
};

// The SR evaluation protocol. Values are taken on the 8-bit scale v = x * scale with
// scale = 255 / data_range; `crop` pixels are removed on every side; `quantize` clamps to [0, 255]
// and rounds half to even; `y_channel` converts to BT.601 studio-swing luma (C = 3, or C = 1 as
// grey); `round_y` rounds luma as MATLAB's rgb2ycbcr does on uint8 (inputs on the 8-bit grid).
struct MetricProtocol {
  double scale;
  int64_t crop;
  bool y_channel;
  bool quantize;
  bool round_y;
};

// Size of the evaluated region: planes (C, or 1 for luma) x rows x cols after the crop.
struct MetricRegion {
  int64_t planes, rows, cols;
};

inline MetricRegion metric_region(const ImagePairView& v, const MetricProtocol& p) {
  return MetricRegion{p.y_channel ? 1 : v.c, v.h - 2 * p.crop, v.w - 2 * p.crop};
}

}  // namespace sr
