// CUDA imresize. Two paths, same results:
//   * the fused kernel (below, "Fused kernel"): both passes per output tile in one launch, the
//     intermediate in shared memory; used whenever a tile's intermediate and table slices fit
//     in 48 KiB (every x1/4..x4 resize of RGB images; not extreme downscales or huge C with
//     channels innermost);
//   * the two table-driven passes of sr_kernels/imresize.h through `mid` (the fallback).
//
// Two-pass decomposition: one thread per output element of a pass, threads ordered by the
// output's memory layout (NCHW: along W; NHWC: along C then W), so stores are coalesced. A
// thread reads its `taps` table entries and gathers `taps` input elements (L1/L2 re-reads).
// Accumulation there: float64 for uint8 (exact MATLAB rounding: round half away from zero,
// clamp) and float64, without FMA contraction (bit-identical to the reference); float32 with FMA
// for float32, float16, bfloat16 (float32 weights). Index arithmetic in 32-bit when every offset
// fits, 64-bit otherwise. It is latency-bound (dependent table + data loads per tap), ~1.3 ms
// for the batch-16 DIV2K x4 uint8 cases on an H100, hence the fused kernel.
// Measured (H200, 2026-11-29, batch 16 of 3 x 1356 x 2040 uint8): fused x4 down 324 us (NCHW) /
// 369 us (NHWC), up 971 / 905 us; two-pass 1.30 / 0.82 ms down, 1.28 ms up. That is 4-11 % of the
// measured copy bandwidth where the issue asks 75 %, and ~2 % of the fp32 FMA rate: neither
// bound, so latency (dependent table and data loads, the float64 tie redo) is the suspect;
// bench/profile_kernels.py times each kernel. Those runs used tiles of at most 16 rows: the x4
// upscale was 65k blocks of 2048 outputs, each paying the same fixed table-staging work, and
// every tap's uint8 sample went through the conversion unit (quarter rate: ~530M conversions,
// ~130 us, in the x4 downscale), NHWC tiles also through a division per element. Since
// 2026-11-30 (not yet measured on a GPU): tiles up to 128 rows tall where the grid stays large
// (launch_fused); uint8 <-> float by exponent arithmetic (u8_to_float); j / nc by multiply-high.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "sr_kernels/imresize.h"

namespace sr {
namespace {

constexpr int kThreads = 256;

template <typename Index>
struct PassMap {
  Index size[4];        // output dims, outermost first (output memory order)
  Index dst_stride[4];  // in elements
  Index src_stride[4];  // for the resized dim: stride of the table's input index
};

__device__ __forceinline__ double to_acc(uint8_t v, double) { return static_cast<double>(v); }
__device__ __forceinline__ double to_acc(double v, double) { return v; }
__device__ __forceinline__ float to_acc(float v, float) { return v; }
__device__ __forceinline__ float to_acc(__half v, float) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v, float) { return __bfloat162float(v); }

__device__ __forceinline__ void store(uint8_t* p, double v) {
  v = fmin(fmax(v, 0.0), 255.0);
  const int whole = static_cast<int>(v);
  *p = static_cast<uint8_t>(whole + (v - static_cast<double>(whole) >= 0.5 ? 1 : 0));
}
__device__ __forceinline__ void store(double* p, double v) { *p = v; }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

// float64: product and sum rounded separately (no FMA contraction), in tap order, as the
// reference computes them, so uint8 results match it even on exact .5 ties.
__device__ __forceinline__ double multiply_add(double acc, double w, double v) {
  return __dadd_rn(acc, __dmul_rn(w, v));
}
__device__ __forceinline__ float multiply_add(float acc, float w, float v) {
  return fmaf(w, v, acc);
}

template <typename In, typename Out, typename Acc, typename Index, int kAxis>
__global__ void __launch_bounds__(kThreads)
    imresize_kernel(const In* __restrict__ src, Out* __restrict__ dst, PassMap<Index> map,
                    const int32_t* __restrict__ index, const Acc* __restrict__ weight, int taps,
                    Index total) {
  const Index linear = static_cast<Index>(blockIdx.x) * kThreads + threadIdx.x;
  if (linear >= total) return;
  Index rest = linear;
  Index dst_offset = 0, src_offset = 0, position = 0;
#pragma unroll
  for (int d = 3; d >= 0; --d) {
    const Index coordinate = rest % map.size[d];
    rest /= map.size[d];
    dst_offset += coordinate * map.dst_stride[d];
    if (d == kAxis) {
      position = coordinate;
    } else {
      src_offset += coordinate * map.src_stride[d];
    }
  }
  const int32_t* row_index = index + static_cast<int64_t>(position) * taps;
  const Acc* row_weight = weight + static_cast<int64_t>(position) * taps;
  const Index step = map.src_stride[kAxis];
  Acc acc = Acc(0);
  for (int k = 0; k < taps; ++k) {
    const Index at = src_offset + static_cast<Index>(__ldg(row_index + k)) * step;
    acc = multiply_add(acc, __ldg(row_weight + k), to_acc(src[at], Acc(0)));
  }
  store(dst + dst_offset, acc);
}

template <typename Acc>
const Acc* weights_of(const ResizeTable& t);
template <>
const double* weights_of<double>(const ResizeTable& t) {
  return t.weight;
}
template <>
const float* weights_of<float>(const ResizeTable& t) {
  return t.weight_f32;
}

// Orders the four dims by decreasing output stride (output memory order, outermost first).
void memory_order(const Tensor4d& dst, int order[4]) {
  for (int d = 0; d < 4; ++d) order[d] = d;
  std::stable_sort(order, order + 4, [&](int a, int b) { return dst.stride[a] > dst.stride[b]; });
}

template <typename Index>
bool fits(const Tensor4d& src, const Tensor4d& dst, int64_t total) {
  const int64_t limit = static_cast<int64_t>(std::numeric_limits<Index>::max()) / 2;
  int64_t src_extent = 0, dst_extent = 0;
  for (int d = 0; d < 4; ++d) {
    src_extent += (src.size[d] - 1) * src.stride[d];
    dst_extent += (dst.size[d] - 1) * dst.stride[d];
  }
  return total < limit && src_extent < limit && dst_extent < limit;
}

template <typename In, typename Out, typename Acc, typename Index>
Status launch_pass(const In* src, const Tensor4d& sd, Out* dst, const Tensor4d& dd,
                   const ResizeTable& t, int axis, cudaStream_t stream) {
  int order[4];
  memory_order(dd, order);
  PassMap<Index> map;
  int position = 0;
  int64_t total = 1;
  for (int i = 0; i < 4; ++i) {
    const int d = order[i];
    map.size[i] = static_cast<Index>(dd.size[d]);
    map.dst_stride[i] = static_cast<Index>(dd.stride[d]);
    map.src_stride[i] = static_cast<Index>(sd.stride[d]);
    if (d == axis) position = i;
    total *= dd.size[d];
  }
  if (total == 0) return Status::kOk;
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffffLL) return Status::kInvalidArgument;
  const Acc* weight = weights_of<Acc>(t);
  const int taps = static_cast<int>(t.taps);
  const auto grid = static_cast<unsigned>(blocks);
  const Index count = static_cast<Index>(total);
  switch (position) {
    case 0:
      imresize_kernel<In, Out, Acc, Index, 0>
          <<<grid, kThreads, 0, stream>>>(src, dst, map, t.index, weight, taps, count);
      break;
    case 1:
      imresize_kernel<In, Out, Acc, Index, 1>
          <<<grid, kThreads, 0, stream>>>(src, dst, map, t.index, weight, taps, count);
      break;
    case 2:
      imresize_kernel<In, Out, Acc, Index, 2>
          <<<grid, kThreads, 0, stream>>>(src, dst, map, t.index, weight, taps, count);
      break;
    default:
      imresize_kernel<In, Out, Acc, Index, 3>
          <<<grid, kThreads, 0, stream>>>(src, dst, map, t.index, weight, taps, count);
      break;
  }
  return cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
}

template <typename In, typename Out, typename Acc>
Status pass(const void* src, const Tensor4d& sd, void* dst, const Tensor4d& dd,
            const ResizeTable& t, int axis, cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < 4; ++d) total *= dd.size[d];
  const auto* s = static_cast<const In*>(src);
  auto* o = static_cast<Out*>(dst);
  if (fits<int32_t>(sd, dd, total)) {
    return launch_pass<In, Out, Acc, uint32_t>(s, sd, o, dd, t, axis, stream);
  }
  return launch_pass<In, Out, Acc, int64_t>(s, sd, o, dd, t, axis, stream);
}

