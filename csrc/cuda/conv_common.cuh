// Shared building blocks of the fused 3x3 convolution kernels (residual_block.cu,
// conv_pixel_shuffle.cu): tensor-core MMA (mma.sync m16n8k16, fp32 accumulation), ldmatrix,
// cp.async, and one block-wide implicit-GEMM pass over a shared-memory activation tile.
//
// Implicit GEMM from shared memory: the source activation tile lives in shared memory as
// [pixel][channel] with a pixel stride of C + 8 elements (the 16 extra bytes make every 8
// consecutive pixels start in distinct 16-byte bank groups, so ldmatrix is conflict-free without
// swizzling; C must be a multiple of 16). A destination pixel (r, c) of a DH x DW grid reads the
// source pixels (r + dy, c + dx), dy, dx in 0..2. GEMM rows M = destination pixels, columns N =
// output channels, reduction K = 9 taps x C_in. ldmatrix takes one row address per thread, so the
// A operand is gathered straight from the tile (no im2col copy). Weights, [C_out][tap][C_in] (the
// channels_last layout of PyTorch's [C_out, C_in, 3, 3] weight, so a channels_last parameter is
// used as it is), stream from global memory (L2-resident: at most 1.2 MB) through a
// multi-stage cp.async ring of (tap, C_in block) slices.
//
// Sm_80 and sm_90 both run this path with mma.sync (m16n8k16 per warp). ConvPass<..., kWgmma =
// true> instead issues Hopper's warpgroup MMA (wgmma.mma_async m64n64k16: 4 warps, 64 rows, A
// from the same ldmatrix registers, B from shared memory through a matrix descriptor), which
// exists only in sm_90a code (the build targets sm_90a for compute capability 9.0; _build.py);
// other targets compile those kernels as a trap and the launchers never pick them there.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#if defined(SR_CUDA_EMULATION)
// The CPU tests without a GPU (tests/csrc/emulation) define the wrappers below as host code.
#include "cuda_emulation_conv.h"
#endif

namespace sr {
namespace conv {

// ----------------------------------------------------------------------------------------------
// PTX wrappers.
#if !defined(SR_CUDA_EMULATION)

__device__ __forceinline__ uint32_t smem_addr(const void* ptr) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(ptr));
}

// 16-byte asynchronous global -> shared copy; src_bytes = 0 writes zeros (image padding).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(src_bytes)
               : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* ptr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(ptr)));
}

__device__ __forceinline__ void ldmatrix_x2(uint32_t& r0, uint32_t& r1, const void* ptr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r0), "=r"(r1)
               : "r"(smem_addr(ptr)));
}

// D = A (16x16, row) * B (16x8, col) + D, fp32 accumulators.
template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1);

template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                 uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4],
                                                        uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ----------------------------------------------------------------------------------------------
// Warpgroup MMA (sm_90a).

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SR_CONV_WGMMA 1
#endif

__device__ __forceinline__ void wgmma_fence() {
#if defined(SR_CONV_WGMMA)
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void wgmma_commit() {
#if defined(SR_CONV_WGMMA)
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void wgmma_wait_all() {
#if defined(SR_CONV_WGMMA)
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#endif
}

// Pins the accumulators at this point of the program: the compiler must not move their reads
// or writes across it (wgmma updates them asynchronously, out of the compiler's sight).
__device__ __forceinline__ void fence_accumulators(float (&d)[8][4]) {
#pragma unroll
  for (int j = 0; j < 8; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) asm volatile("" : "+f"(d[j][e])::"memory");
  }
}

// D (the warpgroup's 64 x 64 tile; this warp holds its 16 rows as d[j] = mma.sync's n8 tile j)
// += A (this warp's 16 x 16 slice in registers, ldmatrix / mma.sync fragment layout) x B (16 x 64,
// K-major in shared memory, `b` its descriptor). fp32 accumulation.
template <typename T>
__device__ __forceinline__ void wgmma_m64n64k16(float (&d)[8][4], const uint32_t (&a)[4],
                                                uint64_t b);

#define SR_WGMMA_M64N64K16(TYPE)                                                                  \
  asm volatile(                                                                                   \
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"                                                \
      "wgmma.mma_async.sync.aligned.m64n64k16.f32." TYPE "." TYPE                                 \
      " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, "   \
      "%19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, "  \
      "%36, p, 1, 1, 0;\n}\n"                                                                     \
      : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), \
        "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), \
        "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), \
        "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), \
        "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), \
        "+f"(d[7][2]), "+f"(d[7][3])                                                              \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1))

