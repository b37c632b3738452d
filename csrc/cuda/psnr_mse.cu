// CUDA psnr_mse: per-image mean squared error of the SR protocol (psnr_mse.h), one fused pass.
//
// Work decomposition: block b of image n owns `rows_per_block` consecutive cropped rows; its 256
// threads stride along each row (coalesced loads; for NHWC a warp reads 32 consecutive pixels'
// channels). Per pixel, each thread loads the C samples of both images once, applies the protocol
// (scale, clamp + round, BT.601 luma, MATLAB luma rounding) in registers and adds the squared
// error to a double accumulator. Each block writes one partial sum; a second launch adds each
// image's partials in a fixed order (deterministic, no atomics).
// Bytes per pixel: C * element_size per image, read once; nothing is written but N * blocks
// doubles. Roofline: HBM bandwidth (2 * numel * element_size / bandwidth). uint8 inputs use
// integer arithmetic (exact); other dtypes are decoded to double (quantisation of float inputs
// must round exactly as the float64 reference, so the scale multiply is done in double).
// Alignment: none assumed (any strides, any crop offset).
// Measured (H200, 2026-11-29, 16 x 3 x 1080 x 1920 pairs, metrics.psnr end to end): float32 207 us
// (NCHW) / 214 us (NHWC), 91-94 % of the measured copy bandwidth; uint8 101 / 87 us, 48-56 %: a
// quarter of the bytes, so fixed costs (the second launch, the elementwise ops that turn the MSE
// into dB, Python time per call where it outlasts the L2 flush between timed calls) weigh four
// times more. Not yet separated: bench/profile_kernels.py times the kernels alone.
// Changed since (2026-11-30), not yet measured on a GPU:
//   * launch_psnr writes the dB values in the finaliser: metrics.psnr runs 2 launches, not 6;
//   * uint8 without luma keeps more loads in flight per thread: before, one plane's 32 bytes
//     (~32 KB per SM at 4 blocks of 64 registers, about what Little's law asks at the copy
//     rate, hence the suspect); now a thread's (plane, vector) items are loaded four at a time
//     before any arithmetic (2026-12-01: a block's 2-3 items per thread and plane in one round
//     trip, where the first version's four-vector loop never ran at the benchmark's size), and
//     squares are summed four bytes per IDP4A;
//   * uint8 luma of NHWC RGB (the paper protocol on images as numpy / PIL give them) reads
//     48-byte groups of 16 pixels with 16-byte loads, not 6 byte loads per pixel (2026-12-01).
#include <cstdint>
#include <type_traits>

#include "common/metric_pixel.h"
#include "common/metric_reduce.cuh"
#include "sr_kernels/psnr_mse.h"