// ---------------------------------------------------------------------------------------------
// Fused kernel: both passes in one launch, the intermediate in shared memory.
//
// Decomposition: one block of kFusedThreads per output tile of tile_y (1..kMaxTileY, chosen by
// launch_fused) rows x kTileX columns x ct channels of one image (ct = C when the channels are
// innermost and C <= 4, i.e. NHWC RGB, else 1: NCHW planes). The block
//   1. finds the mid columns [lo, hi] its kTileX outputs read (min/max of the cols table
//      entries; hi - lo + 1 <= cols.tile_span, computed on the host from the same table) and
//      stages its slices of both tables in shared memory (cols table transposed to [tap][x], so
//      a warp reads consecutive words; row offsets premultiplied by the row stride, 64-bit);
//   2. height pass: mid[r][(col - lo) * nc + c] for its tile_y rows and every needed column,
//      kVec neighbouring elements per thread, threads along the memory order of the input
//      (NCHW: columns; NHWC: columns x channels), so every tap is a coalesced row read
//      (input re-reads between the ~4 overlapping output rows of a tap window hit L1/L2);
//      uint8 rounds the result to uint8 here, as MATLAB does;
//   3. width pass from shared memory: each thread an output element, threads along the
//      output's memory order (coalesced stores).
// Traffic: per output element of the x4 downscale (uint8), 16 input bytes read once from DRAM
// (plus the ~12/(4 * tile_y) row halo and 12/512 column halo, mostly L2 hits) + 1 written; x4
// up, 1/16 read + 1 written; the intermediate never leaves the SM. Roofline: (input + output
// bytes) / copy bandwidth, 141 MB / 2.96 TB/s = 48 us for the batch-16 DIV2K x4 cases.
// Expected bound: instruction issue, not DRAM. Hence specialised paths for the integer scales
// SR pipelines use, found on the host from the tables (ResizeTable::run_*, quad_*) and chosen
// per launch (launch_fused); everything else takes the general loops. The paths, with
// instructions per element and the issue time of the batch-16 DIV2K x4 cases at full rate on
// 132 SMs (from the sm_90a SASS where marked, else counted from the source; none measured yet):
// * Height pass, general loop: ~6.5 per element-tap (SASS: a 64-bit address add, a byte load,
//   the conversion, an FFMA, the staged offset and weight): x4 down ~120 us.
// * height_pass_words (uint8 rows of whole 8-byte words, e.g. DIV2K's 2040 columns): one 8-byte
//   load per 8 bytes and tap, then PRMT + FADD + FFMA per byte, ~3.8 per element-tap (SASS).
// * height_pass_run (the antialiased x2, x3 and x4 downscales' interior rows, word rows): an
//   item of 3 output rows x 8 columns walks its input rows (x4: 24) once, one conversion per
//   input byte: ~32 per element against ~55 (SASS), 3x fewer L1/L2 reads; 80 registers (3
//   blocks per SM). x4 down ~30 us.
// * height_pass_quads (the x2 and x4 upscales' interior rows in the quad kernels, any
//   consecutive input rows): an item of 4 output rows x 4 mid elements reads its 5 (x4) input
//   rows' bytes once: under 20 per element against ~40 in the general loop, which DIV2K's LR
//   rows (510 bytes in NCHW, 1530 in NHWC: not whole words) took. x4 up under 20 us.
// * Width pass, per-element loop: ~35 per output (x4 up) to ~145 (RGB NHWC x4 down, 51 of them
//   shared-memory loads; SASS). Word loop (FusedArgs::word_out: output rows of whole 4-byte
//   words, one address and store per 4 outputs): ~35, x4 up ~110 us. uint8 upscales keep the
//   intermediate as floats where it fits (Mid = float: no byte conversion per tap).
// * width_groups, run items (the downscales' interior columns; NCHW planes and RGB NHWC, stored
//   as words or bytes): 4 pixels x nc channels per item from their mid bytes read as words, each
//   converted once: NCHW ~25 per output against ~120, RGB NHWC ~47 against ~145 (SASS). x4
//   down ~10 us (NCHW), ~12 us (NHWC).
// * width_groups, quad items (the x2 and x4 upscales' interior columns where output rows are
//   whole words; NCHW planes and RGB NHWC): the 4 x 4 weights in registers, each quad's 5 (x4)
//   or 6 (x2) inputs read once from one staged offset (quad_sums, ResizeTable::quad_offsets),
//   rounded without a tie test (exact sums, below): ~12 per output, x4 up ~36 us. RGB items'
//   3 words are exchanged across the warp (store_exchanged_words) so that each store
//   instruction writes 32 consecutive words: stored as computed, 12 bytes apart, L1 would send
//   L2 3x the sectors (~80 us of L2 traffic for x4 up); byte stores, 12x, are left to the
//   downscales, whose output is a sixteenth of their input.
// Together: x4 down ~40 us and x4 up ~56 us of issue against the 48 us roofline, if the GPU
// overlaps memory and issue. SR_KERNELS_IMRESIZE_RUNS=0 turns the walks and the quad items off
// (to compare). Other 4-tap quad ranges (integer downscales without antialiasing) and x3
// upscales take the general loops.
// Arithmetic: uint8 sums in float32 (float32 weights, FMA) and redoes in float64, in tap order
// with separate product and sum roundings like the reference, only the outputs whose float32
// sum lies within tie_margin of a .5 tie (the bound of imresize_tie_margin), so the uint8
// result is bit-identical to the float64 one. Where every weight is a multiple of 2^-12 (x2 and
// x4, up and down: imresize_sums_exact) the float32 sums are exact and need no redo: the quad
// items, height_pass_quads and the x2 downscale's run walks round them in 3 instructions
// (exact_sum_to_u8) instead of a 7-instruction tie test and a branch (x4's run walks keep the
// test: see exact_run). float64 accumulates in float64 (no contraction), float32/16 and
// bfloat16 in float32. Offsets are 64-bit; tile-local indices 32-bit.
constexpr int kFusedThreads = 256;
constexpr int kVec = 4;  // height-pass elements per thread and step
constexpr int kTileX = static_cast<int>(kImresizeSpanTile);
constexpr int64_t kFusedSmemLimit = 48 * 1024 - 256;  // with the static words: no opt-in
constexpr int64_t kMaxTileY = 128;                    // output rows per tile, at most
constexpr int64_t kMinFusedBlocks = 1024;             // ~2 waves of 4 blocks per SM on a 132-SM GPU

struct FusedArgs {
  int64_t src_stride[4];
  int64_t dst_stride[4];
  int32_t channels, ct, groups;  // channels per block (ct) and blocks per image (groups)
  int32_t out_h, out_w, tile_y;
  int32_t rows_taps, cols_taps;
  const int32_t* rows_index;
  const int32_t* cols_index;
  const void* rows_weight;  // float64 when W is double, else float32
  const void* cols_weight;
  const double* rows_w64;  // uint8 tie redo
  const double* cols_w64;
  float rows_margin, cols_margin;
  int32_t word_rows;  // uint8 height pass by 8-byte words (height_pass_words)
  int32_t word_out;   // uint8 width pass by 4-byte words: tile rows are consecutive bytes of the
                      // output, whole words, every row starts on a 4-byte boundary
  int32_t run_begin, run_end;  // output rows of the rows table's run (height_pass_run)
  // Output columns of the columns table's run where it has the rows table's step and taps
  // (width_sums_run), else both 0.
  int32_t col_run_begin, col_run_end;
  int32_t col_quad_begin, col_quad_end;  // the columns table's quad range (kQuadTaps kernels)
  // Output rows of the rows table's quad range where the height pass may walk it
  // (height_pass_quads: kQuadTaps kernels whose rows table has the columns table's quad
  // offsets, tile rows consecutive bytes of their input rows, tiles of whole quads), else 0, 0.
  int32_t row_quad_begin, row_quad_end;
};

// uint8 <-> float32 by exponent arithmetic instead of the conversion unit: I2F and F2I issue at
// a quarter of the FMA rate on sm_80/sm_90, and the fused kernel converted every tap's sample
// (a x4 downscale of 16 RGB 2K images: ~530M conversions, ~130 us of that unit alone on an
// H200). 2^23 + v carries v (0..255) in its low mantissa bits, exactly.
__device__ __forceinline__ float u8_to_float(uint32_t v) {
  return __uint_as_float(0x4B000000u | v) - 8388608.0f;
}
// An integer-valued float in [0, 255] to uint8 (the inverse of u8_to_float).
__device__ __forceinline__ uint8_t small_integer_to_u8(float v) {
  return static_cast<uint8_t>(__float_as_uint(v + 8388608.0f));
}
__device__ __forceinline__ float mid_to_float(uint8_t v) { return u8_to_float(v); }
__device__ __forceinline__ float mid_to_float(float v) { return v; }

template <typename Acc>
__device__ __forceinline__ Acc load_acc(const uint8_t* p) {
  if constexpr (std::is_same<Acc, float>::value) {
    return u8_to_float(*p);
  } else {
    return static_cast<Acc>(*p);
  }
}
template <typename Acc>
__device__ __forceinline__ Acc load_acc(const float* p) {
  return *p;
}
template <typename Acc>
__device__ __forceinline__ Acc load_acc(const double* p) {
  return *p;
}
template <typename Acc>
__device__ __forceinline__ Acc load_acc(const __half* p) {
  return __half2float(*p);
}
template <typename Acc>
__device__ __forceinline__ Acc load_acc(const __nv_bfloat16* p) {
  return __bfloat162float(*p);
}

// MATLAB's uint8 conversion of a float64 sum: clamp, round half away from zero.
__device__ __forceinline__ uint8_t u8_of(double v) {
  v = fmin(fmax(v, 0.0), 255.0);
  const int whole = static_cast<int>(v);
  return static_cast<uint8_t>(whole + (v - static_cast<double>(whole) >= 0.5 ? 1 : 0));
}
// The float32 sum is closer than `margin` to a .5 tie: its rounding may differ from float64's.
__device__ __forceinline__ bool near_tie(float acc, float margin) {
  const float fraction = acc - floorf(acc);  // exact
  return fabsf(fraction - 0.5f) < margin;
}
// Rounding of a float32 sum that is not near a tie (equal to u8_of of the float64 sum).
__device__ __forceinline__ uint8_t u8_of_far(float acc) {
  const float whole = floorf(acc);
  const float rounded = whole + (acc - whole > 0.5f ? 1.0f : 0.0f);
  return small_integer_to_u8(fminf(fmaxf(rounded, 0.0f), 255.0f));
}

