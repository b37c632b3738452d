// MATLAB-exact bicubic resize (imresize): two separable passes driven by per-axis tables.
//
// The tables (index + weight per output position, built on the host by common/cubic.h) say
// everything about the kernel, scale, antialiasing and edge rule, so the same launchers run the
// forward resize and its adjoint (the backward: the transposed tables).
//
//   pass 1 (rows):  mid[n, c, y, x] = sum_k rows.weight[y, k] * src[n, c, rows.index[y, k], x]
//   pass 2 (cols):  dst[n, c, y, x] = sum_k cols.weight[x, k] * mid[n, c, y, cols.index[x, k]]
//
// Numerics: uint8 rounds after each pass (round half away from zero, clamp to 0..255), so mid is
// uint8, exactly as MATLAB on uint8 images; the result is that of float64 accumulation (CPU and
// the CUDA fused kernel: float32, and float64 for every output within tie_margin of a .5 tie;
// the CUDA two-kernel path: float64); float64
// accumulates in float64 (mid float64); float32, float16 and bfloat16 accumulate in float32 with
// float32 weights (mid float32, one rounding to the storage type at the end). Layouts: any strides
// (NCHW and NHWC are the fast paths); sizes and strides in elements.
#pragma once

#include <cstdint>

#include "sr_kernels/status.h"

#ifdef SR_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace sr {

enum class ImresizeDtype : int {
  kUInt8 = 0,
  kFloat16 = 1,
  kBFloat16 = 2,
  kFloat32 = 3,
  kFloat64 = 4
};

// A (N, C, H, W) view: sizes and strides in elements.
struct Tensor4d {
  int64_t size[4];
  int64_t stride[4];
};

// One resized axis: out[o] = sum_{k < taps} weight[o * taps + k] * in[index[o * taps + k]].
struct ResizeTable {
  int64_t in_len;
  int64_t out_len;
  int64_t taps;
  const int32_t* index;     // [out_len * taps], valid input indices
  const double* weight;     // [out_len * taps], float64 (uint8 and float64 paths)
  const float* weight_f32;  // the same rounded to float32 (float32/16 and bfloat16 paths)
  // uint8 (CPU, CUDA fused): a bound on |float32 sum - float64 sum| for inputs in [0, 255] (see
  // imresize_tie_margin); outputs closer than this to a .5 tie are recomputed in float64.
  float tie_margin;
  // CUDA fused kernel: the largest span (max index - min index + 1) of the entries of any
  // kImresizeSpanTile consecutive outputs starting at a multiple of it (imresize_tile_span);
  // 0 when unknown (the CUDA launcher then runs the two-kernel path). Unused on CPU.
  int64_t tile_span;
  // CUDA fused kernel: outputs [run_begin, run_end) read consecutive inputs from
  // run_step * o + (a constant) on with the same weights (the interior of an integer
  // downscale), see imresize_run; run_step 0 when there is no such run. Unused on CPU.
  int64_t run_step, run_begin, run_end;
  // CUDA fused kernel: outputs [quad_begin, quad_end) read consecutive inputs with weights that
  // repeat every 4 outputs (the interior of an x2 or x4 upscale), see imresize_quad_range.
  int64_t quad_begin, quad_end;
  // CUDA fused kernel: the tap-0 input offsets of outputs 4p + 1, 4p + 2, 4p + 3 from output
  // 4p's, the same for every such quad in the quad range, packed 8 bits each (d1 | d2 << 8 |
  // d3 << 16); -1 where they differ, or where the range's sums are not exact
  // (imresize_sums_exact): the quad path rounds them without a tie test. See
  // imresize_quad_offsets.
  int64_t quad_offsets;
  // CUDA fused kernel: 1 where the run's sums are exact (imresize_sums_exact: x2 and x4
  // downscales), so that the run walks may round them without a tie test (exact_run); else 0.
  int64_t run_exact;
};

// Output positions per tile of the CUDA fused kernel along the width (see tile_span).
constexpr int64_t kImresizeSpanTile = 128;

// max over tiles [t, t + tile) of (max index - min index + 1) over the tile's table entries.
inline int64_t imresize_tile_span(int64_t out_len, int64_t taps, const int32_t* index,
                                  int64_t tile) {
  int64_t worst = 0;
  for (int64_t begin = 0; begin < out_len; begin += tile) {
    const int64_t end = begin + tile < out_len ? begin + tile : out_len;
    int64_t lo = index[begin * taps], hi = lo;
    for (int64_t e = begin * taps; e < end * taps; ++e) {
      lo = index[e] < lo ? index[e] : lo;
      hi = index[e] > hi ? index[e] : hi;
    }
    worst = hi - lo + 1 > worst ? hi - lo + 1 : worst;
  }
  return worst;
}

