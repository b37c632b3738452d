// Per-pixel maths of the SR evaluation protocol, shared by the CPU and CUDA metric kernels:
// scaling to the 8-bit grid, quantisation, BT.601 studio-swing luma (MATLAB rgb2ycbcr), storage
// decoding (uint8, fp16, bf16, fp32, fp64) and the SSIM constants. Torch-free, host + device.
//
// All values are on the 8-bit scale: v = x * (255 / data_range). Quantisation clamps to [0, 255]
// and rounds half to even (torch.round / numpy.round, as EDSR-PyTorch and BasicSR do); NaN stays
// NaN. Luma uses the integer numerators 65481, 128553, 24966 over 255000 (= 65.481/255 ...), so
// on 8-bit values the numerator is an exact integer in double and MATLAB's rounded Y (half away
// from zero; Y > 0) is exact: Y = 16 + floor((num + 127500) / 255000).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#ifndef SR_HOST_DEVICE
#if defined(__CUDACC__)
#define SR_HOST_DEVICE __host__ __device__
#else
#define SR_HOST_DEVICE
#endif
#endif

// Forced inlining in device code: an outlined call costs stack traffic in the per-pixel loops.
#if defined(__CUDACC__)
#define SR_METRIC_INLINE __forceinline__
#else
#define SR_METRIC_INLINE inline
#endif