template <>
__device__ __forceinline__ void wgmma_m64n64k16<__half>(float (&d)[8][4], const uint32_t (&a)[4],
                                                        uint64_t b) {
#if defined(SR_CONV_WGMMA)
  SR_WGMMA_M64N64K16("f16");
#else
  __trap();  // not sm_90a: never launched (see the file comment)
#endif
}

template <>
__device__ __forceinline__ void wgmma_m64n64k16<__nv_bfloat16>(float (&d)[8][4],
                                                               const uint32_t (&a)[4], uint64_t b) {
#if defined(SR_CONV_WGMMA)
  SR_WGMMA_M64N64K16("bf16");
#else
  __trap();
#endif
}

#undef SR_WGMMA_M64N64K16

#endif  // !SR_CUDA_EMULATION

// Shared-memory matrix descriptor of a K-major operand without swizzling: 8 x 16-byte core
// matrices, `k_step` bytes apart along K and `n_step` bytes apart along M/N (PTX ISA, "Matrix
// Descriptor": start address, leading- and stride-dimension byte offsets, all >> 4; base offset
// and swizzle mode 0).
__device__ __forceinline__ uint64_t wgmma_descriptor(const void* matrix, uint32_t k_step,
                                                     uint32_t n_step) {
  const uint64_t start = (smem_addr(matrix) & 0x3FFFFu) >> 4;
  return start | (static_cast<uint64_t>(k_step >> 4) << 16) |
         (static_cast<uint64_t>(n_step >> 4) << 32);
}

// ----------------------------------------------------------------------------------------------
// Scalar conversions.

template <typename T>
struct Pair;
template <>
struct Pair<__half> {
  using type = __half2;
  __device__ static __half2 make(float a, float b) { return __floats2half2_rn(a, b); }
  __device__ static float2 unpack(__half2 v) { return __half22float2(v); }
};
template <>
struct Pair<__nv_bfloat16> {
  using type = __nv_bfloat162;
  __device__ static __nv_bfloat162 make(float a, float b) { return __floats2bfloat162_rn(a, b); }
  __device__ static float2 unpack(__nv_bfloat162 v) { return __bfloat1622float2(v); }
};

// ReLU that keeps NaN, as torch.relu does (fmaxf(NaN, 0) is 0).
__device__ __forceinline__ float relu(float v) { return v < 0.0f ? 0.0f : v; }

// Explicit intrinsics: torch's nvcc flags (-D__CUDA_NO_HALF_CONVERSIONS__ and friends) remove
// the implicit float <-> half/bfloat16 conversions.
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// ----------------------------------------------------------------------------------------------
// One block-wide GEMM pass: acc[M rows, kBN columns] = sum over 9 taps and C_in of
// src_tile[shifted pixel][k] * weights[tap][n0 + n][k].
//
// Warps form a kWarpsM x kWarpsN grid. Warp (wm, wn) owns the columns wn*kNT*8 .. +kNT*8 and the
// 16-row M tiles wm, wm + kWarpsM, wm + 2*kWarpsM, ... (at most kMT of them): the tile count of
// a pass is a run-time number (halo grids are not multiples of 16), and a warp skips its missing
// tiles with a warp-uniform branch, so accumulators stay in registers (compile-time indices).

struct PassArgs {
  const void* src;   // shared-memory source tile (element type T)
  int src_width;     // pixels per source row (SW)
  int pixel_stride;  // elements per source pixel (C_in + 8)
  int dst_width;     // pixels per destination row (DW)
  int rows;          // destination pixels M = DH * DW
  const void* w;     // global weights [w_rows][9][cin]
  int w_rows;        // output channels of the whole convolution (rows per tap)
  int cin;           // input channels (reduction per tap)
  int n0;            // first output channel of this pass
  int kc;            // input channels per pipeline step: 16, 32 or 64, divides cin, <= kKC
};

