// Image pairs and protocols for the emulated metric kernel tests (psnr_mse, ssim_mean): every
// dtype, NCHW / NHWC / a cropped view / a misaligned start, RGB and luma, odd sizes.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cuda_emulation.h"
#include "sr_kernels/metric_types.h"

namespace metric_cases {

using sr::MetricDType;

inline size_t element_size(MetricDType t) {
  switch (t) {
    case MetricDType::kUInt8:
      return 1;
    case MetricDType::kFloat16:
    case MetricDType::kBFloat16:
      return 2;
    case MetricDType::kFloat32:
      return 4;
    case MetricDType::kFloat64:
      return 8;
  }
  return 0;
}

inline const char* name(MetricDType t) {
  switch (t) {
    case MetricDType::kUInt8:
      return "uint8";
    case MetricDType::kFloat16:
      return "float16";
    case MetricDType::kBFloat16:
      return "bfloat16";
    case MetricDType::kFloat32:
      return "float32";
    case MetricDType::kFloat64:
      return "float64";
  }
  return "?";
}

enum class Layout { kNchw, kNhwc, kCroppedView, kMisaligned };

inline const char* name(Layout l) {
  switch (l) {
    case Layout::kNchw:
      return "nchw";
    case Layout::kNhwc:
      return "nhwc";
    case Layout::kCroppedView:
      return "cropped view";
    case Layout::kMisaligned:
      return "misaligned start";
  }
  return "?";
}

// Storage of one image batch and a view of it with the requested layout.
struct Images {
  std::vector<unsigned char> bytes;
  const void* data = nullptr;
  int64_t stride[4] = {0, 0, 0, 0};
};

// One value, rounded to the dtype (uint8: clamped to 0..255).
inline void store(unsigned char* p, MetricDType t, double v) {
  switch (t) {
    case MetricDType::kUInt8: {
      const double c = v < 0 ? 0 : (v > 255 ? 255 : v);
      *p = static_cast<unsigned char>(std::lround(c));
      break;
    }
    case MetricDType::kFloat16: {
      const __half h = __float2half_rn(static_cast<float>(v));
      std::memcpy(p, &h, 2);
      break;
    }
    case MetricDType::kBFloat16: {
      const __nv_bfloat16 h = __float2bfloat16_rn(static_cast<float>(v));
      std::memcpy(p, &h, 2);
      break;
    }
    case MetricDType::kFloat32: {
      const float f = static_cast<float>(v);
      std::memcpy(p, &f, 4);
      break;
    }
    case MetricDType::kFloat64:
      std::memcpy(p, &v, 8);
      break;
  }
}

// An image batch (N, C, H, W) in `layout` holding `values` (in logical NCHW order).
inline Images make_images(MetricDType t, Layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                          const std::vector<double>& values) {
  Images im;
  const size_t es = element_size(t);
  // Storage dims (outer image for the cropped view, one extra element for the misaligned one).
  const int64_t sh = layout == Layout::kCroppedView ? h + 3 : h;
  const int64_t sw = layout == Layout::kCroppedView ? w + 5 : w;
  const int64_t offset = layout == Layout::kCroppedView ? 0 : (layout == Layout::kMisaligned);
  const int64_t total = n * c * sh * sw + offset;
  im.bytes.assign(static_cast<size_t>(total) * es + 16, 0);
  const bool nhwc = layout == Layout::kNhwc;
  int64_t s[4] = {c * sh * sw, sh * sw, sw, 1};
  if (nhwc) s[1] = 1, s[2] = sw * c, s[3] = c;
  int64_t base = offset;
  if (layout == Layout::kCroppedView) base = 2 * s[2] + 3;  // start inside the outer image
  for (int64_t i = 0, k = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t x = 0; x < w; ++x, ++k) {
          const int64_t at = base + i * s[0] + ch * s[1] + y * s[2] + x * s[3];
          store(&im.bytes[static_cast<size_t>(at) * es], t, values[static_cast<size_t>(k)]);
        }
      }
    }
  }
  im.data = &im.bytes[static_cast<size_t>(base) * es];
  for (int d = 0; d < 4; ++d) im.stride[d] = s[d];
  return im;
}