// Byte i (0..3) of a word as a float: PRMT puts it in the low mantissa bits of 2^23, as
// u8_to_float does for one byte.
__device__ __forceinline__ float word_byte_to_float(uint32_t word, int i) {
  return __uint_as_float(__byte_perm(word, 0x4B000000u, 0x7440u + static_cast<uint32_t>(i))) -
         8388608.0f;
}

// One uint8 height-pass element from its float32 sum `acc`: redone in float64 near a tie, in
// tap order, from the input bytes p[off[k]] and the row's float64 weights w64[k].
__device__ __forceinline__ uint8_t height_output_u8(float acc, const uint8_t* p, const int64_t* off,
                                                    const double* w64, int taps, float margin) {
  if (!near_tie(acc, margin)) return u8_of_far(acc);
  double exact = 0.0;
  for (int k = 0; k < taps; ++k) {
    exact = __dadd_rn(exact, __dmul_rn(__ldg(w64 + k), static_cast<double>(p[off[k]])));
  }
  return u8_of(exact);
}

// The width-pass sum of output x's taps from shared memory, in tap order (tap k at s_coff /
// s_cw[k * kTileX + x], `m` the intermediate row plus the channel): float32 with FMA, or float64
// with the product and sum rounded separately, as the reference computes them.
template <typename Acc, typename Mid, typename W>
__device__ __forceinline__ Acc width_sum(const Mid* m, int x, int tx, const W* s_cw,
                                         const int32_t* s_coff) {
  constexpr int kUnroll = std::is_same<Acc, double>::value ? 1 : 4;  // 0 spills
  Acc acc = Acc(0);
#pragma unroll(kUnroll)
  for (int k = 0; k < tx; ++k) {
    const int t = k * kTileX + x;
    if constexpr (std::is_same<Acc, double>::value) {
      acc = __dadd_rn(acc, __dmul_rn(s_cw[t], static_cast<double>(m[s_coff[t]])));
    } else {
      acc = fmaf(s_cw[t], mid_to_float(m[s_coff[t]]), acc);
    }
  }
  return acc;
}

// uint8 output x of the width pass from its float32 sum `acc`: redone in float64 near a tie
// (cols_w64: the tile's float64 weights, [x][tap]).
template <typename Mid>
__device__ __forceinline__ uint8_t width_finish_u8(float acc, const Mid* m, int x, int tx,
                                                   const int32_t* s_coff, const double* cols_w64,
                                                   float margin) {
  if (!near_tie(acc, margin)) return u8_of_far(acc);
  const double* w64 = cols_w64 + static_cast<int64_t>(x) * tx;
  double exact = 0.0;
  for (int k = 0; k < tx; ++k) {
    const double v = static_cast<double>(m[s_coff[k * kTileX + x]]);
    exact = __dadd_rn(exact, __dmul_rn(__ldg(w64 + k), v));
  }
  return u8_of(exact);
}

// Output i's tap-0 offset from its quad's first output, and the largest of the four, for
// ResizeTable::quad_offsets packed as d1 | d2 << 8 | d3 << 16.
constexpr int quad_offset(int packed, int i) {
  return i == 0 ? 0 : (packed >> (8 * (i - 1))) & 0xff;
}
constexpr int quad_reach(int packed) {
  const int d1 = quad_offset(packed, 1), d2 = quad_offset(packed, 2), d3 = quad_offset(packed, 3);
  return d1 > d2 ? (d1 > d3 ? d1 : d3) : (d2 > d3 ? d2 : d3);
}
// Packed quad offsets of the x4 and x2 upscales' quad ranges (imresize_quad_offsets): the quad
// path's two instances (other 4-tap tables, e.g. integer downscales without antialiasing, take
// the per-element loop).
constexpr int kX4UpQuadOffsets = 0 | 1 << 8 | 1 << 16;
constexpr int kX2UpQuadOffsets = 1 | 1 << 8 | 2 << 16;
// Where every exact sum starts (see exact_sum_to_u8): half of imresize_sums_exact's 2^-12 grid.
constexpr float kExactBias = 1.0f / 8192.0f;
// The run kernel whose run walks have exact sums: the x2 downscale's (launch_fused launches it
// only where ResizeTable::run_exact holds). x3's weights are thirds, so its walks keep the
// near-tie test and float64 redo; so do x4's, though its sums are exact too: without the redo's
// branches ptxas interleaved the roundings with the last FMAs of height_pass_run, and the x4
// kernels spilled 4 to 40 bytes at the 80-register cap (sm_80/86/89/90a, every variant tried:
// weights from shared memory, a 128-register cap, the image index recomputed).
constexpr bool exact_run(int step) { return step == 2; }

// The float32 sums of the 4 outputs of a quad of the quad path (outputs x..x+3 of one tile row,
// one channel: m is the row plus the channel, kNc elements per pixel), each kExactBias plus the
// exact sum (see exact_sum_to_u8: no rounding in any order). With the quad offsets known (kOffsets,
// ResizeTable::quad_offsets) the quad's quad_reach + kTaps inputs are read once from one staged
// offset (x4 up: 5 inputs, x2 up: 6), not kTaps per output from one offset each.
template <int kTaps, int kOffsets, int kNc, typename Mid>
__device__ __forceinline__ void quad_sums(const Mid* m, const int32_t* s_coff, int x,
                                          const float (&w)[4][kTaps], float (&acc)[4]) {
  static_assert(kOffsets >= 0, "the quad path needs its quad offsets");
  constexpr int kInputs = quad_reach(kOffsets) + kTaps;
  const Mid* first = m + s_coff[x];
  float v[kInputs];
#pragma unroll
  for (int j = 0; j < kInputs; ++j) v[j] = mid_to_float(first[kNc * j]);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    acc[i] = kExactBias;
#pragma unroll
    for (int k = 0; k < kTaps; ++k) {
      acc[i] = fmaf(w[i][k], v[quad_offset(kOffsets, i) + k], acc[i]);
    }
  }
}

// An exact sum as uint8: the sum started at kExactBias, clamped, rounded to nearest by the
// 2^23 addition (small_integer_to_u8). For the quad path (tables whose quad range passes
// imresize_sums_exact: ResizeTable::quad_offsets is -1 otherwise) and the x2 run walks
// (exact_run, ResizeTable::run_exact): their sums are exact, s + 2^-13 with s a multiple of
// 2^-12, so none is a tie and the nearest integer is MATLAB's round half away from zero of s
// (negative s clamps to 0 either way). No float64 redo: 3
// instructions after the sum, against 7 and a branch for a test of the distance to a tie.
__device__ __forceinline__ uint8_t exact_sum_to_u8(float acc) {
  return small_integer_to_u8(fminf(fmaxf(acc, 0.0f), 255.0f));
}

// One uint8 output of the width pass: its float32 sum (width_sum), finished by width_finish_u8.
template <typename Mid>
__device__ __forceinline__ uint8_t width_output_u8(const Mid* m, int x, int tx, const float* s_cw,
                                                   const int32_t* s_coff, const double* cols_w64,
                                                   float margin) {
  const float acc = width_sum<float>(m, x, tx, s_cw, s_coff);
  return width_finish_u8(acc, m, x, tx, s_coff, cols_w64, margin);
}

// The float32 sums of four consecutive pixels x..x+3 of one tile row, kNc channels each (nc:
// 1 for NCHW planes, 3 for RGB NHWC), inside the columns table's run (ResizeTable::run_*, with
// the rows table's step and taps): channel c of pixel x + o, acc[o * kNc + c], reads mid elements
// m0 + kNc * (kStep * o + k) + c, k < kTaps (m0 = s_coff[x]), with weights w[k * kTileX].
// Their (kStep * 3 + kTaps) * kNc mid elements are read once (uint8: as 4-byte words, each byte
// converted once) instead of once per tap with a staged offset and weight. Each sum is built
// tap by tap with the same FMAs as width_sum, so it is the same number (x3, x4), or is exact and
// starts at kExactBias (exact_run).
template <int kStep, int kTaps, int kNc>
__device__ __forceinline__ void width_sums_run(const uint8_t* row, int m0, const float* w,
                                               float (&acc)[4 * kNc]) {
  constexpr int kValues = (kStep * 3 + kTaps) * kNc;
  constexpr int kWords = (kValues + 3) / 4 + 1;  // aligned words covering any start offset
  const uint32_t* words = reinterpret_cast<const uint32_t*>(row + (m0 & ~3));
  const uint32_t shift = 8u * static_cast<uint32_t>(m0 & 3);
  uint32_t raw[kWords];
#pragma unroll
  for (int i = 0; i < kWords; ++i) raw[i] = words[i];
#pragma unroll
  for (int o = 0; o < 4 * kNc; ++o) acc[o] = exact_run(kStep) ? kExactBias : 0.0f;
  // Value by value (each converted once, then added to every output whose taps hold it): per
  // output the taps still come in order.
#pragma unroll
  for (int t = 0; t < kValues; ++t) {
    const uint32_t aligned = __funnelshift_r(raw[t / 4], raw[t / 4 + 1], shift);  // m0 + 4(t/4)..
    const float v = word_byte_to_float(aligned, t % 4);
#pragma unroll
    for (int o = 0; o < 4; ++o) {
      const int k = t / kNc - kStep * o;  // this value's tap in pixel x + o
      if (k >= 0 && k < kTaps)
        acc[o * kNc + t % kNc] = fmaf(w[k * kTileX], v, acc[o * kNc + t % kNc]);
    }
  }
}
template <int kStep, int kTaps, int kNc>
__device__ __forceinline__ void width_sums_run(const float* row, int m0, const float* w,
                                               float (&acc)[4 * kNc]) {
#pragma unroll
  for (int o = 0; o < 4; ++o) {
#pragma unroll
    for (int c = 0; c < kNc; ++c) {
      float sum = exact_run(kStep) ? kExactBias : 0.0f;
#pragma unroll
      for (int k = 0; k < kTaps; ++k) {
        sum = fmaf(w[k * kTileX], row[m0 + kNc * (kStep * o + k) + c], sum);
      }
      acc[o * kNc + c] = sum;
    }
  }
}