namespace sr {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kValuesPerBlock = 8192;  // ~32 samples per thread: enough loads in flight

struct Launch {
  MetricRegion reg;
  int64_t rows_per_block, blocks_per_image;
};

Launch plan(const ImagePairView& v, const MetricProtocol& p) {
  Launch l;
  l.reg = metric_region(v, p);
  const int64_t per_row = l.reg.cols * v.c;  // samples loaded per image row
  int64_t rows = (kValuesPerBlock + per_row - 1) / per_row;
  rows = rows < 1 ? 1 : (rows > l.reg.rows ? l.reg.rows : rows);
  l.rows_per_block = rows;
  l.blocks_per_image = (l.reg.rows + rows - 1) / rows;
  return l;
}

template <typename T>
__device__ __forceinline__ double pixel_sse(const T* a, const T* b, int64_t ca, int64_t cb,
                                            int64_t channels, int64_t planes,
                                            const MetricProtocol& p) {
  double sum = 0.0;
  for (int64_t q = 0; q < planes; ++q) {
    const double d =
        metric::protocol_value(a, ca, channels, q, p.scale, p.quantize, p.y_channel, p.round_y) -
        metric::protocol_value(b, cb, channels, q, p.scale, p.quantize, p.y_channel, p.round_y);
    sum += d * d;
  }
  return sum;
}

// 255000 x (luma - 16) of 8-bit RGB: integer until the last step.
__device__ __forceinline__ int32_t rgb_luma_numerator(int32_t r, int32_t g, int32_t b) {
  return 65481 * r + 128553 * g + 24966 * b;
}

__device__ __forceinline__ int32_t luma_numerator(const uint8_t* px, int64_t cs, int64_t channels) {
  if (channels == 3) return rgb_luma_numerator(px[0], px[cs], px[2 * cs]);
  return 219000 * static_cast<int32_t>(px[0]);
}

// The squared luma difference of two pixels from their numerators (MATLAB's luma rounding with
// round_y).
__device__ __forceinline__ double luma_sse(int32_t na, int32_t nb, bool round_y) {
  if (round_y) {
    const int32_t d = (na + 127500) / 255000 - (nb + 127500) / 255000;
    return static_cast<double>(d * d);
  }
  const double d = static_cast<double>(na - nb) * (1.0 / metric::kLumaDen);
  return d * d;
}

// uint8: scale is 1 and quantisation the identity; everything is integer until the last step.
template <>
__device__ __forceinline__ double pixel_sse<uint8_t>(const uint8_t* a, const uint8_t* b, int64_t ca,
                                                     int64_t cb, int64_t channels, int64_t planes,
                                                     const MetricProtocol& p) {
  if (!p.y_channel) {
    int64_t sum = 0;  // int32 would overflow past 33025 channels
    for (int64_t q = 0; q < planes; ++q) {
      const int32_t d = static_cast<int32_t>(a[q * ca]) - static_cast<int32_t>(b[q * cb]);
      sum += d * d;
    }
    return static_cast<double>(sum);
  }
  return luma_sse(luma_numerator(a, ca, channels), luma_numerator(b, cb, channels), p.round_y);
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    psnr_mse_kernel(ImagePairView v, MetricProtocol p, Launch l, double* __restrict__ partials) {
  // 32-bit division: the launcher guarantees the block count fits (64-bit division is a call).
  const uint32_t per_image = static_cast<uint32_t>(l.blocks_per_image);
  const int64_t n = blockIdx.x / per_image;
  const int64_t block = blockIdx.x % per_image;
  const int64_t row_begin = block * l.rows_per_block;
  const int64_t row_end =
      row_begin + l.rows_per_block < l.reg.rows ? row_begin + l.rows_per_block : l.reg.rows;
  const T* sr = static_cast<const T*>(v.sr) + n * v.sr_stride[0] + p.crop * v.sr_stride[3];
  const T* hr = static_cast<const T*>(v.hr) + n * v.hr_stride[0] + p.crop * v.hr_stride[3];
  double acc = 0.0;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const T* a = sr + (row + p.crop) * v.sr_stride[2];
    const T* b = hr + (row + p.crop) * v.hr_stride[2];
#pragma unroll 2
    for (int64_t j = threadIdx.x; j < l.reg.cols; j += kThreads) {
      acc += pixel_sse(a + j * v.sr_stride[3], b + j * v.hr_stride[3], v.sr_stride[1],
                       v.hr_stride[1], v.c, l.reg.planes, p);
    }
  }
  const double total = metric::block_sum(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// ---------------------------------------------------------------------------------------------
// Vectorised path: rows whose samples are contiguous (NCHW planes, the whole C*W span of an
// NHWC row when every channel is evaluated, or, for uint8 luma, an NHWC RGB row's pixels in
// groups of 16: 48 bytes) are read with 16-byte loads, which is what keeps enough bytes in
// flight to approach the copy bandwidth (1-byte loads of uint8 reached ~30% of it on an H100).
// Each row is split into a scalar head (up to 16-byte alignment, whole pixels for RGB), full
// vectors and a scalar tail; the host takes this path only when every row of both images has
// the same alignment.

struct VecLaunch {
  MetricRegion reg;
  int64_t start;       // first element of the evaluated span within a row (crop, or crop * C)
  int64_t span;        // elements per row in the span
  int64_t planes;      // planes loaded per vector (luma: 0; otherwise C, or 1 for an NHWC span)
  int64_t head, nvec;  // scalar elements before the first aligned vector; vectors per row
  int64_t rows_per_block, blocks_per_image;
  // uint8 luma of interleaved RGB (NHWC): a "vector" is 48 bytes, 16 whole pixels, starting
  // 16-byte aligned on a pixel boundary; head and tail are whole pixels.
  bool rgb_pixels = false;
};

template <typename T>
struct alignas(16) Pack {
  T v[16 / sizeof(T)];
};

template <typename T>
__device__ __forceinline__ Pack<T> load16(const T* p) {
  return *reinterpret_cast<const Pack<T>*>(p);
}

__device__ __forceinline__ uint4 load_words(const uint8_t* p) {
  return *reinterpret_cast<const uint4*>(p);
}

// Sum over the 16 byte pairs of (x - y)^2, exact in 32 bits: per word xx + yy - 2xy by IDP4A
// (four byte products per instruction). Each dot product is at most 4 * 255^2, and
// xx + yy >= 2xy byte by byte, so nothing wraps; the result is at most 16 * 255^2.
__device__ __forceinline__ uint32_t squared_difference16(const uint4& x, const uint4& y) {
  const uint32_t xs[4] = {x.x, x.y, x.z, x.w};
  const uint32_t ys[4] = {y.x, y.y, y.z, y.w};
  uint32_t xx = 0, yy = 0, xy = 0;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    xx = __dp4a(xs[i], xs[i], xx);
    yy = __dp4a(ys[i], ys[i], yy);
    xy = __dp4a(xs[i], ys[i], xy);
  }
  return xx + yy - 2u * xy;
}

template <typename T>
__device__ __forceinline__ double sample(T x, const MetricProtocol& p) {
  const double v = metric::to_double(x) * p.scale;
  return p.quantize ? metric::quantize8(v) : v;
}

// Squared errors of one vector position (16 bytes of each plane) of sr (a) and hr (b).
template <typename T>
__device__ __forceinline__ double vector_sse(const T* a, const T* b, int64_t ca, int64_t cb,
                                             int64_t channels, int64_t planes,
                                             const MetricProtocol& p) {
  constexpr int N = 16 / sizeof(T);
  double sum = 0.0;
  if (p.y_channel) {
    const int64_t la = channels == 3 ? ca : 0, lb = channels == 3 ? cb : 0;
    const Pack<T> ar = load16(a), ag = load16(a + la), ab = load16(a + 2 * la);
    const Pack<T> br = load16(b), bg = load16(b + lb), bb = load16(b + 2 * lb);
#pragma unroll
    for (int e = 0; e < N; ++e) {
      const double d =
          metric::luma(sample(ar.v[e], p), sample(ag.v[e], p), sample(ab.v[e], p), p.round_y) -
          metric::luma(sample(br.v[e], p), sample(bg.v[e], p), sample(bb.v[e], p), p.round_y);
      sum += d * d;
    }
    return sum;
  }
  for (int64_t q = 0; q < planes; ++q) {
    const Pack<T> x = load16(a + q * ca), y = load16(b + q * cb);
#pragma unroll
    for (int e = 0; e < N; ++e) {
      const double d = sample(x.v[e], p) - sample(y.v[e], p);
      sum += d * d;
    }
  }
  return sum;
}

template <>
__device__ __forceinline__ double vector_sse<uint8_t>(const uint8_t* a, const uint8_t* b,
                                                      int64_t ca, int64_t cb, int64_t channels,
                                                      int64_t planes, const MetricProtocol& p) {
  if (p.y_channel) {
    const int64_t la = channels == 3 ? ca : 0, lb = channels == 3 ? cb : 0;
    const Pack<uint8_t> ar = load16(a), ag = load16(a + la), ab = load16(a + 2 * la);
    const Pack<uint8_t> br = load16(b), bg = load16(b + lb), bb = load16(b + 2 * lb);
    double sum = 0.0;
#pragma unroll
    for (int e = 0; e < 16; ++e) {
      sum += luma_sse(rgb_luma_numerator(ar.v[e], ag.v[e], ab.v[e]),
                      rgb_luma_numerator(br.v[e], bg.v[e], bb.v[e]), p.round_y);
    }
    return sum;
  }
  // Without luma, uint8 vectors go through psnr_mse_vec_kernel's item loop, not here.
  uint64_t sum = 0;
  for (int64_t q = 0; q < planes; ++q)
    sum += squared_difference16(load_words(a + q * ca), load_words(b + q * cb));
  return static_cast<double>(sum);
}

// Squared luma errors of 16 interleaved RGB uint8 pixels (48 bytes of each image, 16-byte
// aligned), as pixel_sse<uint8_t> computes them one pixel at a time.
__device__ __forceinline__ double rgb16_luma_sse(const uint8_t* a, const uint8_t* b, bool round_y) {
  const Pack<uint8_t> pa[3] = {load16(a), load16(a + 16), load16(a + 32)};
  const Pack<uint8_t> pb[3] = {load16(b), load16(b + 16), load16(b + 32)};
  // Byte i of the 48 (compile-time indices once unrolled).
  const auto byte = [](const Pack<uint8_t>(&p)[3], int i) -> int32_t {
    return p[i / 16].v[i % 16];
  };
  double sum = 0.0;
#pragma unroll
  for (int k = 0; k < 16; ++k) {
    sum += luma_sse(rgb_luma_numerator(byte(pa, 3 * k), byte(pa, 3 * k + 1), byte(pa, 3 * k + 2)),
                    rgb_luma_numerator(byte(pb, 3 * k), byte(pb, 3 * k + 1), byte(pb, 3 * k + 2)),
                    round_y);
  }
  return sum;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    psnr_mse_vec_kernel(ImagePairView v, MetricProtocol p, VecLaunch l,
                        double* __restrict__ partials) {
  constexpr int N = 16 / sizeof(T);
  const uint32_t per_image = static_cast<uint32_t>(l.blocks_per_image);
  const int64_t n = blockIdx.x / per_image;
  const int64_t row_begin = (blockIdx.x % per_image) * l.rows_per_block;
  const int64_t rows =
      row_begin + l.rows_per_block < l.reg.rows ? l.rows_per_block : l.reg.rows - row_begin;
  const T* sr = static_cast<const T*>(v.sr) + n * v.sr_stride[0] +
                (row_begin + p.crop) * v.sr_stride[2] + l.start;
  const T* hr = static_cast<const T*>(v.hr) + n * v.hr_stride[0] +
                (row_begin + p.crop) * v.hr_stride[2] + l.start;
  // In an NHWC span every element is one sample: evaluate it as a 1-channel image.
  const int64_t channels = l.planes == 1 && !p.y_channel ? 1 : v.c;
  double acc = 0.0;
  const uint32_t nvec = static_cast<uint32_t>(l.nvec);
  const uint32_t vec_items = static_cast<uint32_t>(rows) * nvec;
  uint32_t it = threadIdx.x;
  if constexpr (std::is_same<T, uint8_t>::value) {
    if (!p.y_channel) {
      // Items are the block's (plane, vector) pairs, plane-major (consecutive threads read
      // consecutive vectors of one plane); a thread loads four at a time, all in flight before
      // any arithmetic, those past the last as zeros. A block holds ~8192 samples, 2-3 vectors
      // per thread per image, so this loop mostly runs once: one memory round trip per thread.
      // (Until 2026-12-01 four vectors were loaded together only where a thread had four, which
      // the 16 x 3 x 1080 x 1920 benchmark never had, and planes per vector position otherwise:
      // two or three dependent round trips per thread.)
      const uint32_t items = vec_items * static_cast<uint32_t>(l.planes);
      uint64_t sum = 0;  // items * 16 * 255^2 may pass 2^32
      for (; it < items; it += 4 * kThreads) {
        uint4 x[4], y[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const uint32_t item = it + i * kThreads;
          x[i] = y[i] = make_uint4(0u, 0u, 0u, 0u);
          if (item < items) {
            const uint32_t plane = item / vec_items;
            const uint32_t position = item - plane * vec_items;
            const int64_t row = position / nvec;
            const int64_t col = l.head + static_cast<int64_t>(position % nvec) * N;
            x[i] = load_words(sr + row * v.sr_stride[2] + plane * v.sr_stride[1] + col);
            y[i] = load_words(hr + row * v.hr_stride[2] + plane * v.hr_stride[1] + col);
          }
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) sum += squared_difference16(x[i], y[i]);
      }
      acc = static_cast<double>(sum);  // it >= vec_items now: the loop below has nothing left
    }
    if (l.rgb_pixels) {
      for (; it < vec_items; it += kThreads) {
        const int64_t row = it / nvec;
        const int64_t col = l.head + static_cast<int64_t>(it % nvec) * 48;
        acc += rgb16_luma_sse(sr + row * v.sr_stride[2] + col, hr + row * v.hr_stride[2] + col,
                              p.round_y);
      }
    }
  }
  for (; it < vec_items; it += kThreads) {
    const int64_t row = it / nvec;
    const int64_t col = l.head + static_cast<int64_t>(it % nvec) * N;
    acc += vector_sse(sr + row * v.sr_stride[2] + col, hr + row * v.hr_stride[2] + col,
                      v.sr_stride[1], v.hr_stride[1], channels, l.planes, p);
  }
  // Head + tail per row, in samples; for interleaved RGB luma in pixels of 3 samples.
  const int64_t step = l.rgb_pixels ? 3 : 1;
  const int64_t vector_span = l.nvec * (l.rgb_pixels ? 48 : N);
  const uint32_t edge = static_cast<uint32_t>((l.span - vector_span) / step);
  const uint32_t edge_items = static_cast<uint32_t>(rows) * edge;
  const int64_t planes = p.y_channel ? 1 : l.planes;
  for (uint32_t e_it = threadIdx.x; e_it < edge_items; e_it += kThreads) {
    const int64_t row = e_it / edge;
    const int64_t e = (e_it % edge) * step;
    const int64_t col = e < l.head ? e : e + vector_span;
    acc += pixel_sse(sr + row * v.sr_stride[2] + col, hr + row * v.hr_stride[2] + col,
                     v.sr_stride[1], v.hr_stride[1], channels, planes, p);
  }
  const double total = metric::block_sum(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// The vector plan, or nvec = -1 when the layout or the alignment does not allow it.
VecLaunch vec_plan(const ImagePairView& v, const MetricProtocol& p, int element_size) {
  VecLaunch l;
  l.reg = metric_region(v, p);
  l.nvec = -1;
  const int64_t* ss = v.sr_stride;
  const int64_t* hs = v.hr_stride;
  if (ss[3] == 1 && hs[3] == 1) {  // planar rows
    l.start = p.crop;
    l.span = l.reg.cols;
    l.planes = p.y_channel ? 0 : v.c;
  } else if (!p.y_channel && ss[1] == 1 && hs[1] == 1 && ss[3] == v.c && hs[3] == v.c) {
    l.start = p.crop * v.c;  // NHWC: the row's C * W samples are one contiguous span
    l.span = l.reg.cols * v.c;
    l.planes = 1;
  } else if (p.y_channel && element_size == 1 && v.c == 3 && ss[1] == 1 && hs[1] == 1 &&
             ss[3] == 3 && hs[3] == 3) {
    l.start = p.crop * 3;  // uint8 NHWC RGB luma: the row's pixels, 3 bytes each
    l.span = l.reg.cols * 3;
    l.planes = 0;
    l.rgb_pixels = true;
  } else {
    return l;
  }
  const auto misalignment = [&](const void* base) {
    return (reinterpret_cast<uintptr_t>(base) + static_cast<uintptr_t>(l.start * element_size)) %
           16;
  };
  const uintptr_t mis = misalignment(v.sr);
  if (mis != misalignment(v.hr) || mis % element_size != 0) return l;
  const bool moves_by_channel = l.rgb_pixels ? false : p.y_channel ? v.c == 3 : l.planes > 1;
  for (int d = 0; d < 3; ++d) {
    if (d == 1 && !moves_by_channel) continue;
    if ((ss[d] * element_size) % 16 != 0 || (hs[d] * element_size) % 16 != 0) return l;
  }
  if (l.span > 0x7fffffffLL) return l;
  const int64_t per_vector = l.rgb_pixels ? 48 : 16 / element_size;
  int64_t head = static_cast<int64_t>((16 - mis) % 16) / element_size;
  // Interleaved RGB: the first 16-byte boundary that is also a pixel boundary (gcd(3, 16) = 1:
  // one of the next three boundaries is).
  while (l.rgb_pixels && head % 3 != 0) head += 16;
  head = head > l.span ? l.span : head;
  const int64_t nvec = (l.span - head) / per_vector;
  // ~128 bytes of each image per thread and block (8 vectors, or 3 RGB items of 48 bytes; at
  // least one row); the index space must fit 32 bits.
  const int64_t per_row = nvec > 0 ? nvec : 1;
  const int64_t items = l.rgb_pixels ? 8 * kThreads / 3 : 8 * kThreads;
  int64_t rows = (items + per_row - 1) / per_row;
  rows = rows < 1 ? 1 : (rows > l.reg.rows ? l.reg.rows : rows);
  while (rows > 1 && rows * l.span > 0x7fffffffLL) rows /= 2;
  l.head = head;
  l.nvec = nvec;
  l.rows_per_block = rows;
  l.blocks_per_image = (l.reg.rows + rows - 1) / rows;
  return l;
}

template <typename T>
Status launch_typed(const ImagePairView& v, const MetricProtocol& p, const Launch& l,
                    double* workspace, bool decibels, double* out, cudaStream_t stream) {
  const VecLaunch vl = vec_plan(v, p, static_cast<int>(sizeof(T)));
  const bool vectorised = vl.nvec >= 0;
  const int64_t per_image = vectorised ? vl.blocks_per_image : l.blocks_per_image;
  const int64_t blocks = v.n * per_image;
  if (blocks > 0x7fffffffLL || v.n > 0x7fffffffLL) return Status::kInvalidArgument;
  if (vectorised) {
    psnr_mse_vec_kernel<T>
        <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(v, p, vl, workspace);
  } else {
    psnr_mse_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(v, p, l, workspace);
  }
  if (cudaGetLastError() != cudaSuccess) return Status::kLaunchFailed;
  const double count = static_cast<double>(l.reg.planes * l.reg.rows * l.reg.cols);
  metric::finalize_per_image<256>
      <<<static_cast<unsigned>(v.n), 256, 0, stream>>>(workspace, per_image, count, decibels, out);
  return cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
}

// The MSE pass and the finaliser, which writes the MSE or (decibels) the PSNR.
Status launch_metric(const ImagePairView& pair, const MetricProtocol& protocol, double* workspace,
                     bool decibels, double* out, cudaStream_t stream) {
  const MetricRegion reg = metric_region(pair, protocol);
  if (pair.n < 0 || reg.rows <= 0 || reg.cols <= 0 || reg.planes <= 0) {
    return Status::kInvalidArgument;
  }
  if (pair.n == 0) return Status::kOk;
  const Launch l = plan(pair, protocol);
  switch (pair.dtype) {
    case MetricDType::kUInt8:
      return launch_typed<uint8_t>(pair, protocol, l, workspace, decibels, out, stream);
    case MetricDType::kFloat16:
      return launch_typed<metric::Half>(pair, protocol, l, workspace, decibels, out, stream);
    case MetricDType::kBFloat16:
      return launch_typed<metric::BFloat16>(pair, protocol, l, workspace, decibels, out, stream);
    case MetricDType::kFloat32:
      return launch_typed<float>(pair, protocol, l, workspace, decibels, out, stream);
    case MetricDType::kFloat64:
      return launch_typed<double>(pair, protocol, l, workspace, decibels, out, stream);
    default:
      return Status::kInvalidArgument;
  }
}

}  // namespace

int64_t psnr_mse_cuda_workspace(const ImagePairView& pair, const MetricProtocol& protocol) {
  const MetricRegion reg = metric_region(pair, protocol);
  if (reg.rows <= 0 || reg.cols <= 0) return 1;
  const Launch l = plan(pair, protocol);
  // Enough for either kernel: the vector plan depends on the element size and the alignment.
  int64_t per_image = l.blocks_per_image;
  for (int size : {1, 2, 4, 8}) {
    const VecLaunch vl = vec_plan(pair, protocol, size);
    if (vl.nvec >= 0 && vl.blocks_per_image > per_image) per_image = vl.blocks_per_image;
  }
  const int64_t doubles = pair.n * per_image;
  return doubles > 0 ? doubles : 1;
}

Status launch_psnr_mse(const ImagePairView& pair, const MetricProtocol& protocol, double* workspace,
                       double* out, cudaStream_t stream) {
  return launch_metric(pair, protocol, workspace, false, out, stream);
}

Status launch_psnr(const ImagePairView& pair, const MetricProtocol& protocol, double* workspace,
                   double* out, cudaStream_t stream) {
  return launch_metric(pair, protocol, workspace, true, out, stream);
}

}  // namespace sr