// kWgmma: warpgroup MMA instead of mma.sync (sm_90a only). The warps of a warpgroup (4 in a row)
// then own the 4 consecutive 16-row tiles of one 64-row tile (the mma.sync pass's warp w owns
// tiles w, w + kWarpsM, ...: the same rows, so the accumulators and epilogues are unchanged),
// every warpgroup runs as many 64-row tiles as the first one has rows in (wgmma_steps_for_rows),
// and a stage holds the weights in 8 x 8 core matrices ([n / 8][k / 8][8][8]: the descriptor's
// canonical no-swizzle layout).
template <typename T, int kWarpsM, int kWarpsN, int kMT, int kNT, int kKC, int kStages,
          bool kWgmma = false>
struct ConvPass {
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kBN = kWarpsN * kNT * 8;
  static constexpr int kColumnTiles = kNT;      // accumulator column tiles (8 wide) per thread
  static constexpr int kStageStride = kKC + 8;  // elements per weight row in a stage
  static constexpr int kStageElems = kBN * kStageStride;
  static constexpr int kMaxRows = kWarpsM * kMT * 16;
  static_assert(kKC % 16 == 0 && kKC <= 64, "kKC must be 16, 32 or 64");
  static_assert(kStages >= 2, "need at least two pipeline stages");
  static_assert(!kWgmma || (kWarpsN == 1 && kNT == 8 && kWarpsM % 4 == 0),
                "the wgmma pass takes whole warpgroups over 64-row tiles of 64 channels");

  using Acc = float[kMT][kNT][4];

  static constexpr int stage_bytes() { return kStages * kStageElems * static_cast<int>(sizeof(T)); }

  // The weight-stage loads and the step positions of one pass with kSlices K slices (16 *
  // kSlices input channels) per pipeline step; steps walk (tap, K block) with K blocks innermost.
  //
  // A stage is kBN weight rows x 2 * kSlices 16-byte vectors, loaded by the block's threads with
  // a compile-time trip count. Step s's stage starts s * 16 * kSlices elements into every row
  // (rows are [tap][C_in]: the K blocks of a tap, then the next tap's), so a thread's source
  // pointers are fixed for the pass plus one block-uniform offset per step. Before, the loads
  // were re-addressed from (tap, K block) every step in 64-bit index arithmetic: in the sm_90a
  // SASS a kc = 64 step of the 8-warp residual block took 261 / 258 instructions (conv1 /
  // conv2) around its 96 HMMA, now 227 / 215; the upsampler's 219, now 176 around 64 (and
  // before 2026-12-01 a run-time loop unrolled by 4 with remainder branches took ~40 more).
  template <int kSlices>
  struct Pipeline {
    static constexpr int kStepK = 16 * kSlices;  // input channels per step
    static constexpr int kVecs = 2 * kSlices;    // 16-byte vectors per weight row of a stage
    static constexpr int kTotal = kBN * kVecs;
    static constexpr int kIters = (kTotal + kThreads - 1) / kThreads;

    const T* src[kIters];  // this thread's vectors at step 0; nullptr: a row past C_out (zeros)
    int kblocks, total;    // K blocks per tap, steps in the pass
    int kb = 0, dx = 0, dy = 0;  // the current step's K block and tap (3 x 3 window offset)

    __device__ Pipeline(const PassArgs& p, int tid) : kblocks(p.cin / kStepK) {
      total = 9 * kblocks;
      const T* w = static_cast<const T*>(p.w);
#pragma unroll
      for (int it = 0; it < kIters; ++it) {
        const int i = tid + it * kThreads;
        const int row = vector_row(i);
        // Output channels are 9 * cin elements apart ([C_out][tap][C_in]).
        src[it] = p.n0 + row < p.w_rows
                      ? w + (static_cast<int64_t>(p.n0 + row) * 9 * p.cin + vector_column(i) * 8)
                      : nullptr;
      }
    }

    // Vector i's weight row and its 16-byte column in the stage row.
    __device__ static int vector_row(int i) {
      return kWgmma ? ((i >> 3) / kVecs) * 8 + (i & 7) : i / kVecs;
    }
    __device__ static int vector_column(int i) { return kWgmma ? (i >> 3) % kVecs : i % kVecs; }