// The tile's quads [q0, q1) (outputs x0 + 4q .. x0 + 4q + 3 of `quads`) whose four outputs all
// lie in the output range [begin, end).
__device__ __forceinline__ void quads_inside(int begin, int end, int x0, int quads, int& q0,
                                             int& q1) {
  q0 = max((begin - x0 + 3) / 4, 0);  // (a negative quotient truncates to <= 0: clamped)
  q1 = min((end - x0) / 4, quads);
}

// The quad path's weights: output i's tap k in w[i][k], the same for every quad of the tile's
// quad range, read at the range's first quad q0 (clamped into the tile when it has none).
template <int kTaps>
__device__ __forceinline__ void load_quad_weights(const float* s_cw, int q0, int nx,
                                                  float (&w)[4][kTaps]) {
  const int x_ref = max(min(4 * q0, nx - 4), 0);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#pragma unroll
    for (int k = 0; k < kTaps; ++k) w[i][k] = s_cw[k * kTileX + x_ref + i];
  }
}

// Item i of a tile row's items but [skip_begin, skip_begin + skipped), which another loop did.
__device__ __forceinline__ int past_skip(int i, int skip_begin, int skipped) {
  return i < skip_begin ? i : i + skipped;
}

// The RGB words of width_groups, exchanged across the warp (every lane calls it): in round j
// lane L stores the warp's word 32 j + L, word (32 j + L) % 3 of lane (32 j + L) / 3's group
// (lanes without a group pass pixel = nullptr).
__device__ __forceinline__ void store_exchanged_words(const uint32_t (&words)[3], uint8_t* pixel,
                                                      int lane) {
  const auto where = reinterpret_cast<unsigned long long>(pixel);
#pragma unroll
  for (int j = 0; j < 3; ++j) {
    const int w = 32 * j + lane;
    const int source = w / 3, slot = w - 3 * (w / 3);
    const uint32_t w0 = __shfl_sync(0xffffffffu, words[0], source);
    const uint32_t w1 = __shfl_sync(0xffffffffu, words[1], source);
    const uint32_t w2 = __shfl_sync(0xffffffffu, words[2], source);
    const unsigned long long to = __shfl_sync(0xffffffffu, where, source);
    if (to != 0ull) reinterpret_cast<uint32_t*>(to)[slot] = slot == 0 ? w0 : (slot == 1 ? w1 : w2);
  }
}

// The width pass's groups [g0, g1) of a uint8 tile, kNc = nc (1: NCHW planes, 3: RGB NHWC): an
// item is 4 pixels x kNc channels of one tile row, its 4 * kNc sums from the columns table's run
// (kRunStep: width_sums_run) or quad range (kQuadTaps: quad_sums; those ranges hold every group
// in [g0, g1)). `tile` is the output at (c0, y0, x0). Where output rows are whole words
// (FusedArgs::word_out) an item stores kNc aligned words (byte kNc * o + c is pixel o's channel
// c); else byte by byte (any output strides: only the downscales come here without words, and
// their output is a sixteenth of their input).
// RGB words: stored as computed, a warp's lanes would store 12 bytes apart and L1 would send L2
// 3x the 32-byte sectors (upscales, whose output is most of their traffic, come here only with
// words). So the warp exchanges them (store_exchanged_words), consecutive words to consecutive
// lanes as an NCHW plane's items store theirs: 5 shuffles and a select per word. The loop
// therefore runs warp by warp, every lane every iteration.
template <int kNc, int kRunStep, int kRunTaps, int kQuadTaps, int kQuadOffsets, typename Mid>
__device__ __forceinline__ void width_groups(const Mid* s_mid, int pitch, int ny, int g0, int g1,
                                             int nx, int tx, const float* s_cw,
                                             const int32_t* s_coff, const double* cols_w64,
                                             const FusedArgs& a, uint8_t* tile) {
  static_assert(kNc == 1 || kNc == 3, "groups of NCHW planes or RGB pixels");
  static_assert((kRunStep > 0) != (kQuadTaps > 0), "a run kernel or a quad kernel");
  constexpr int kOutputs = 4 * kNc;
  const int groups = max(g1 - g0, 0);
  // Run: every output's tap k weight at run_w[k * kTileX]; quads: quad_w.
  const float* run_w = s_cw + max(min(4 * g0, nx - 4), 0);
  constexpr int kGroupTaps = kQuadTaps > 0 ? kQuadTaps : 1;
  float quad_w[4][kGroupTaps];
  if constexpr (kQuadTaps > 0) load_quad_weights(s_cw, g0, nx, quad_w);
  const int64_t s1 = a.dst_stride[1], s2 = a.dst_stride[2], s3 = a.dst_stride[3];
  int r = static_cast<int>(threadIdx.x) / max(groups, 1);
  int g = static_cast<int>(threadIdx.x) - r * groups;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  for (int base = static_cast<int>(threadIdx.x) - lane; base < ny * groups; base += kFusedThreads) {
    const bool active = base + lane < ny * groups;
    const int x = 4 * (g0 + g);  // the group's first pixel in the tile
    uint32_t words[kNc] = {};    // the outputs, byte kNc * o + c
    uint8_t* pixel = nullptr;
    if (active) {
      const Mid* row = s_mid + r * pitch;
      if constexpr (kRunStep > 0) {
        float acc[kOutputs];
        width_sums_run<kRunStep, kRunTaps, kNc>(row, s_coff[x], run_w, acc);
#pragma unroll
        for (int b = 0; b < kOutputs; ++b) {
          const uint8_t v = exact_run(kRunStep)
                                ? exact_sum_to_u8(acc[b])
                                : width_finish_u8(acc[b], row + b % kNc, x + b / kNc, tx, s_coff,
                                                  cols_w64, a.cols_margin);
          words[b / 4] |= static_cast<uint32_t>(v) << (8 * (b % 4));
        }
      } else {
#pragma unroll
        for (int c = 0; c < kNc; ++c) {
          float acc[4];
          quad_sums<kGroupTaps, kQuadOffsets, kNc>(row + c, s_coff, x, quad_w, acc);
#pragma unroll
          for (int o = 0; o < 4; ++o) {
            const uint8_t v = exact_sum_to_u8(acc[o]);
            const int b = kNc * o + c;
            words[b / 4] |= static_cast<uint32_t>(v) << (8 * (b % 4));
          }
        }
      }
      pixel = tile + static_cast<int64_t>(r) * s2 + static_cast<int64_t>(x) * s3;
    }
    if (!a.word_out) {
      if (active) {
#pragma unroll
        for (int b = 0; b < kOutputs; ++b) {
          pixel[(b / kNc) * s3 + (b % kNc) * s1] =
              static_cast<uint8_t>(words[b / 4] >> (8 * (b % 4)));
        }
      }
    } else if constexpr (kNc == 3) {
      store_exchanged_words(words, pixel, lane);
    } else if (active) {
      *reinterpret_cast<uint32_t*>(pixel) = words[0];
    }
    for (g += kFusedThreads; g >= groups; ++r) g -= groups;
  }
}

// A rounded uint8 height-pass result in the intermediate's type (uint8, or float: see run).
template <typename Mid>
__device__ __forceinline__ Mid mid_of_u8(uint8_t v);
template <>
__device__ __forceinline__ uint8_t mid_of_u8<uint8_t>(uint8_t v) {
  return v;
}
template <>
__device__ __forceinline__ float mid_of_u8<float>(uint8_t v) {
  return u8_to_float(v);
}