namespace sr {
namespace metric {

constexpr double kLumaR = 65481.0;
constexpr double kLumaG = 128553.0;
constexpr double kLumaB = 24966.0;
constexpr double kLumaDen = 255000.0;
constexpr double kLumaHalf = 127500.0;

// SSIM (Wang et al.) on the 8-bit scale: C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2.
constexpr double kSsimC1 = 6.5025;
constexpr double kSsimC2 = 58.5225;
constexpr int kSsimTaps = 11;  // Gaussian window 11 x 11, sigma 1.5
constexpr int kSsimRadius = 5;
constexpr double kSsimSigma = 1.5;

// PSNR in dB of a mean squared error on the 8-bit scale, 10 log10(255^2 / mse), with the
// division first as the float64 reference computes it: +inf for mse = 0 (identical images),
// exactly 0 for mse = 255^2, NaN for NaN.
SR_HOST_DEVICE SR_METRIC_INLINE double psnr_db(double mse) { return 10.0 * log10(65025.0 / mse); }

// Storage tags for the two 16-bit float formats (raw bits; decoded below without CUDA headers).
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

SR_HOST_DEVICE SR_METRIC_INLINE float float_from_bits(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
#endif
}

SR_HOST_DEVICE SR_METRIC_INLINE double to_double(uint8_t v) { return static_cast<double>(v); }
SR_HOST_DEVICE SR_METRIC_INLINE double to_double(float v) { return static_cast<double>(v); }
SR_HOST_DEVICE SR_METRIC_INLINE double to_double(double v) { return v; }
SR_HOST_DEVICE SR_METRIC_INLINE double to_double(BFloat16 v) {
  return static_cast<double>(float_from_bits(static_cast<uint32_t>(v.bits) << 16));
}
SR_HOST_DEVICE SR_METRIC_INLINE double to_double(Half v) {
  const uint32_t sign = static_cast<uint32_t>(v.bits & 0x8000u) << 16;
  const uint32_t exponent = (v.bits >> 10) & 0x1fu;
  const uint32_t mantissa = v.bits & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in double
    const double magnitude = static_cast<double>(mantissa) * 5.9604644775390625e-08;
    return sign ? -magnitude : magnitude;
  }
  const uint32_t bits = exponent == 0x1fu ? (sign | 0x7f800000u | (mantissa << 13))
                                          : (sign | ((exponent + 112u) << 23) | (mantissa << 13));
  return static_cast<double>(float_from_bits(bits));
}

// Clamp to [0, 255] and round half to even; NaN propagates.
SR_HOST_DEVICE SR_METRIC_INLINE double quantize8(double v) {
  if (v != v) return v;
  v = v < 0.0 ? 0.0 : (v > 255.0 ? 255.0 : v);
  return rint(v);
}

// BT.601 studio-swing luma of 8-bit-scale RGB, MATLAB rgb2ycbcr; `round_y` rounds as MATLAB does
// for uint8 images (the inputs are then integers, so every step is exact).
SR_HOST_DEVICE SR_METRIC_INLINE double luma(double r, double g, double b, bool round_y) {
  const double num = kLumaR * r + kLumaG * g + kLumaB * b;
#if defined(__CUDA_ARCH__)
  // Double division is an outlined subroutine on the GPU (stack traffic in the pixel loops): use
  // the reciprocal (within 1 ulp of the quotient) and correct the rounded case to the exact floor
  // (t and k * 255000 are exact integers in double when the inputs are 8-bit values).
  constexpr double kInverse = 1.0 / kLumaDen;
  if (!round_y) return 16.0 + num * kInverse;
  const double t = num + kLumaHalf;
  double k = floor(t * kInverse);
  if ((k + 1.0) * kLumaDen <= t) {
    k += 1.0;
  } else if (k * kLumaDen > t) {
    k -= 1.0;
  }
  return 16.0 + k;
#else
  return 16.0 + (round_y ? floor((num + kLumaHalf) / kLumaDen) : num / kLumaDen);
#endif
}

// One protocol value: plane `q` (a channel, or 0 for luma) of the pixel at `p` (which points at
// channel 0; `channel_stride` apart), scaled, optionally quantised, optionally converted to luma.
// A single-channel image in luma mode is a grey image: R = G = B.
template <typename T>
SR_HOST_DEVICE SR_METRIC_INLINE double protocol_value(const T* p, int64_t channel_stride,
                                                      int64_t channels, int64_t q, double scale,
                                                      bool quantize, bool y_channel, bool round_y) {
  if (!y_channel) {
    const double v = to_double(p[q * channel_stride]) * scale;
    return quantize ? quantize8(v) : v;
  }
  double rgb[3];
  for (int k = 0; k < 3; ++k) {
    const double v = to_double(p[(channels == 3 ? k : 0) * channel_stride]) * scale;
    rgb[k] = quantize ? quantize8(v) : v;
  }
  return luma(rgb[0], rgb[1], rgb[2], round_y);
}

// Normalised 1-D Gaussian taps of the SSIM window (double; the 2-D window is their outer product).
inline void ssim_gaussian(double* taps) {
  double sum = 0.0;
  for (int k = 0; k < kSsimTaps; ++k) {
    const double d = static_cast<double>(k - kSsimRadius);
    taps[k] = std::exp(-(d * d) / (2.0 * kSsimSigma * kSsimSigma));
    sum += taps[k];
  }
  for (int k = 0; k < kSsimTaps; ++k) taps[k] /= sum;
}

// SSIM of one window from its (shifted) first and second moments: mu_x = mx + cx etc.
// Variances are shift-invariant: sxx = E[(x-c)^2] - (E[x-c])^2, which keeps fp32 accurate in
// flat regions where E[x^2] and mu^2 would cancel.
SR_HOST_DEVICE SR_METRIC_INLINE float ssim_from_moments(float mx, float my, float mxx, float myy,
                                                        float mxy, float cx, float cy) {
  const float sxx = mxx - mx * mx;
  const float syy = myy - my * my;
  const float sxy = mxy - mx * my;
  const float ux = mx + cx;
  const float uy = my + cy;
  const float c1 = static_cast<float>(kSsimC1);
  const float c2 = static_cast<float>(kSsimC2);
  return ((2.0f * ux * uy + c1) * (2.0f * sxy + c2)) /
         ((ux * ux + uy * uy + c1) * (sxx + syy + c2));
}

}  // namespace metric
}  // namespace sr