    // cp.async of step `step`'s stage into `stage` (rows past C_out as zeros).
    __device__ void load(const PassArgs& p, T* stage, int step, int tid) const {
      const int offset = step * kStepK;
#pragma unroll
      for (int it = 0; it < kIters; ++it) {
        const int i = tid + it * kThreads;
        if (kTotal % kThreads != 0 && i >= kTotal) break;
        int dst;
        if constexpr (kWgmma) {
          // Core matrix (n / 8, k / 8) at ((n / 8) * kKC / 8 + k / 8) * 64 elements, its 8 rows 16
          // bytes apart. Consecutive threads take consecutive rows of one core matrix, so a
          // warp's 16-byte writes fill 512 contiguous bytes.
          dst = (((i >> 3) / kVecs) * (kKC / 8) + vector_column(i)) * 64 + (i & 7) * 8;
        } else {
          dst = vector_row(i) * kStageStride + vector_column(i) * 8;
        }
        const bool inside = src[it] != nullptr;
        cp_async16(stage + dst, inside ? src[it] + offset : static_cast<const T*>(p.w),
                   inside ? 16 : 0);
      }
    }

    // The first kStages - 1 stages of the pass.
    __device__ void prologue(const PassArgs& p, T* stages, int tid) const {
#pragma unroll
      for (int s = 0; s < kStages - 1; ++s) {
        if (s < total) load(p, stages + s * kStageElems, s, tid);
        cp_async_commit();
      }
    }

    // The start of step `step`: waits for its weight stage (returned), makes it visible to every
    // thread and starts loading the stage kStages - 1 steps ahead. `a_base` is set to the step's
    // A base: its tap's shifted window and K block in the source tile.
    __device__ const T* begin(const PassArgs& p, T* stages, int step, int tid,
                              const T*& a_base) const {
      cp_async_wait<kStages - 2>();
      __syncthreads();
      const int ahead = step + kStages - 1;
      if (ahead < total) load(p, stages + (ahead % kStages) * kStageElems, ahead, tid);
      cp_async_commit();
      a_base =
          static_cast<const T*>(p.src) + (dy * p.src_width + dx) * p.pixel_stride + kb * kStepK;
      return stages + (step % kStages) * kStageElems;
    }

    // To the next step's K block and tap (no division by the run-time kblocks per step: that
    // cost ~20 instructions in the SASS).
    __device__ void advance() {
      if (++kb == kblocks) {
        kb = 0;
        if (++dx == 3) {
          dx = 0;
          ++dy;
        }
      }
    }
  };

  // The operands of one 16-wide K slice: the warp's kMT A tiles and kNT B tiles.
  struct Fragments {
    uint32_t a[kMT][4];
    uint32_t b[kNT][2];
  };

  // ldmatrix of one K slice. Every A tile is loaded, present or not: its row addresses are
  // clamped to the pass's last pixel, so the load is in bounds, and without a branch the loads
  // of a slice can all be in flight before the first MMA needs them.
  __device__ static void load_fragments(Fragments& f, const T* a_slice, const int (&a_offset)[kMT],
                                        const T* b_slice) {
#pragma unroll
    for (int j = 0; j < kNT; j += 2) {
      const T* ptr = b_slice + j * 8 * kStageStride;
      if (j + 1 < kNT) {
        uint32_t r4[4];
        ldmatrix_x4(r4, ptr);
        f.b[j][0] = r4[0];
        f.b[j][1] = r4[1];
        f.b[j + 1][0] = r4[2];
        f.b[j + 1][1] = r4[3];
      } else {
        ldmatrix_x2(f.b[j][0], f.b[j][1], ptr);
      }
    }
#pragma unroll
    for (int i = 0; i < kMT; ++i) ldmatrix_x4(f.a[i], a_slice + a_offset[i]);
  }

  // The MMAs of one K slice for the warp's present tiles (a warp-uniform branch per tile).
  __device__ static void multiply(Acc& acc, const Fragments& f, int warp_m, int m_tiles) {
#pragma unroll
    for (int i = 0; i < kMT; ++i) {
      if (warp_m + i * kWarpsM < m_tiles) {
#pragma unroll
        for (int j = 0; j < kNT; ++j) mma16816<T>(acc[i][j], f.a[i], f.b[j][0], f.b[j][1]);
      }
    }
  }