// uint8 height pass by 8-byte words, where a tile row's mid elements are consecutive bytes of
// every input row it reads and rows start on 8-byte boundaries (launch_fused checks: NCHW planes,
// or NHWC with every channel in the tile). Thread items are the words covering the row's span,
// [e0 rounded down to 8, e0 + width rounded up): per tap one 8-byte load, one 64-bit address add
// and a PRMT + FADD + FFMA per byte, against a 1-byte load, a 64-bit add and a VIADD + FADD +
// FFMA per byte in the general loop. Bytes outside the span are loaded but not stored; a word
// never leaves its input row (the row length is a multiple of 8 bytes).
// Tile rows [0, ny) but [skip_begin, skip_end) (those of height_pass_run).
template <typename Mid>
__device__ __forceinline__ void height_pass_words(const uint8_t* row0, int e0, int width, int pitch,
                                                  int ny, int skip_begin, int skip_end, int ty,
                                                  const int64_t* s_roff, const float* s_rw,
                                                  const double* rows_w64, float margin,
                                                  Mid* s_mid) {
  const int head = e0 & 7;  // bytes of the first word before mid element 0
  const int words = (head + width + 7) / 8;
  const uint8_t* first = row0 + (e0 - head);
  const int skipped = skip_end - skip_begin;
  int item_row = static_cast<int>(threadIdx.x) / words;
  int g = static_cast<int>(threadIdx.x) - item_row * words;
  for (int e = threadIdx.x; e < (ny - skipped) * words; e += kFusedThreads) {
    const int r = past_skip(item_row, skip_begin, skipped);
    const uint8_t* p = first + 8 * g;
    const int64_t* off = s_roff + r * ty;
    const float* w = s_rw + r * ty;
    float acc[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) acc[i] = 0.0f;
#pragma unroll 4
    for (int k = 0; k < ty; ++k) {
      const uint2 v = __ldg(reinterpret_cast<const uint2*>(p + off[k]));
      const float wk = w[k];
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        acc[i] = fmaf(wk, word_byte_to_float(i < 4 ? v.x : v.y, i & 3), acc[i]);
      }
    }
    Mid* row = s_mid + r * pitch;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int j = 8 * g + i - head;
      if (j >= 0 && j < width) {
        row[j] =
            mid_of_u8<Mid>(height_output_u8(acc[i], p + i, off, rows_w64 + r * ty, ty, margin));
      }
    }
    for (g += kFusedThreads; g >= words; ++item_row) g -= words;
  }
}

// Output rows per item of height_pass_run: 3 keeps its kernels at 80 registers (3 blocks per SM)
// with 0 spills on sm_80 and sm_90; 4 spilled there (x4: 30 instead of 32 instructions per
// element, at 2 blocks per SM without the cap).
constexpr int kRunRows = 3;
constexpr int kRunMinBlocks = 3;

// uint8 height pass of tile rows [r_begin, r_begin + kRunRows * groups), all inside the table's
// run (ResizeTable::run_*: row r reads kTaps consecutive input rows from kStep * r + first on,
// with the same weights). An item is kRunRows output rows of one 8-byte word of columns: it walks
// their kStep * (kRunRows - 1) + kTaps input rows once, converting each byte once and adding it
// to every output row whose window holds it, where height_pass_words loads and converts each
// input byte once per tap (kTaps / kStep times). Each output's float32 sum is built tap by tap in
// the same order with the same FMAs as there, so it is the same number, and the near-tie redo is
// the same (x3, x4); or it is exact, from kExactBias, and rounds without a test (exact_run). Word
// conditions as for height_pass_words.
template <int kStep, int kTaps, typename Mid>
__device__ __forceinline__ void height_pass_run(const uint8_t* row0, int e0, int width, int pitch,
                                                int r_begin, int groups, int64_t in_stride, int ty,
                                                const int64_t* s_roff, const float* s_rw,
                                                const double* rows_w64, float margin, Mid* s_mid) {
  constexpr int kInputs = kStep * (kRunRows - 1) + kTaps;
  const int head = e0 & 7;
  const int words = (head + width + 7) / 8;
  const uint8_t* first = row0 + (e0 - head);
  float w[kTaps];
#pragma unroll
  for (int k = 0; k < kTaps; ++k) w[k] = s_rw[r_begin * ty + k];
  int group = static_cast<int>(threadIdx.x) / words;
  int g = static_cast<int>(threadIdx.x) - group * words;
  for (int e = threadIdx.x; e < groups * words; e += kFusedThreads) {
    const int r = r_begin + group * kRunRows;
    const uint8_t* column = first + 8 * g;
    const uint8_t* p = column + s_roff[r * ty];  // tap 0 of output row r
    float acc[kRunRows][8];
#pragma unroll
    for (int j = 0; j < kRunRows; ++j) {
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[j][i] = exact_run(kStep) ? kExactBias : 0.0f;
    }
#pragma unroll
    for (int t = 0; t < kInputs; ++t) {
      const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
      p += in_stride;
      float x[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) x[i] = word_byte_to_float(i < 4 ? v.x : v.y, i & 3);
#pragma unroll
      for (int j = 0; j < kRunRows; ++j) {
        const int k = t - kStep * j;  // this input's tap in output row r + j
        if (k >= 0 && k < kTaps) {
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[j][i] = fmaf(w[k], x[i], acc[j][i]);
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kRunRows; ++j) {
      Mid* row = s_mid + (r + j) * pitch;
      const int64_t* off = s_roff + (r + j) * ty;
      const double* w64 = rows_w64 + (r + j) * ty;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int col = 8 * g + i - head;
        if (col >= 0 && col < width) {
          row[col] = mid_of_u8<Mid>(
              exact_run(kStep) ? exact_sum_to_u8(acc[j][i])
                               : height_output_u8(acc[j][i], column + i, off, w64, ty, margin));
        }
      }
    }
    for (g += kFusedThreads; g >= words; ++group) g -= words;
  }
}

// uint8 height pass of the tile rows [4 * q0, 4 * q1), whole quads inside the rows table's quad
// range (upscales: row 4p + i reads the kTaps consecutive input rows from its quad's tap-0 row
// plus quad_offset(kOffsets, i), with the same weights in every quad). An item is one quad of
// rows x kCols consecutive mid elements (a tile row's elements are consecutive bytes of its input
// rows: NCHW planes, or NHWC with every channel in the tile; no alignment needed): it reads the
// quad's quad_reach + kTaps input rows once (x4 up: 5 rows of 2 bytes, where the general loop
// loads 32 bytes for the 8 elements, one per element and tap, each with a staged offset and a
// 64-bit address add) and converts each byte once. The rows table passes imresize_sums_exact
// (launch_fused checks its quad offsets): each sum is exact and rounds as the width pass's quads
// do (exact_sum_to_u8), equal to the float64 reference's rounding.
template <int kTaps, int kOffsets, typename Mid>
__device__ __forceinline__ void height_pass_quads(const uint8_t* row0, int e0, int width, int pitch,
                                                  int q0, int q1, int64_t in_stride, int ty,
                                                  const int64_t* s_roff, const float* s_rw,
                                                  Mid* s_mid) {
  static_assert(kOffsets >= 0, "the quad path needs its quad offsets");
  constexpr int kInputs = quad_reach(kOffsets) + kTaps;
  // Mid elements per item: 4 (the 4 x kTaps weights loaded once per 16 elements) fit in 64
  // registers with 0 spills on sm_80, 86, 89 and 90a since the exact sums dropped the tie redo;
  // before that they spilled on sm_86 and sm_89 (ptxas holds them to 64 registers there).
  constexpr int kCols = 4;
  const int quads = max(q1 - q0, 0);
  const int column_groups = (width + kCols - 1) / kCols;
  // Row 4p + i's tap k weight at w[i * kTaps + k] (ty = kTaps here), the same in every quad of
  // the range: read from shared memory where used (in registers too, the quad kernels spilled).
  const float* w = s_rw + 4 * q0 * kTaps;
  const uint8_t* first = row0 + e0;
  int quad = static_cast<int>(threadIdx.x) / max(column_groups, 1);
  int g = static_cast<int>(threadIdx.x) - quad * column_groups;
  for (int e = threadIdx.x; e < quads * column_groups; e += kFusedThreads) {
    const int r = 4 * (q0 + quad);
    int col[kCols];  // clamped into the row: the padding recomputes a valid element
#pragma unroll
    for (int j = 0; j < kCols; ++j) col[j] = min(kCols * g + j, width - 1);
    const uint8_t* p = first + s_roff[r * ty];  // tap 0 of row r
    float acc[4][kCols];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
#pragma unroll
      for (int j = 0; j < kCols; ++j) acc[i][j] = kExactBias;
    }
#pragma unroll
    for (int t = 0; t < kInputs; ++t) {
      float x[kCols];
#pragma unroll
      for (int j = 0; j < kCols; ++j) x[j] = u8_to_float(__ldg(p + col[j]));
      p += in_stride;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int k = t - quad_offset(kOffsets, i);  // this input's tap in row r + i
        if (k >= 0 && k < kTaps) {
#pragma unroll
          for (int j = 0; j < kCols; ++j) acc[i][j] = fmaf(w[i * kTaps + k], x[j], acc[i][j]);
        }
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      Mid* row = s_mid + (r + i) * pitch;
#pragma unroll
      for (int j = 0; j < kCols; ++j) {
        if (kCols * g + j < width) row[kCols * g + j] = mid_of_u8<Mid>(exact_sum_to_u8(acc[i][j]));
      }
    }
    for (g += kFusedThreads; g >= column_groups; ++quad) g -= column_groups;
  }
}

template <typename Out>
__device__ __forceinline__ Out convert_out(float v);
template <>
__device__ __forceinline__ float convert_out<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half convert_out<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 convert_out<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// T: storage type; Mid: the intermediate (uint8, float or double); Acc: float or double;
// W: staged weight type (double for float64, else float).
// kRunStep, kRunTaps: the rows table's run (ResizeTable::run_*) when its rows go through
// height_pass_run (uint8 word rows), else 0. kQuadTaps: the columns table's taps when its quad
// range (ResizeTable::quad_*) goes through the width pass's quad path (uint8: NCHW words, RGB
// NHWC), else 0; kQuadOffsets: then its quad offsets (ResizeTable::quad_offsets), else -1. A
// rows table with the same taps and quad offsets then has its quads walked by
// height_pass_quads (FusedArgs::row_quad_*).
// (A minimum of 0 blocks per SM is no minimum: an explicit 1 took the other kernels from 48-64 to
// 92-96 registers.)
template <typename T, typename Mid, typename Acc, typename W, int kRunStep = 0, int kRunTaps = 0,
          int kQuadTaps = 0, int kQuadOffsets = -1>
