// CPU ssim_mean: per-image mean SSIM of the SR protocol (ssim_mean.h), separable and fused, OpenMP.
//
// Work decomposition: one task per (image, plane, chunk of kRowsPerTask output rows). A task walks
// its input rows once (plus the 10-row halo of the window): it forms the protocol values of the
// row (scale, quantise, luma) minus a per-task shift, their three products, the horizontal 11-tap
// sums of the five quantities into a ring of the last 11 rows, and, once 11 rows are in the ring,
// the vertical sums and the SSIM of one output row. Intermediates are a few rows per thread in
// caller-owned scratch (never image-sized). About 130 flops per output value, vectorised along
// the row. Task sums are reduced per image in task order: independent of the thread count.
#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "common/metric_pixel.h"
#include "sr_kernels/ssim_mean.h"

namespace sr {
namespace {

// The hot loops are compiled twice: for the baseline ISA and for AVX2 + FMA (chosen at run time),
// since the package builds without -march flags. SR_ALWAYS_INLINE pulls the shared body into
// each entry point so that it is vectorised for that entry's ISA.
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SR_SSIM_X86 1
#define SR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SR_SSIM_X86 0
#define SR_ALWAYS_INLINE inline
#endif

constexpr int64_t kRowsPerTask = 64;
constexpr int kTaps = metric::kSsimTaps;

struct Geometry {
  MetricRegion reg;
  int64_t out_rows, out_cols, chunks, tasks;
  int64_t per_thread_floats;
};

Geometry geometry(const ImagePairView& v, const MetricProtocol& p) {
  Geometry g;
  g.reg = metric_region(v, p);
  g.out_rows = g.reg.rows - (kTaps - 1);
  g.out_cols = g.reg.cols - (kTaps - 1);
  g.chunks = g.out_rows > 0 ? (g.out_rows + kRowsPerTask - 1) / kRowsPerTask : 0;
  g.tasks = v.n * g.reg.planes * g.chunks;
  // 5 input-row arrays + a ring of 11 rows x 5 horizontal sums + 5 vertical sums; each padded
  // to a multiple of 16 floats so every array starts 64-byte aligned.
  const int64_t cols = (g.reg.cols + 15) / 16 * 16;
  const int64_t out_cols = (std::max<int64_t>(g.out_cols, 0) + 15) / 16 * 16;
  g.per_thread_floats = 5 * cols + (kTaps + 1) * 5 * out_cols;
  return g;
}

struct Taps {
  float w[kTaps];
};

SR_ALWAYS_INLINE void horizontal(const float* __restrict__ in, float* __restrict__ out, int64_t n,
                                 const Taps& t) {
  for (int64_t j = 0; j < n; ++j) {
    float s = 0.0f;
    for (int k = 0; k < kTaps; ++k) s += t.w[k] * in[j + k];
    out[j] = s;
  }
}

// out[j] = sum_k w[k] * ring_row(r - 10 + k)[j] for one moment `q`. Named restrict pointers
// (not an array of pointers) so that the compiler vectorises along j.
SR_ALWAYS_INLINE void vertical(const float* ring, int64_t r, int64_t ocols, int q, int64_t n,
                               const Taps& t, float* __restrict__ out) {
  auto row = [&](int k) { return ring + ((r - (kTaps - 1) + k) % kTaps) * 5 * ocols + q * ocols; };
  const float* __restrict__ r0 = row(0);
  const float* __restrict__ r1 = row(1);
  const float* __restrict__ r2 = row(2);
  const float* __restrict__ r3 = row(3);
  const float* __restrict__ r4 = row(4);
  const float* __restrict__ r5 = row(5);
  const float* __restrict__ r6 = row(6);
  const float* __restrict__ r7 = row(7);
  const float* __restrict__ r8 = row(8);
  const float* __restrict__ r9 = row(9);
  const float* __restrict__ r10 = row(10);
  const float* w = t.w;
  for (int64_t j = 0; j < n; ++j) {
    float s = w[0] * r0[j] + w[1] * r1[j] + w[2] * r2[j] + w[3] * r3[j] + w[4] * r4[j];
    s += w[5] * r5[j] + w[6] * r6[j] + w[7] * r7[j] + w[8] * r8[j] + w[9] * r9[j];
    out[j] = s + w[10] * r10[j];
  }
}

// One row of protocol values minus the task's shift `c`, as float.
template <typename T>
SR_ALWAYS_INLINE void load_row(const T* row, int64_t sw, int64_t sc, const ImagePairView& v,
                               const MetricProtocol& p, int64_t plane, int64_t cols, double c,
                               float* out) {
  for (int64_t j = 0; j < cols; ++j) {
    out[j] = static_cast<float>(metric::protocol_value(row + j * sw, sc, v.c, plane, p.scale,
                                                       p.quantize, p.y_channel, p.round_y) -
                                c);
  }
}

// uint8: scale 1 and quantisation the identity; channels read directly, luma from integers.
template <>
SR_ALWAYS_INLINE void load_row<uint8_t>(const uint8_t* row, int64_t sw, int64_t sc,
                                        const ImagePairView& v, const MetricProtocol& p,
                                        int64_t plane, int64_t cols, double c, float* out) {
  if (!p.y_channel) {
    const uint8_t* s = row + plane * sc;
    const float fc = static_cast<float>(c);  // an integer: exact
    if (sw == 1) {
      for (int64_t j = 0; j < cols; ++j) out[j] = static_cast<float>(s[j]) - fc;
    } else {
      for (int64_t j = 0; j < cols; ++j) out[j] = static_cast<float>(s[j * sw]) - fc;
    }
    return;
  }
  const int64_t c1 = v.c == 3 ? sc : 0;
  for (int64_t j = 0; j < cols; ++j) {
    const uint8_t* px = row + j * sw;
    const int32_t num = v.c == 3 ? 65481 * px[0] + 128553 * px[c1] + 24966 * px[2 * c1]
                                 : 219000 * static_cast<int32_t>(px[0]);
    const double y = p.round_y ? static_cast<double>(16 + (num + 127500) / 255000)
                               : 16.0 + static_cast<double>(num) / metric::kLumaDen;
    out[j] = static_cast<float>(y - c);
  }
}

template <typename T>
SR_ALWAYS_INLINE double ssim_task_body(const T* sr, const T* hr, const ImagePairView& v,
                                       const MetricProtocol& p, const Geometry& g, int64_t plane,
                                       int64_t row0, const Taps& taps, float* scratch) {
  const int64_t cols = (g.reg.cols + 15) / 16 * 16;
  const int64_t ocols = (g.out_cols + 15) / 16 * 16;
  float* x = scratch;
  float* y = x + cols;
  float* xx = y + cols;
  float* yy = xx + cols;
  float* xy = yy + cols;
  float* ring = xy + cols;                 // kTaps slots x 5 quantities x ocols
  float* vert = ring + kTaps * 5 * ocols;  // 5 x ocols
  const int64_t rows_here = std::min(kRowsPerTask, g.out_rows - row0);
  const int64_t sw = v.sr_stride[3], hw = v.hr_stride[3];
  const int64_t first = row0 + p.crop;

  auto value = [&](const T* base, const int64_t* stride, int64_t row, int64_t col) {
    return metric::protocol_value(base + row * stride[2] + (col + p.crop) * stride[3], stride[1],
                                  v.c, plane, p.scale, p.quantize, p.y_channel, p.round_y);
  };
  // The shift: this task's first pixel (any constant works; a local one keeps magnitudes small).
  const double cx = value(sr, v.sr_stride, first, 0);
  const double cy = value(hr, v.hr_stride, first, 0);

  double task_sum = 0.0;
  for (int64_t r = 0; r < rows_here + kTaps - 1; ++r) {
    const int64_t row = first + r;
    const T* sr_row = sr + row * v.sr_stride[2] + p.crop * sw;
    const T* hr_row = hr + row * v.hr_stride[2] + p.crop * hw;
    load_row(sr_row, sw, v.sr_stride[1], v, p, plane, g.reg.cols, cx, x);
    load_row(hr_row, hw, v.hr_stride[1], v, p, plane, g.reg.cols, cy, y);
    for (int64_t j = 0; j < g.reg.cols; ++j) {
      xx[j] = x[j] * x[j];
      yy[j] = y[j] * y[j];
      xy[j] = x[j] * y[j];
    }
    float* slot = ring + (r % kTaps) * 5 * ocols;
    horizontal(x, slot, g.out_cols, taps);
    horizontal(y, slot + ocols, g.out_cols, taps);
    horizontal(xx, slot + 2 * ocols, g.out_cols, taps);
    horizontal(yy, slot + 3 * ocols, g.out_cols, taps);
    horizontal(xy, slot + 4 * ocols, g.out_cols, taps);
    if (r < kTaps - 1) continue;
    // Vertical pass over the ring: rows r-10 .. r (oldest first).
    for (int q = 0; q < 5; ++q) {
      float* __restrict__ out = vert + q * ocols;
      vertical(ring, r, ocols, q, g.out_cols, taps, out);
    }
    const float fx = static_cast<float>(cx), fy = static_cast<float>(cy);
    // SSIM of the row into the first vertical array (vectorised), then a double sum in 8 lanes.
    float* __restrict__ ssim_row = vert;
    for (int64_t j = 0; j < g.out_cols; ++j) {
      ssim_row[j] = metric::ssim_from_moments(vert[j], vert[ocols + j], vert[2 * ocols + j],
                                              vert[3 * ocols + j], vert[4 * ocols + j], fx, fy);
    }
    double row_sum[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    int64_t j = 0;
    for (; j + 8 <= g.out_cols; j += 8) {
      for (int u = 0; u < 8; ++u) row_sum[u] += static_cast<double>(ssim_row[j + u]);
    }
    for (; j < g.out_cols; ++j) row_sum[0] += static_cast<double>(ssim_row[j]);
    for (int u = 1; u < 8; ++u) row_sum[0] += row_sum[u];
    task_sum += row_sum[0];
  }
  return task_sum;
}

#if SR_SSIM_X86
template <typename T>
__attribute__((target("avx2,fma"))) double ssim_task_avx2(
    const T* sr, const T* hr, const ImagePairView& v, const MetricProtocol& p, const Geometry& g,
    int64_t plane, int64_t row0, const Taps& taps, float* scratch) {
  return ssim_task_body(sr, hr, v, p, g, plane, row0, taps, scratch);
}

bool has_avx2_fma() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
#endif

template <typename T>
double ssim_task(const T* sr, const T* hr, const ImagePairView& v, const MetricProtocol& p,
                 const Geometry& g, int64_t plane, int64_t row0, const Taps& taps, float* scratch) {
#if SR_SSIM_X86
  if (has_avx2_fma()) return ssim_task_avx2(sr, hr, v, p, g, plane, row0, taps, scratch);
#endif
  return ssim_task_body(sr, hr, v, p, g, plane, row0, taps, scratch);
}

template <typename T>
void all_tasks(const ImagePairView& v, const MetricProtocol& p, const Geometry& g, int num_threads,
               double* partials, float* scratch) {
  Taps taps;
  double w[kTaps];
  metric::ssim_gaussian(w);
  for (int k = 0; k < kTaps; ++k) taps.w[k] = static_cast<float>(w[k]);
  const T* sr = static_cast<const T*>(v.sr);
  const T* hr = static_cast<const T*>(v.hr);
  const int64_t per_image = g.reg.planes * g.chunks;
#pragma omp parallel num_threads(num_threads) if (g.tasks > 1)
  {
#ifdef _OPENMP
    float* mine = scratch + static_cast<int64_t>(omp_get_thread_num()) * g.per_thread_floats;
#else
    float* mine = scratch;
#endif
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < g.tasks; ++t) {
      const int64_t n = t / per_image;
      const int64_t plane = (t % per_image) / g.chunks;
      const int64_t chunk = t % g.chunks;
      partials[t] = ssim_task(sr + n * v.sr_stride[0], hr + n * v.hr_stride[0], v, p, g, plane,
                              chunk * kRowsPerTask, taps, mine);
    }
  }
}

}  // namespace

int64_t ssim_mean_cpu_workspace_bytes(const ImagePairView& pair, const MetricProtocol& protocol,
                                      int num_threads) {
  const Geometry g = geometry(pair, protocol);
  const int64_t partial_bytes = (g.tasks * 8 + 63) / 64 * 64;
  return partial_bytes + static_cast<int64_t>(std::max(num_threads, 1)) * g.per_thread_floats * 4;
}

Status ssim_mean_cpu(const ImagePairView& pair, const MetricProtocol& protocol, int num_threads,
                     void* workspace, double* out) {
  const Geometry g = geometry(pair, protocol);
  if (pair.n < 0 || g.out_rows <= 0 || g.out_cols <= 0 || g.reg.planes <= 0) {
    return Status::kInvalidArgument;
  }
  if (pair.n == 0) return Status::kOk;
  num_threads = std::max(num_threads, 1);
  double* partials = static_cast<double*>(workspace);
  float* scratch =
      reinterpret_cast<float*>(static_cast<char*>(workspace) + (g.tasks * 8 + 63) / 64 * 64);
  switch (pair.dtype) {
    case MetricDType::kUInt8:
      all_tasks<uint8_t>(pair, protocol, g, num_threads, partials, scratch);
      break;
    case MetricDType::kFloat16:
      all_tasks<metric::Half>(pair, protocol, g, num_threads, partials, scratch);
      break;
    case MetricDType::kBFloat16:
      all_tasks<metric::BFloat16>(pair, protocol, g, num_threads, partials, scratch);
      break;
    case MetricDType::kFloat32:
      all_tasks<float>(pair, protocol, g, num_threads, partials, scratch);
      break;
    case MetricDType::kFloat64:
      all_tasks<double>(pair, protocol, g, num_threads, partials, scratch);
      break;
    default:
      return Status::kInvalidArgument;
  }
  const int64_t per_image = g.reg.planes * g.chunks;
  const double count = static_cast<double>(g.reg.planes * g.out_rows * g.out_cols);
  for (int64_t n = 0; n < pair.n; ++n) {
    double sum = 0.0;
    for (int64_t t = 0; t < per_image; ++t) sum += partials[n * per_image + t];
    out[n] = sum / count;
  }
  return Status::kOk;
}

}  // namespace sr