  // The pipeline steps with kSlices = kc / 16 K slices each, a compile-time count: the slices
  // of a step are one branch-free sequence in which slice s + 1's ldmatrix loads are issued
  // before slice s's MMAs (two fragment buffers), so shared-memory latency hides behind MMAs.
  // (Before, each A tile's load sat behind a branch right before the 8 MMAs that consume it:
  // the sm_90 SASS waited for every ldmatrix.)
  template <int kSlices>
  __device__ static void steps(Acc& acc, const PassArgs& p, T* stages, int tid,
                               const int (&a_offset)[kMT], int b_offset, int warp_m) {
    const int m_tiles = (p.rows + 15) >> 4;
    Pipeline<kSlices> pipe(p, tid);
    pipe.prologue(p, stages, tid);
    for (int step = 0; step < pipe.total; ++step, pipe.advance()) {
      const T* a_base;
      const T* stage = pipe.begin(p, stages, step, tid, a_base) + b_offset;
      Fragments f[2];
      load_fragments(f[0], a_base, a_offset, stage);
#pragma unroll
      for (int s = 0; s < kSlices; ++s) {
        if (s + 1 < kSlices)
          load_fragments(f[(s + 1) & 1], a_base + (s + 1) * 16, a_offset, stage + (s + 1) * 16);
        multiply(acc, f[s & 1], warp_m, m_tiles);
      }
    }
  }

  // The wgmma form of `steps`: per step, every K slice's A fragments (ldmatrix, as above) are
  // loaded first, then the warpgroup issues one m64n64k16 per (K slice, 64-row tile) back to
  // back and waits for all of them before the next step's barrier (which lets the weight ring
  // overwrite the stage they read). kTiles, the 64-row tiles per warpgroup, is a compile-time
  // count that depends on the pass's rows only: a branch around wgmma on a per-warp value
  // makes ptxas serialize every wgmma (C7520). A warpgroup whose last tile has no rows (when
  // the warpgroups' counts differ) computes it on the clamped rows; for_each drops them.
  template <int kSlices, int kTiles>
  __device__ static void wgmma_steps(Acc& acc, const PassArgs& p, T* stages, int tid,
                                     const int (&a_offset)[kMT]) {
    static_assert(kTiles >= 1 && kTiles <= kMT, "tiles per warpgroup");
    Pipeline<kSlices> pipe(p, tid);
    pipe.prologue(p, stages, tid);
    for (int step = 0; step < pipe.total; ++step, pipe.advance()) {
      const T* a_base;
      const T* stage = pipe.begin(p, stages, step, tid, a_base);
      uint32_t a[kSlices][kTiles][4];
#pragma unroll
      for (int s = 0; s < kSlices; ++s) {
#pragma unroll
        for (int i = 0; i < kTiles; ++i) ldmatrix_x4(a[s][i], a_base + s * 16 + a_offset[i]);
      }
#pragma unroll
      for (int i = 0; i < kTiles; ++i) fence_accumulators(acc[i]);
      wgmma_fence();
#pragma unroll
      for (int s = 0; s < kSlices; ++s) {
        // K slice s: core-matrix columns 2s and 2s + 1 (128 bytes apart), 8-row groups
        // kKC / 8 core matrices apart.
        const uint64_t b = wgmma_descriptor(stage + s * 2 * 64, 128, kKC / 8 * 128);
#pragma unroll
        for (int i = 0; i < kTiles; ++i) wgmma_m64n64k16<T>(acc[i], a[s][i], b);
      }
      wgmma_commit();
      wgmma_wait_all();
#pragma unroll
      for (int i = 0; i < kTiles; ++i) fence_accumulators(acc[i]);
    }
  }

  // wgmma_steps with kTiles = the 64-row tiles the first warpgroup has rows in (uniform over
  // the block, so ptxas sees a uniform branch).
  template <int kSlices>
  __device__ static void wgmma_steps_for_rows(Acc& acc, const PassArgs& p, T* stages, int tid,
                                              const int (&a_offset)[kMT]) {
    const int m_tiles = (p.rows + 15) >> 4;
    const int tiles = (m_tiles + kWarpsM - 1) / kWarpsM;  // tile i holds 16-row tile i * kWarpsM
    if (kMT >= 3 && tiles >= 3) {
      wgmma_steps<kSlices, (kMT >= 3 ? 3 : 1)>(acc, p, stages, tid, a_offset);
    } else if (kMT >= 2 && tiles == 2) {
      wgmma_steps<kSlices, (kMT >= 2 ? 2 : 1)>(acc, p, stages, tid, a_offset);
    } else {
      wgmma_steps<kSlices, 1>(acc, p, stages, tid, a_offset);
    }
  }