__global__ void __launch_bounds__(kFusedThreads, kRunStep > 0 ? kRunMinBlocks : 0)
    imresize_fused_kernel(const T* __restrict__ src, T* __restrict__ dst, FusedArgs a) {
  constexpr bool kUInt8 = std::is_same<T, uint8_t>::value;
  constexpr int kUnroll = std::is_same<Acc, double>::value ? 1 : 4;  // x kVec loads; 0 spills
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ int s_lo, s_hi;
  const int ty = a.rows_taps, tx = a.cols_taps;
  int64_t* s_roff = reinterpret_cast<int64_t*>(smem);                // [tile_y][ty] row offsets
  W* s_rw = reinterpret_cast<W*>(s_roff + a.tile_y * ty);            // [tile_y][ty]
  W* s_cw = s_rw + a.tile_y * ty;                                    // [tx][kTileX]
  int32_t* s_coff = reinterpret_cast<int32_t*>(s_cw + kTileX * tx);  // [tx][kTileX]
  Mid* s_mid = reinterpret_cast<Mid*>(s_coff + kTileX * tx);         // [tile_y][pitch]

  const int x0 = static_cast<int>(blockIdx.x) * kTileX;
  const int y0 = static_cast<int>(blockIdx.y) * a.tile_y;
  const int nx = min(kTileX, a.out_w - x0);
  const int ny = min(a.tile_y, a.out_h - y0);
  const int n = static_cast<int>(blockIdx.z) / a.groups;
  const int c0 = (static_cast<int>(blockIdx.z) - n * a.groups) * a.ct;
  const int nc = min(a.ct, a.channels - c0);
  // j / nc as a multiply-high by ceil(2^32 / nc): the loops below divide per element, and the
  // division idiom costs two conversions (see u8_to_float). nc is 1..4; for 2..4 this is exact
  // for every j < 2^31 (j * (ceil(2^32 / nc) * nc - 2^32) < 2^32); nc = 1 does not divide.
  // (ceil(2^32 / nc) = floor((2^32 - 1) / nc) + 1 in 32 bits: a 64-bit division is a call.)
  const uint32_t nc_reciprocal = 0xffffffffu / static_cast<uint32_t>(nc) + 1u;
  const W* rows_weight = static_cast<const W*>(a.rows_weight);
  const W* cols_weight = static_cast<const W*>(a.cols_weight);

  // 1. Column range and table slices.
  if (threadIdx.x == 0) {
    s_lo = 0x7fffffff;
    s_hi = -1;
  }
  __syncthreads();
  const int64_t cbase = static_cast<int64_t>(x0) * tx;
  int lo = 0x7fffffff, hi = -1;
  for (int e = threadIdx.x; e < nx * tx; e += kFusedThreads) {
    const int v = __ldg(a.cols_index + cbase + e);
    lo = min(lo, v);
    hi = max(hi, v);
  }
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) {
    lo = min(lo, __shfl_xor_sync(0xffffffffu, lo, s));
    hi = max(hi, __shfl_xor_sync(0xffffffffu, hi, s));
  }
  if ((threadIdx.x & 31) == 0) {
    atomicMin(&s_lo, lo);
    atomicMax(&s_hi, hi);
  }
  const int64_t rbase = static_cast<int64_t>(y0) * ty;
  for (int e = threadIdx.x; e < ny * ty; e += kFusedThreads) {
    s_roff[e] = static_cast<int64_t>(__ldg(a.rows_index + rbase + e)) * a.src_stride[2];
    s_rw[e] = __ldg(rows_weight + rbase + e);
  }
  __syncthreads();
  lo = s_lo;
  const int width = (s_hi - lo + 1) * nc;              // mid elements per tile row
  const int pitch = (width + kVec - 1) / kVec * kVec;  // their row pitch in s_mid
  for (int e = threadIdx.x; e < nx * tx; e += kFusedThreads) {
    const int x = e / tx;
    const int k = e - x * tx;
    s_coff[k * kTileX + x] = (__ldg(a.cols_index + cbase + e) - lo) * nc;
    s_cw[k * kTileX + x] = __ldg(cols_weight + cbase + e);
  }

  // 2. Height pass into shared memory (uint8 rows that allow it: height_pass_words).
  // Each thread computes kVec neighbouring elements of one tile row (rows padded to `pitch`),
  // sharing the staged row offsets and weights and keeping kVec loads in flight per tap; the
  // (row, group) position advances by subtraction (at most ny + groups steps in all). nc is
  // uniform per block, so the nc == 1 branch (NCHW) costs no divergence.
  const T* plane = src + static_cast<int64_t>(n) * a.src_stride[0];
  // Tile rows [walk_lo, walk_hi) are walked after the loop that does the others: by
  // height_pass_run (downscales) or height_pass_quads (upscales). uint8 only (kernels with
  // kRunStep or kQuadTaps are).
  int walk_lo = 0, walk_hi = 0, run_groups = 0, row_q0 = 0, row_q1 = 0;
  if constexpr (kRunStep > 0) {
    if (a.word_rows) {
      walk_lo = max(a.run_begin - y0, 0);
      const int run_rows = min(a.run_end - y0, ny) - walk_lo;
      run_groups = run_rows > 0 ? run_rows / kRunRows : 0;
      walk_hi = walk_lo + run_groups * kRunRows;
    }
  }
  if constexpr (kQuadTaps > 0) {
    quads_inside(a.row_quad_begin, a.row_quad_end, y0, ny / 4, row_q0, row_q1);
    walk_lo = 4 * row_q0;
    walk_hi = 4 * max(row_q1, row_q0);
  }
  const int walked = walk_hi - walk_lo;
  bool height_done = false;
  if constexpr (kUInt8) {
    if (a.word_rows) {
      height_pass_words(plane + static_cast<int64_t>(c0) * a.src_stride[1], lo * nc, width, pitch,
                        ny, walk_lo, walk_hi, ty, s_roff, s_rw, a.rows_w64 + rbase, a.rows_margin,
                        s_mid);
      height_done = true;
    }
  }
  const int groups_per_row = pitch / kVec;
  int item_row = static_cast<int>(threadIdx.x) / groups_per_row;
  int g = static_cast<int>(threadIdx.x) - item_row * groups_per_row;
  const int items = height_done ? 0 : (ny - walked) * groups_per_row;
  for (int e = threadIdx.x; e < items; e += kFusedThreads) {
    const int r = past_skip(item_row, walk_lo, walked);
    const T* p[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const int j = min(g * kVec + i, width - 1);  // the padding recomputes a valid element
      int col = j, c = 0;
      if (nc != 1) {
        col = static_cast<int>(__umulhi(static_cast<uint32_t>(j), nc_reciprocal));
        c = j - col * nc;
      }
      p[i] = plane + static_cast<int64_t>(c0 + c) * a.src_stride[1] +
             static_cast<int64_t>(lo + col) * a.src_stride[3];
    }
    const int64_t* off = s_roff + r * ty;
    const W* w = s_rw + r * ty;
    Acc acc[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i) acc[i] = Acc(0);
#pragma unroll(kUnroll)
    for (int k = 0; k < ty; ++k) {
      const int64_t o = off[k];
      const W wk = w[k];
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        if constexpr (std::is_same<Acc, double>::value) {
          acc[i] = __dadd_rn(acc[i], __dmul_rn(wk, load_acc<Acc>(p[i] + o)));
        } else {
          acc[i] = fmaf(wk, load_acc<Acc>(p[i] + o), acc[i]);
        }
      }
    }
    Mid* row = s_mid + r * pitch + g * kVec;
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      if (g * kVec + i < width) {
        if constexpr (kUInt8) {
          const double* w64 = a.rows_w64 + rbase + static_cast<int64_t>(r) * ty;
          row[i] = mid_of_u8<Mid>(height_output_u8(acc[i], p[i], off, w64, ty, a.rows_margin));
        } else {
          row[i] = static_cast<Mid>(acc[i]);
        }
      }
    }
    for (g += kFusedThreads; g >= groups_per_row; ++item_row) g -= groups_per_row;
  }
  // The walks last: their loops are the register-heavy ones, and after them nothing of this
  // pass stays live (with a walk first, the bounds the other loop needs stayed live across it
  // and spilled at the run kernels' 80-register cap).
  if constexpr (kUInt8) {
    const uint8_t* row0 = plane + static_cast<int64_t>(c0) * a.src_stride[1];
    if constexpr (kRunStep > 0) {
      if (a.word_rows) {
        height_pass_run<kRunStep, kRunTaps>(row0, lo * nc, width, pitch, walk_lo, run_groups,
                                            a.src_stride[2], ty, s_roff, s_rw, a.rows_w64 + rbase,
                                            a.rows_margin, s_mid);
      }
    }
    if constexpr (kQuadTaps > 0) {
      height_pass_quads<kQuadTaps, kQuadOffsets>(row0, lo * nc, width, pitch, row_q0, row_q1,
                                                 a.src_stride[2], ty, s_roff, s_rw, s_mid);
    }
  }
  __syncthreads();

  // 3. Width pass from shared memory to the output (uint8 rows that allow it: four outputs
  // and one 4-byte store per item, see FusedArgs::word_out).
  const int per_row = nx * nc;
  T* image = dst + static_cast<int64_t>(n) * a.dst_stride[0];
  const double* cols_w64 = a.cols_w64 + cbase;
  // Groups [g0, g1) of 4 pixels inside the columns table's run (downscales: width_sums_run) or
  // quad range (upscales: the quad path) give 4 * nc outputs per item (width_groups: NCHW
  // planes, nc = 1, and RGB NHWC, nc = 3); the loops below skip their elements
  // [4 * nc * g0, 4 * nc * g1) of each tile row.
  // The output at (c0, y0, x0): element j of tile row r is tile[r * dst_stride[2] + j] where
  // tile rows are consecutive bytes (FusedArgs::word_out).
  T* tile = image + static_cast<int64_t>(c0) * a.dst_stride[1] +
            static_cast<int64_t>(y0) * a.dst_stride[2] + static_cast<int64_t>(x0) * a.dst_stride[3];
  int g0 = 0, g1 = 0;
  if constexpr (kRunStep > 0 || kQuadTaps > 0) {
    // Upscales (quads) only where output rows are whole words: see width_groups' stores.
    if ((nc == 1 || nc == 3) && (kRunStep > 0 || a.word_out)) {
      if constexpr (kRunStep > 0) {
        quads_inside(a.col_run_begin, a.col_run_end, x0, nx / 4, g0, g1);
      } else {
        quads_inside(a.col_quad_begin, a.col_quad_end, x0, nx / 4, g0, g1);
      }
      if (nc == 1) {
        width_groups<1, kRunStep, kRunTaps, kQuadTaps, kQuadOffsets>(
            s_mid, pitch, ny, g0, g1, nx, tx, s_cw, s_coff, cols_w64, a, tile);
      } else {
        width_groups<3, kRunStep, kRunTaps, kQuadTaps, kQuadOffsets>(
            s_mid, pitch, ny, g0, g1, nx, tx, s_cw, s_coff, cols_w64, a, tile);
      }
    }
  }
  // Elements [skip_begin, skip_begin + skipped) of each tile row were stored above.
  const int skip_begin = 4 * nc * g0;
  const int skipped = 4 * nc * max(g1 - g0, 0);
  if constexpr (kUInt8) {
    if (a.word_out) {
      const int quads = per_row / 4;         // a whole number (launch_fused)
      const int live = quads - skipped / 4;  // per row, the quads not stored above
      int r = static_cast<int>(threadIdx.x) / max(live, 1);
      int qi = static_cast<int>(threadIdx.x) - r * live;
      for (int e = threadIdx.x; e < ny * live; e += kFusedThreads) {
        const int q = past_skip(qi, skip_begin / 4, skipped / 4);
        const Mid* row = s_mid + r * pitch;
        uint32_t word = 0;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int j = 4 * q + i;
          int x = j, c = 0;
          if (nc != 1) {
            x = static_cast<int>(__umulhi(static_cast<uint32_t>(j), nc_reciprocal));
            c = j - x * nc;
          }
          const uint8_t v = width_output_u8(row + c, x, tx, s_cw, s_coff, cols_w64, a.cols_margin);
          word |= static_cast<uint32_t>(v) << (8 * i);
        }
        *reinterpret_cast<uint32_t*>(tile + static_cast<int64_t>(r) * a.dst_stride[2] + 4 * q) =
            word;
        for (qi += kFusedThreads; qi >= live; ++r) qi -= live;
      }
      return;
    }
  }
  const int live = per_row - skipped;  // per row, the elements not stored above
  int r = static_cast<int>(threadIdx.x) / max(live, 1);
  int ji = static_cast<int>(threadIdx.x) - r * live;
  for (int e = threadIdx.x; e < ny * live; e += kFusedThreads) {
    const int j = past_skip(ji, skip_begin, skipped);
    int x = j, c = 0;
    if (nc != 1) {
      x = static_cast<int>(__umulhi(static_cast<uint32_t>(j), nc_reciprocal));
      c = j - x * nc;
    }
    const Mid* m = s_mid + r * pitch + c;
    T* q = tile + static_cast<int64_t>(c) * a.dst_stride[1] +
           static_cast<int64_t>(r) * a.dst_stride[2] + static_cast<int64_t>(x) * a.dst_stride[3];
    if constexpr (kUInt8) {
      *q = width_output_u8(m, x, tx, s_cw, s_coff, cols_w64, a.cols_margin);
    } else {
      const Acc acc = width_sum<Acc>(m, x, tx, s_cw, s_coff);
      if constexpr (std::is_same<Acc, double>::value) {
        *q = acc;
      } else {
        *q = convert_out<T>(acc);
      }
    }
    for (ji += kFusedThreads; ji >= live; ++r) ji -= live;
  }
}