// Output o's taps read consecutive inputs (index[o, k] = index[o, 0] + k).
inline bool imresize_taps_consecutive(int64_t taps, const int32_t* index, int64_t o) {
  for (int64_t k = 1; k < taps; ++k) {
    if (index[o * taps + k] != index[o * taps] + k) return false;
  }
  return true;
}

// Outputs a and b have the same weights.
inline bool imresize_same_weights(int64_t taps, const double* weight, int64_t a, int64_t b) {
  for (int64_t k = 0; k < taps; ++k) {
    if (weight[a * taps + k] != weight[b * taps + k]) return false;
  }
  return true;
}

// The longest run of consecutive outputs [begin, end) whose taps read consecutive inputs, each
// output's first `step` inputs after the previous output's, with identical weights: there,
// out[o] = sum_k w[k] * in[step * o + first + k] (an integer downscale away from its borders).
// step = 0 (and begin = end = 0) when no two outputs form such a run.
struct ResizeRun {
  int64_t step, begin, end;
};

inline ResizeRun imresize_run(int64_t out_len, int64_t taps, const int32_t* index,
                              const double* weight) {
  // pair(o): outputs o - 1 and o both read consecutive inputs, with the same weights, o's
  // starting at least one input later; step(o) is how much later.
  const auto step_of = [&](int64_t o) {
    return static_cast<int64_t>(index[o * taps]) - index[(o - 1) * taps];
  };
  const auto pair = [&](int64_t o) {
    return imresize_taps_consecutive(taps, index, o) &&
           imresize_taps_consecutive(taps, index, o - 1) &&
           imresize_same_weights(taps, weight, o, o - 1) && step_of(o) >= 1;
  };
  ResizeRun best{0, 0, 0};
  int64_t o = 1;
  while (o < out_len) {
    if (!pair(o)) {
      ++o;
      continue;
    }
    const int64_t step = step_of(o);
    int64_t end = o + 1;
    while (end < out_len && pair(end) && step_of(end) == step) ++end;
    if (end - (o - 1) > best.end - best.begin) best = ResizeRun{step, o - 1, end};
    o = end;  // a pair with another step may start a run at end - 1
  }
  return best;
}

// The longest range of outputs [begin, end) that each read `taps` consecutive inputs and whose
// weights repeat every 4 outputs (output o's equal o - 4's for o in [begin + 4, end)): four
// consecutive outputs there have the weights of any other four starting at the same position
// modulo 4 (integer downscales, and x2 and x4 upscales, away from the borders). {0, 0} if none.
struct ResizeRange {
  int64_t begin, end;
};

inline ResizeRange imresize_quad_range(int64_t out_len, int64_t taps, const int32_t* index,
                                       const double* weight) {
  ResizeRange best{0, 0};
  int64_t begin = 0;  // the longest range ending at the current output starts here
  for (int64_t o = 0; o < out_len; ++o) {
    if (!imresize_taps_consecutive(taps, index, o)) {
      begin = o + 1;
      continue;
    }
    // o's weights differ from o - 4's: a range holding o starts after o - 4.
    if (o - begin >= 4 && !imresize_same_weights(taps, weight, o, o - 4)) begin = o - 3;
    if (o + 1 - begin > best.end - best.begin) best = ResizeRange{begin, o + 1};
  }
  return best;
}

// The tap-0 input offsets of outputs 4p + 1, 4p + 2 and 4p + 3 from output 4p's, packed as
// d1 | d2 << 8 | d3 << 16, if they are the same for every such quad inside `quads` (4p >=
// quads.begin, 4p + 3 < quads.end); -1 if they differ or there is no such quad. A quad then reads
// its d3 + taps consecutive inputs (x4 up: offsets 0, 1, 1, five inputs; x2 up: 1, 1, 2, six).
inline int64_t imresize_quad_offsets(int64_t taps, const int32_t* index, ResizeRange quads) {
  int64_t packed = -1;
  for (int64_t o = (quads.begin + 3) / 4 * 4; o + 4 <= quads.end; o += 4) {
    int64_t here = 0;
    for (int64_t i = 1; i < 4; ++i) {
      const int64_t d = index[(o + i) * taps] - index[o * taps];
      if (d < 0 || d > 255) return -1;
      here |= d << (8 * (i - 1));
    }
    if (packed >= 0 && here != packed) return -1;
    packed = here;
  }
  return packed;
}