  // Runs the pass; stages (kStages * kStageElems elements of shared memory) must not be read by
  // any thread when this is entered. Leaves every cp.async drained and the block synchronised.
  __device__ static void run(Acc& acc, const PassArgs& p, T* stages, int tid) {
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int warp_m = warp / kWarpsN;
    const int warp_n = warp - warp_m * kWarpsN;

#pragma unroll
    for (int i = 0; i < kMT; ++i) {
#pragma unroll
      for (int j = 0; j < kNT; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;
      }
    }

    // ldmatrix.x4 row addresses for A: lane l gives row (l % 16) of the tile at k offset
    // (l / 16) * 8. Rows past M repeat the last pixel (their results are discarded).
    int a_offset[kMT];
#pragma unroll
    for (int i = 0; i < kMT; ++i) {
      int m = (warp_m + i * kWarpsM) * 16 + (lane & 15);
      m = m < p.rows ? m : p.rows - 1;
      const int r = m / p.dst_width;
      const int c = m - r * p.dst_width;
      a_offset[i] = (r * p.src_width + c) * p.pixel_stride + (lane >> 4) * 8;
    }
    // ldmatrix row addresses for B (weights stored [n][k]): matrices (n tile j, k 0-7),
    // (j, k 8-15), (j + 1, k 0-7), (j + 1, k 8-15) from lanes 0-7, 8-15, 16-23, 24-31.
    const int b_offset =
        (warp_n * kNT * 8 + (lane & 7) + ((lane >> 4) << 3)) * kStageStride + ((lane >> 3) & 1) * 8;

    // p.kc is 16, 32 or 64 and at most kKC; each form loads its own pipeline prologue.
    if constexpr (kWgmma) {
      static_assert(kMT <= 3, "wgmma_steps dispatches up to 3 tiles per warpgroup");
      if (kKC >= 64 && p.kc == 64) {
        wgmma_steps_for_rows<kKC >= 64 ? 4 : 1>(acc, p, stages, tid, a_offset);
      } else if (kKC >= 32 && p.kc == 32) {
        wgmma_steps_for_rows<kKC >= 32 ? 2 : 1>(acc, p, stages, tid, a_offset);
      } else {
        wgmma_steps_for_rows<1>(acc, p, stages, tid, a_offset);
      }
    } else if (kKC >= 64 && p.kc == 64) {
      steps<kKC >= 64 ? 4 : 1>(acc, p, stages, tid, a_offset, b_offset, warp_m);
    } else if (kKC >= 32 && p.kc == 32) {
      steps<kKC >= 32 ? 2 : 1>(acc, p, stages, tid, a_offset, b_offset, warp_m);
    } else {
      steps<1>(acc, p, stages, tid, a_offset, b_offset, warp_m);
    }
    cp_async_wait<0>();
    __syncthreads();
  }

  // Column n (relative to n0) of the calling thread's pairs in accumulator column tile j: the
  // n that for_each passes with j. Lets an epilogue load per-column data once per pass.
  __device__ static int column(int tid, int j) {
    const int warp = tid >> 5;
    const int warp_n = warp - (warp / kWarpsN) * kWarpsN;
    return warp_n * kNT * 8 + j * 8 + (tid & 3) * 2;
  }

  // Calls f(m, n, j, v0, v1) for every accumulator pair (row m < rows, columns n and n + 1 of
  // this pass, n = column(tid, j) relative to n0; j is a compile-time index after unrolling)
  // that the calling thread holds.
  template <typename F>
  __device__ static void for_each(const Acc& acc, int rows, int tid, F&& f) {
    const int lane = tid & 31;
    const int warp_m = (tid >> 5) / kWarpsN;
#pragma unroll
    for (int i = 0; i < kMT; ++i) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int m = (warp_m + i * kWarpsM) * 16 + (lane >> 2) + half * 8;
        if (m < rows) {
#pragma unroll
          for (int j = 0; j < kNT; ++j) {
            f(m, column(tid, j), j, acc[i][j][half * 2], acc[i][j][half * 2 + 1]);
          }
        }
      }
    }
  }
};

}  // namespace conv
}  // namespace sr