// Tile height of the fused kernel, 0 if none fits; `bytes` (if given) its dynamic shared memory.
// The tallest of kMaxTileY, ..., 16 rows that fits in shared memory, is not taller than the output,
// and still leaves kMinFusedBlocks blocks; under 16 rows only when shared memory requires it.
// A block's fixed work (the column range, staging both tables: dependent global-memory round
// trips and barriers) is the same for any height, and an upscale's 16 x 128 tile has little else
// to do (2048 outputs of 4 taps), so taller tiles spread it over more outputs.
int64_t fused_tile_rows(const ResizeTable& rows, const ResizeTable& cols, int64_t ct, int64_t out_h,
                        int64_t blocks_xz, int64_t mid_bytes, int64_t weight_bytes,
                        int64_t* bytes) {
  for (int64_t rows_per_tile = kMaxTileY; rows_per_tile >= 1; rows_per_tile /= 2) {
    const int64_t need =
        rows_per_tile * rows.taps * (static_cast<int64_t>(sizeof(int64_t)) + weight_bytes) +
        kTileX * cols.taps * (static_cast<int64_t>(sizeof(int32_t)) + weight_bytes) +
        rows_per_tile * (cols.tile_span * ct + kVec - 1) * mid_bytes;
    if (need > kFusedSmemLimit) continue;
    const int64_t blocks = blocks_xz * ((out_h + rows_per_tile - 1) / rows_per_tile);
    if (rows_per_tile > 16 && (rows_per_tile > out_h || blocks < kMinFusedBlocks)) continue;
    if (bytes != nullptr) *bytes = need;
    return rows_per_tile;
  }
  return 0;
}

