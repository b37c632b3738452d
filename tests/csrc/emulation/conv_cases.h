// Exact data for the emulated convolution kernel tests (residual_block, conv_pixel_shuffle).
//
// Activations are multiples of 1/2 in [-1, 1], weights 0 or +-1/8 (10 % nonzero), biases
// multiples of 1/16: every product and every sum of the convolutions is exact in float32, so a
// kernel that accumulates in float32 and rounds once (the intermediate, the output) to fp16 or
// bf16 must agree bit for bit with the float64 reference rounded the same way. Any indexing error
// (a tap, a channel, a tile edge, the padding) shows as a mismatch, never as noise.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/conv_types.h"
#include "cuda_emulation.h"
#include "testing.h"

namespace conv_cases {

using sr::ConvDType;

// An A100-like device (sm_80: 163 KB of shared memory per block): other tiles than sm_90's.
inline sr_emu::Device sm80_device() {
  sr_emu::Device d;
  d.major = 8;
  d.smem_per_block_optin = 166912;
  d.smem_per_sm = 167936;
  d.sm_count = 108;
  return d;
}

inline const char* name(ConvDType t) { return t == ConvDType::kFloat16 ? "float16" : "bfloat16"; }

// Round to the dtype (nearest even) and back.
inline float round_to(ConvDType t, double v) {
  if (t == ConvDType::kFloat16) return __half2float(__float2half_rn(static_cast<float>(v)));
  return __bfloat162float(__float2bfloat16_rn(static_cast<float>(v)));
}

// Storage of 16-bit values, 16-byte aligned (the kernels' contract).
struct Buffer {
  std::vector<uint16_t> bits;
  explicit Buffer(size_t count) : bits(count + 8, 0xffff) {}
  void* data() {
    auto p = reinterpret_cast<uintptr_t>(bits.data());
    return bits.data() + ((16 - p % 16) % 16) / 2;
  }
  const void* data() const { return const_cast<Buffer*>(this)->data(); }
  uint16_t* at(size_t i) { return static_cast<uint16_t*>(data()) + i; }
};

inline void store(Buffer& b, size_t i, ConvDType t, double v) {
  if (t == ConvDType::kFloat16) {
    const __half h = __float2half_rn(static_cast<float>(v));
    std::memcpy(b.at(i), &h, 2);
  } else {
    const __nv_bfloat16 h = __float2bfloat16_rn(static_cast<float>(v));
    std::memcpy(b.at(i), &h, 2);
  }
}

inline float load(const Buffer& b, size_t i, ConvDType t) {
  uint16_t bits;
  std::memcpy(&bits, static_cast<const uint16_t*>(b.data()) + i, 2);
  if (t == ConvDType::kFloat16) {
    __half_raw raw;
    raw.x = bits;
    return __half2float(__half(raw));
  }
  const uint32_t shifted = static_cast<uint32_t>(bits) << 16;
  float v;
  std::memcpy(&v, &shifted, 4);
  return v;
}

inline std::vector<double> activations(size_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> half_steps(-2, 2);
  std::vector<double> v(count);
  for (double& x : v) x = 0.5 * half_steps(rng);
  return v;
}

inline std::vector<double> weights(size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> v(count);
  for (double& w : v) {
    const double p = u(rng);
    w = p < 0.05 ? -0.125 : (p < 0.10 ? 0.125 : 0.0);
  }
  return v;
}

inline std::vector<double> biases(size_t count, std::mt19937& rng) {
  std::uniform_int_distribution<int> steps(-8, 8);
  std::vector<double> v(count);
  for (double& b : v) b = steps(rng) / 16.0;
  return v;
}

// 'same' 3x3 convolution, NHWC input [n][h][w][ci], weights [co][3][3][ci]; float64.
inline std::vector<double> conv3x3(const std::vector<double>& x, int64_t n, int64_t h, int64_t w,
                                   int64_t ci, const std::vector<double>& wt,
                                   const std::vector<double>& b, int64_t co) {
  std::vector<double> out(static_cast<size_t>(n * h * w * co));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t xx = 0; xx < w; ++xx) {
        for (int64_t o = 0; o < co; ++o) {
          double sum = b[o];
          for (int64_t dy = -1; dy <= 1; ++dy) {
            for (int64_t dx = -1; dx <= 1; ++dx) {
              const int64_t sy = y + dy, sx = xx + dx;
              if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
              const double* px = &x[static_cast<size_t>(((i * h + sy) * w + sx) * ci)];
              const double* wk = &wt[static_cast<size_t>(((o * 3 + dy + 1) * 3 + dx + 1) * ci)];
              for (int64_t c = 0; c < ci; ++c) sum += px[c] * wk[c];
            }
          }
          out[static_cast<size_t>(((i * h + y) * w + xx) * co + o)] = sum;
        }
      }
    }
  }
  return out;
}

inline Buffer to_buffer(const std::vector<double>& v, ConvDType t) {
  Buffer b(v.size());
  for (size_t i = 0; i < v.size(); ++i) store(b, i, t, v[i]);
  return b;
}

// Element strides, indexed (n, c, h, w) as the kernels' arguments are, of a dense c x h x w
// image batch stored NCHW or NHWC.
inline void dense_strides(int64_t c, int64_t h, int64_t w, bool nchw, int64_t (&stride)[4]) {
  stride[0] = c * h * w;
  stride[1] = nchw ? h * w : 1;
  stride[2] = nchw ? w : w * c;
  stride[3] = nchw ? 1 : c;
}

// The verdict on exact data: not one of the `total` outputs may differ from the reference.
inline void expect_identical(int64_t differing, int64_t total, const std::string& where) {
  SR_EXPECT(differing == 0, where + ": " + std::to_string(differing) + " of " +
                                std::to_string(total) + " outputs differ");
}

// Whether the latest launch used th x tw tiles over n images of h x w: one block per tile, and
// `smem`, that tile's shared memory (two tiles may give the same number of blocks).
inline void expect_tile(int64_t n, int64_t h, int64_t w, int th, int tw, size_t smem,
                        const std::string& where) {
  const sr_emu::LaunchRecord launch = sr_emu::last_launch();
  const int64_t blocks = n * ((h + th - 1) / th) * ((w + tw - 1) / tw);
  const std::string tile = std::to_string(th) + "x" + std::to_string(tw);
  SR_EXPECT(launch.grid.x == blocks, where + ": grid of " + std::to_string(launch.grid.x) +
                                         " blocks, not one per " + tile + " tile");
  SR_EXPECT(launch.smem == smem, where + ": not the " + tile + " tile");
}

}  // namespace conv_cases