struct Pair {
  Images sr, hr;
  sr::ImagePairView view;
};

// hr random, sr = hr + noise: errors small but never all zero. Floats on the data range [0, 1]
// (a few values outside, for the clamp), uint8 on 0..255.
inline Pair make_pair(MetricDType t, Layout layout, int64_t n, int64_t c, int64_t h, int64_t w,
                      std::mt19937& rng) {
  const bool u8 = t == MetricDType::kUInt8;
  std::uniform_real_distribution<double> pixel(u8 ? 0.0 : -0.02, u8 ? 255.0 : 1.02);
  std::normal_distribution<double> noise(0.0, u8 ? 6.0 : 0.03);
  const size_t count = static_cast<size_t>(n * c * h * w);
  std::vector<double> hr(count), sr(count);
  for (size_t i = 0; i < count; ++i) {
    hr[i] = pixel(rng);
    sr[i] = hr[i] + noise(rng);
  }
  Pair p;
  p.sr = make_images(t, layout, n, c, h, w, sr);
  p.hr = make_images(t, layout, n, c, h, w, hr);
  p.view.sr = p.sr.data;
  p.view.hr = p.hr.data;
  p.view.dtype = t;
  p.view.n = n, p.view.c = c, p.view.h = h, p.view.w = w;
  for (int d = 0; d < 4; ++d) {
    p.view.sr_stride[d] = p.sr.stride[d];
    p.view.hr_stride[d] = p.hr.stride[d];
  }
  return p;
}

struct Protocol {
  std::string label;
  sr::MetricProtocol protocol;  // scale is set per dtype by protocol_for
};

inline std::vector<Protocol> protocols() {
  return {
      {"rgb, no crop", {0.0, 0, false, false, false}},
      {"rgb, crop 2, quantised", {0.0, 2, false, true, false}},
      {"y, crop 4, quantised", {0.0, 4, true, true, false}},
      {"y rounded as rgb2ycbcr, crop 3", {0.0, 3, true, true, true}},
  };
}

inline sr::MetricProtocol protocol_for(const Protocol& p, MetricDType t) {
  sr::MetricProtocol q = p.protocol;
  q.scale = t == MetricDType::kUInt8 ? 1.0 : 255.0;  // data_range 255 for uint8, else 1
  if (t == MetricDType::kUInt8) q.quantize = false;  // already on the 8-bit grid
  return q;
}

struct Shape {
  int64_t n, c, h, w;
};

// Calls check(pair, protocol, where, shape) for every dtype, layout, shape and protocol.
template <typename Check>
void for_each_case(const std::vector<Shape>& shapes, std::mt19937& rng, Check check) {
  for (const MetricDType t : {MetricDType::kUInt8, MetricDType::kFloat16, MetricDType::kBFloat16,
                              MetricDType::kFloat32, MetricDType::kFloat64}) {
    for (const Layout layout :
         {Layout::kNchw, Layout::kNhwc, Layout::kCroppedView, Layout::kMisaligned}) {
      for (const Shape& s : shapes) {
        const Pair pair = make_pair(t, layout, s.n, s.c, s.h, s.w, rng);
        for (const Protocol& p : protocols()) {
          const std::string where = std::string(name(t)) + " " + name(layout) + " " +
                                    std::to_string(s.c) + "x" + std::to_string(s.h) + "x" +
                                    std::to_string(s.w) + " " + p.label;
          check(pair, protocol_for(p, t), where, s);
        }
      }
    }
  }
}

// |a - b| <= 1e-9 |b|: the kernels differ only in summation order of float64 partial sums.
inline bool close(double a, double b) {
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= 1e-9 * std::fabs(b);
}

}  // namespace metric_cases
