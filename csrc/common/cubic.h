// MATLAB imresize(..., 'bicubic') weights and indices: written once, used by the CPU and CUDA
// paths (SR_HOST_DEVICE) and by the host code that builds the per-axis tables.
//
// For one axis of length in_len resized to out_len with scale factor `scale` (out / in, or the
// user's factor):
//   kernel   Keys cubic, a = -0.5; when scale < 1 and antialias: h(d) = scale * cubic(scale * d),
//            of width 4 / scale; otherwise cubic, width 4.
//   sample   output o (0-based) reads u = (o + 1) / scale + 0.5 * (1 - 1 / scale) (1-based).
//   taps     left + j for j < ceil(width) + 2, left = floor(u - width / 2); weight h(u - tap),
//            normalised by the sum of the row (summed left to right).
//   edges    kMirror: MATLAB's [1:n, n:-1:1] periodic indices; kClamp: replicate the border.
//   trimming tap columns that are zero for every output are dropped (MATLAB does the same).
// Every operation is a separate IEEE double operation in the order of sr_kernels/ops/_cubic.py,
// so the Python and C++ tables are bit-identical. Callers must not compile this with FMA
// contraction (the host build does not enable FMA; device code would need __dmul_rn etc.).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#ifndef SR_HOST_DEVICE
#ifdef __CUDACC__
#define SR_HOST_DEVICE __host__ __device__
#else
#define SR_HOST_DEVICE
#endif
#endif

namespace sr {

enum class ResizeEdge : int { kMirror = 0, kClamp = 1 };

// Keys cubic convolution kernel with a = -0.5 (support [-2, 2]).
SR_HOST_DEVICE inline double cubic_kernel(double x) {
  const double a = x < 0.0 ? -x : x;
  const double a2 = a * a;
  const double a3 = a2 * a;
  if (a <= 1.0) return 1.5 * a3 - 2.5 * a2 + 1.0;
  if (a <= 2.0) return -0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0;
  return 0.0;
}

SR_HOST_DEVICE inline bool resize_stretches(double scale, bool antialias) {
  return antialias && scale < 1.0;
}

SR_HOST_DEVICE inline double resize_kernel_width(double scale, bool antialias) {
  return resize_stretches(scale, antialias) ? 4.0 / scale : 4.0;
}

// Number of taps before trimming: ceil(width) + 2.
SR_HOST_DEVICE inline int64_t resize_full_taps(double scale, bool antialias) {
  return static_cast<int64_t>(std::ceil(resize_kernel_width(scale, antialias))) + 2;
}

// Maps a 0-based tap position (possibly outside [0, n)) to a valid input index.
SR_HOST_DEVICE inline int64_t resize_edge_index(int64_t tap, int64_t n, ResizeEdge edge) {
  if (edge == ResizeEdge::kClamp) return tap < 0 ? 0 : (tap >= n ? n - 1 : tap);
  const int64_t period = 2 * n;
  int64_t m = tap % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

// Untrimmed weights of output `o` (0-based) into weight[0 .. full_taps) (normalised) and the
// 0-based position of tap 0 (before the edge rule), returned.
SR_HOST_DEVICE inline int64_t resize_contribution(int64_t o, double scale, bool antialias,
                                                  int64_t full_taps, double* weight) {
  const bool stretch = resize_stretches(scale, antialias);
  const double width = resize_kernel_width(scale, antialias);
  const double u = static_cast<double>(o + 1) / scale + 0.5 * (1.0 - 1.0 / scale);
  const double left = std::floor(u - width / 2.0);
  double total = 0.0;
  for (int64_t j = 0; j < full_taps; ++j) {
    const double distance = u - (left + static_cast<double>(j));
    const double w = stretch ? scale * cubic_kernel(scale * distance) : cubic_kernel(distance);
    weight[j] = w;
    total = j == 0 ? w : total + w;
  }
  for (int64_t j = 0; j < full_taps; ++j) weight[j] = weight[j] / total;
  return static_cast<int64_t>(left) - 1;
}

// Host: the trimmed table of one axis, row-major [out_len][taps]; returns taps (>= 1).
inline int64_t build_resize_table(int64_t in_len, int64_t out_len, double scale, bool antialias,
                                  ResizeEdge edge, std::vector<int32_t>& index,
                                  std::vector<double>& weight) {
  const int64_t full = resize_full_taps(scale, antialias);
  std::vector<double> w(static_cast<size_t>(full * out_len));
  std::vector<int64_t> first(static_cast<size_t>(out_len));
  for (int64_t o = 0; o < out_len; ++o) {
    first[o] = resize_contribution(o, scale, antialias, full, &w[o * full]);
  }
  int64_t begin = full, end = 0;  // columns [begin, end) hold every nonzero weight
  for (int64_t j = 0; j < full; ++j) {
    for (int64_t o = 0; o < out_len; ++o) {
      if (w[o * full + j] != 0.0) {
        begin = j < begin ? j : begin;
        end = j + 1;
        break;
      }
    }
  }
  if (begin >= end) begin = 0, end = 1;
  const int64_t taps = end - begin;
  index.assign(static_cast<size_t>(taps * out_len), 0);
  weight.assign(static_cast<size_t>(taps * out_len), 0.0);
  for (int64_t o = 0; o < out_len; ++o) {
    for (int64_t k = 0; k < taps; ++k) {
      index[o * taps + k] =
          static_cast<int32_t>(resize_edge_index(first[o] + begin + k, in_len, edge));
      weight[o * taps + k] = w[o * full + begin + k];
    }
  }
  return taps;
}

// Host: the adjoint table (out_len -> in_len) of a table: for every input pixel, the (output,
// weight) pairs that read it, in increasing output order, padded with weight 0 at the row's last
// index (or, for a pixel that no output reads, the output nearest to it): padding stays local,
// so the kernels' column spans and consecutive-tap runs are those of the real taps.
// Used for the backward pass (grad_in = transposed resize of grad_out). Returns its taps.
inline int64_t transpose_resize_table(int64_t in_len, int64_t out_len, int64_t taps,
                                      const std::vector<int32_t>& index,
                                      const std::vector<double>& weight,
                                      std::vector<int32_t>& t_index,
                                      std::vector<double>& t_weight) {
  std::vector<int64_t> count(static_cast<size_t>(in_len), 0);
  for (int64_t e = 0; e < out_len * taps; ++e) {
    if (weight[e] != 0.0) ++count[index[e]];
  }
  int64_t t_taps = 1;
  for (int64_t i = 0; i < in_len; ++i) t_taps = count[i] > t_taps ? count[i] : t_taps;
  t_index.assign(static_cast<size_t>(in_len * t_taps), 0);
  t_weight.assign(static_cast<size_t>(in_len * t_taps), 0.0);
  std::fill(count.begin(), count.end(), 0);
  for (int64_t o = 0; o < out_len; ++o) {
    for (int64_t k = 0; k < taps; ++k) {
      const double w = weight[o * taps + k];
      if (w == 0.0) continue;
      const int64_t i = index[o * taps + k];
      t_index[i * t_taps + count[i]] = static_cast<int32_t>(o);
      t_weight[i * t_taps + count[i]] = w;
      ++count[i];
    }
  }
  for (int64_t i = 0; i < in_len; ++i) {
    const int64_t nearest = out_len > 0 ? (i * out_len) / in_len : 0;
    const int32_t pad =
        count[i] > 0 ? t_index[i * t_taps + count[i] - 1] : static_cast<int32_t>(nearest);
    for (int64_t k = count[i]; k < t_taps; ++k) t_index[i * t_taps + k] = pad;
  }
  return t_taps;
}

}  // namespace sr