// Whether uint8 sums of the outputs in `range` are exact in float32: every weight a multiple of
// 2^-12 with sum_k |weight| <= 2 per output. MATLAB's cubic weights are for the x2 and x4
// upscales (multiples of 2^-7 and 2^-10: phases 1/4, 3/4 and 1/8, 3/8, ...) and for the
// antialiased x2 and x4 downscales (2^-8 and 2^-12: the stretched kernel at such phases,
// normalised by a sum of 1); x3's are not (thirds). Then every partial sum of
// weight x byte (0..255), plus a start of 2^-13, is a multiple of 2^-13 below 2^9: 22
// significant bits, exact whatever the order, FMA or not. Such a sum s + 2^-13 is never a tie,
// so rounding it to nearest, clamped, is MATLAB's rounding of s (round half away from zero):
// the CUDA fused kernel's quad path and x2 run walks need no tie test (kExactBias there).
inline bool imresize_sums_exact(int64_t taps, const double* weight, ResizeRange range) {
  for (int64_t o = range.begin; o < range.end; ++o) {
    double total = 0.0;
    for (int64_t k = 0; k < taps; ++k) {
      const double scaled = weight[o * taps + k] * 4096.0;  // exact: a power of two
      if (scaled != static_cast<double>(static_cast<int64_t>(scaled))) return false;
      total += scaled < 0 ? -scaled : scaled;
    }
    if (total > 2.0 * 4096.0) return false;
  }
  return true;
}

// (taps + 2) * 2^-24 * 255 * max_o sum_k |weight[o, k]|, doubled: bounds the difference between
// a float32 evaluation (float32 weights, any summation order, FMA or not) and the float64 one
// of sum_k weight[o, k] * x[k] for x in [0, 255] (Higham's gamma_n bound plus the weight
// rounding), with a factor 2 to spare.
inline float imresize_tie_margin(int64_t out_len, int64_t taps, const double* weight) {
  double worst = 0.0;
  for (int64_t o = 0; o < out_len; ++o) {
    double total = 0.0;
    for (int64_t k = 0; k < taps; ++k) {
      const double w = weight[o * taps + k];
      total += w < 0 ? -w : w;
    }
    worst = total > worst ? total : worst;
  }
  return static_cast<float>(2.0 * static_cast<double>(taps + 2) * 5.9604644775390625e-8 * 255.0 *
                            worst);
}

// mid: (N, C, rows.out_len, W) of uint8 (uint8), float64 (float64) or float32 (other dtypes).
Status imresize_cpu(ImresizeDtype dtype, const void* src, const Tensor4d& src_desc, void* mid,
                    const Tensor4d& mid_desc, void* dst, const Tensor4d& dst_desc,
                    const ResizeTable& rows, const ResizeTable& cols);

// The instruction set imresize_cpu uses for uint8 now: "avx512" (F, BW and VBMI), "avx2" (with
// FMA) or "base" (the x86-64 baseline, or any other processor). The environment variable
// SR_KERNELS_CPU_ISA=avx2|base lowers it (read at every call, so tests can run each path).
const char* imresize_cpu_isa();

#ifdef SR_WITH_CUDA
// Tables must be device pointers. With `allow_fused`, launches one fused kernel on `stream`
// where a tile fits in shared memory; otherwise two kernels through `mid` (always provide it).
// `allow_runs`: the fused kernel's uint8 integer-scale paths, where the tables allow them (the
// row and column runs of x2, x3 and x4 downscales, ResizeTable::run_*; the width quads of x2 and
// x4 upscales, ResizeTable::quad_*; same results either way). The op layer allows both unless
// SR_KERNELS_IMRESIZE_FUSED=0 or SR_KERNELS_IMRESIZE_RUNS=0 (python/ops/imresize.cpp).
Status launch_imresize(ImresizeDtype dtype, const void* src, const Tensor4d& src_desc, void* mid,
                       const Tensor4d& mid_desc, void* dst, const Tensor4d& dst_desc,
                       const ResizeTable& rows, const ResizeTable& cols, cudaStream_t stream,
                       bool allow_fused = false, bool allow_runs = true);
#endif

}  // namespace sr