// Launches the fused kernel when its tile fits in shared memory and the grid limits; returns
// false (nothing launched) otherwise, and the caller runs the two-kernel path.
template <typename T, typename Mid, typename Acc, typename W>
bool launch_fused(const T* src, const Tensor4d& sd, T* dst, const Tensor4d& dd,
                  const ResizeTable& rows, const ResizeTable& cols, cudaStream_t stream, bool runs,
                  Status* status, bool as_tall_as_uint8 = false) {
  const int64_t batch = dd.size[0], channels = dd.size[1], out_h = dd.size[2], out_w = dd.size[3];
  constexpr int64_t kInt32Max = 0x7fffffffLL;
  if (rows.out_len != out_h || cols.out_len != out_w || rows.in_len != sd.size[2] ||
      cols.in_len != sd.size[3] || sd.size[0] != batch || sd.size[1] != channels) {
    return false;  // inconsistent descriptors: the two-kernel path validates them
  }
  if (cols.tile_span < 1 || cols.tile_span > kInt32Max / 64 || channels > kInt32Max ||
      out_h > kInt32Max - kInt32Max / 2 || out_w > kInt32Max - kInt32Max / 2 || rows.taps > 4096 ||
      cols.taps > 4096) {
    return false;
  }
  const int64_t ct = channels <= 4 && sd.stride[1] < sd.stride[3] ? channels : 1;
  const int64_t groups = (channels + ct - 1) / ct;
  const int64_t blocks_z = batch * groups;
  const int64_t blocks_x = (out_w + kTileX - 1) / kTileX;
  if (blocks_z > 65535 || blocks_x > kInt32Max) return false;
  int64_t bytes = 0;
  const int64_t tile_y =
      fused_tile_rows(rows, cols, ct, out_h, blocks_x * blocks_z, sizeof(Mid), sizeof(W), &bytes);
  // A float intermediate for uint8 only where it is as tall as the uint8 one (see run).
  if (as_tall_as_uint8 &&
      tile_y < fused_tile_rows(rows, cols, ct, out_h, blocks_x * blocks_z, 1, sizeof(W), nullptr)) {
    return false;
  }
  if (tile_y < 1) return false;
  const int64_t blocks_y = (out_h + tile_y - 1) / tile_y;
  if (blocks_y > 65535) return false;
  FusedArgs a;
  for (int d = 0; d < 4; ++d) {
    a.src_stride[d] = sd.stride[d];
    a.dst_stride[d] = dd.stride[d];
  }
  a.channels = static_cast<int32_t>(channels);
  a.ct = static_cast<int32_t>(ct);
  a.groups = static_cast<int32_t>(groups);
  a.out_h = static_cast<int32_t>(out_h);
  a.out_w = static_cast<int32_t>(out_w);
  a.tile_y = static_cast<int32_t>(tile_y);
  a.rows_taps = static_cast<int32_t>(rows.taps);
  a.cols_taps = static_cast<int32_t>(cols.taps);
  a.rows_index = rows.index;
  a.cols_index = cols.index;
  a.rows_weight = std::is_same<W, double>::value ? static_cast<const void*>(rows.weight)
                                                 : static_cast<const void*>(rows.weight_f32);
  a.cols_weight = std::is_same<W, double>::value ? static_cast<const void*>(cols.weight)
                                                 : static_cast<const void*>(cols.weight_f32);
  a.rows_w64 = rows.weight;
  a.cols_w64 = cols.weight;
  a.rows_margin = rows.tie_margin;
  a.cols_margin = cols.tie_margin;
  // Word rows (uint8): a tile row's span is consecutive bytes (NCHW planes, or NHWC with every
  // channel in the tile), every row starts on an 8-byte boundary and is a whole number of words.
  const bool consecutive = ct == 1 ? sd.stride[3] == 1 : sd.stride[1] == 1 && sd.stride[3] == ct;
  const int64_t row_bytes = sd.size[3] * ct;
  const bool planes_aligned = ct != 1 || channels == 1 || sd.stride[1] % 8 == 0;
  a.word_rows = std::is_same<T, uint8_t>::value && consecutive && planes_aligned &&
                reinterpret_cast<uintptr_t>(src) % 8 == 0 && sd.stride[0] % 8 == 0 &&
                sd.stride[2] % 8 == 0 && row_bytes % 8 == 0;
  const bool out_consecutive =
      ct == 1 ? dd.stride[3] == 1 : dd.stride[1] == 1 && dd.stride[3] == ct;
  const bool out_planes_aligned = ct != 1 || channels == 1 || dd.stride[1] % 4 == 0;
  // Every tile row a whole number of words too: out_w * ct and kTileX * ct multiples of 4.
  a.word_out = std::is_same<T, uint8_t>::value && out_consecutive && out_planes_aligned &&
               reinterpret_cast<uintptr_t>(dst) % 4 == 0 && dd.stride[0] % 4 == 0 &&
               dd.stride[2] % 4 == 0 && (out_w * ct) % 4 == 0;
  a.run_begin = static_cast<int32_t>(rows.run_begin);
  a.run_end = static_cast<int32_t>(rows.run_end);
  const bool col_run =
      cols.run_step == rows.run_step && cols.taps == rows.taps && cols.run_exact == rows.run_exact;
  a.col_run_begin = col_run ? static_cast<int32_t>(cols.run_begin) : 0;
  a.col_run_end = col_run ? static_cast<int32_t>(cols.run_end) : 0;
  a.col_quad_begin = static_cast<int32_t>(cols.quad_begin);
  a.col_quad_end = static_cast<int32_t>(cols.quad_end);
  // Rows walked by quads in the quad kernels (height_pass_quads): the columns' taps and quad
  // offsets (the kernel's), tile rows of consecutive bytes, tiles of whole quads.
  const bool row_quads = runs && consecutive && rows.taps == cols.taps && rows.quad_offsets >= 0 &&
                         rows.quad_offsets == cols.quad_offsets && tile_y % 4 == 0;
  a.row_quad_begin = row_quads ? static_cast<int32_t>(rows.quad_begin) : 0;
  a.row_quad_end = row_quads ? static_cast<int32_t>(rows.quad_end) : 0;
  const dim3 grid(static_cast<unsigned>(blocks_x), static_cast<unsigned>(blocks_y),
                  static_cast<unsigned>(blocks_z));
  const auto smem = static_cast<size_t>(bytes);
  // The x2, x3 and x4 antialiased downscales' rows run by height_pass_run (uint8 word rows,
  // runs of at least kRunRows rows, unless `runs` is off).
  bool launched = false;
  if constexpr (std::is_same<T, uint8_t>::value) {
    const bool run_rows = a.word_rows && runs && rows.run_end - rows.run_begin >= kRunRows;
    const auto taps_of = [&](int step, int64_t taps) {
      return run_rows && rows.run_step == step && rows.taps == taps &&
             (!exact_run(step) || rows.run_exact);
    };
    // The x4 and x2 upscales' width quads (output rows of whole words: NCHW planes, or RGB NHWC)
    // by the quad path.
    const auto quads_of = [&](int offsets) {
      return runs && a.word_out && (ct == 1 || ct == 3) && cols.taps == 4 &&
             cols.quad_end - cols.quad_begin >= 8 && cols.quad_offsets == offsets;
    };
    launched = true;
    if (taps_of(4, 16)) {
      imresize_fused_kernel<T, Mid, Acc, W, 4, 16>
          <<<grid, kFusedThreads, smem, stream>>>(src, dst, a);
    } else if (taps_of(3, 11)) {
      imresize_fused_kernel<T, Mid, Acc, W, 3, 11>
          <<<grid, kFusedThreads, smem, stream>>>(src, dst, a);
    } else if (taps_of(2, 8)) {
      imresize_fused_kernel<T, Mid, Acc, W, 2, 8>
          <<<grid, kFusedThreads, smem, stream>>>(src, dst, a);
    } else if (quads_of(kX4UpQuadOffsets)) {
      imresize_fused_kernel<T, Mid, Acc, W, 0, 0, 4, kX4UpQuadOffsets>
          <<<grid, kFusedThreads, smem, stream>>>(src, dst, a);
    } else if (quads_of(kX2UpQuadOffsets)) {
      imresize_fused_kernel<T, Mid, Acc, W, 0, 0, 4, kX2UpQuadOffsets>
          <<<grid, kFusedThreads, smem, stream>>>(src, dst, a);
    } else {
      launched = false;
    }
  }
  if (!launched) {
    imresize_fused_kernel<T, Mid, Acc, W><<<grid, kFusedThreads, smem, stream>>>(src, dst, a);
  }
  *status = cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
  return true;
}

template <typename T, typename Mid, typename Acc>
Status run(const void* src, const Tensor4d& sd, void* mid, const Tensor4d& md, void* dst,
           const Tensor4d& dd, const ResizeTable& rows, const ResizeTable& cols,
           cudaStream_t stream, bool allow_fused, bool runs) {
  int64_t total = 1;
  for (int d = 0; d < 4; ++d) total *= dd.size[d];
  if (total == 0) return Status::kOk;
  // The fused kernel: uint8 sums in float32 with the float64 tie redo, float64 in float64.
  using FusedAcc = typename std::conditional<std::is_same<T, double>::value, double, float>::type;
  Status fused = Status::kOk;
  const auto* s = static_cast<const T*>(src);
  auto* d = static_cast<T*>(dst);
  if constexpr (std::is_same<T, uint8_t>::value) {
    // uint8 with the intermediate in shared memory as (integer-valued) floats where that costs
    // no tile height (upscales, whose tiles span few mid columns): the width pass, most of an
    // upscale's work, then reads floats instead of converting a byte per tap.
    if (allow_fused && launch_fused<T, float, float, float>(s, sd, d, dd, rows, cols, stream, runs,
                                                            &fused, true)) {
      return fused;
    }
  }
  if (allow_fused &&
      launch_fused<T, Mid, FusedAcc, FusedAcc>(s, sd, d, dd, rows, cols, stream, runs, &fused)) {
    return fused;
  }
  // Two kernels through `mid` (tiles too wide for shared memory, e.g. extreme downscales).
  const Status first = pass<T, Mid, Acc>(src, sd, mid, md, rows, 2, stream);
  if (first != Status::kOk) return first;
  return pass<Mid, T, Acc>(mid, md, dst, dd, cols, 3, stream);
}

}  // namespace

Status launch_imresize(ImresizeDtype dtype, const void* src, const Tensor4d& src_desc, void* mid,
                       const Tensor4d& mid_desc, void* dst, const Tensor4d& dst_desc,
                       const ResizeTable& rows, const ResizeTable& cols, cudaStream_t stream,
                       bool allow_fused, bool allow_runs) {
  for (int d = 0; d < 4; ++d) {
    if (src_desc.size[d] < 0 || mid_desc.size[d] < 0 || dst_desc.size[d] < 0) {
      return Status::kInvalidArgument;
    }
    if (src_desc.stride[d] < 0 || mid_desc.stride[d] < 0 || dst_desc.stride[d] < 0) {
      return Status::kInvalidArgument;
    }
  }
  if (rows.taps < 1 || cols.taps < 1 || rows.in_len != src_desc.size[2] ||
      rows.out_len != mid_desc.size[2] || cols.in_len != mid_desc.size[3] ||
      cols.out_len != dst_desc.size[3]) {
    return Status::kInvalidArgument;
  }
  switch (dtype) {
    case ImresizeDtype::kUInt8:
      return run<uint8_t, uint8_t, double>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols,
                                           stream, allow_fused, allow_runs);
    case ImresizeDtype::kFloat32:
      return run<float, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols,
                                      stream, allow_fused, allow_runs);
    case ImresizeDtype::kFloat64:
      return run<double, double, double>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols,
                                         stream, allow_fused, allow_runs);
    case ImresizeDtype::kFloat16:
      return run<__half, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols,
                                       stream, allow_fused, allow_runs);
    case ImresizeDtype::kBFloat16:
      return run<__nv_bfloat16, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows,
                                              cols, stream, allow_fused, allow_runs);
  }
  return Status::kInvalidArgument;
}

}  // namespace sr
