// The PTX wrappers of csrc/cuda/conv_common.cuh as CPU code, for the emulated tests
// (conv_common.cuh includes this instead of its inline PTX when SR_CUDA_EMULATION is defined).
//
// Warp-collective instructions gather every lane's operands (sr_emu::warp_all_gather) and give
// each lane its part of the result, with the register layouts of the PTX ISA:
//   ldmatrix .m8n8 .x4 / .x2 (.b16, not transposed): lanes 8i..8i+7 give the row addresses of
//     matrix i (16-byte aligned, in shared memory); lane l receives, for each matrix, the 32 bits
//     at row l / 4, elements 2 (l % 4) and 2 (l % 4) + 1;
//   mma.m16n8k16 .row.col, f32 accumulators, f16 or bf16 operands, with g = l / 4, t = l % 4:
//     a0 = A[g][2t, 2t+1], a1 = A[g+8][2t, 2t+1], a2 = A[g][2t+8, 2t+9], a3 = A[g+8][2t+8, 2t+9];
//     b0 = B[2t, 2t+1][g], b1 = B[2t+8, 2t+9][g];
//     d0 = D[g][2t], d1 = D[g][2t+1], d2 = D[g+8][2t], d3 = D[g+8][2t+1]
//   (the lower-indexed element in the low 16 bits). The products are summed in float64 and
//   added to the float32 accumulator: the tensor cores' own summation order and rounding are
//   not reproduced, so tests compare with tolerances.
//   cp.async: deferred to the wait that covers it (cuda_emulation.h).
//   wgmma.mma_async m64n64k16 (f32 += f16 or bf16), A in registers, B through a shared-memory
//     descriptor, as a warpgroup collective (4 warps): warp w of the warpgroup gives rows
//     16w..16w+15 of A in the mma.sync A layout above and holds the same rows of D, d[j] being
//     the mma.sync D layout of columns 8j..8j+7. B is K-major without swizzling: element (k, n)
//     at start + (n / 8) * SBO + (k / 8) * LBO + (n % 8) * 16 + (k % 8) * 2 bytes (PTX ISA,
//     "Matrix Descriptor": start, LBO and SBO in bits 0-13, 16-29 and 32-45, each >> 4; base
//     offset and swizzle mode must be 0 here). An issued wgmma only records where its operands
//     are; it runs at the wgmma.wait_group that covers it and reads A, B and D then, so a
//     kernel that changes an operand or reads D before that wait gets what the GPU may give it.
//     Also checked: a wgmma.fence since the last wait before the first wgmma, every wgmma
//     committed before the wait, and the same instruction sequence and descriptors across the
//     warpgroup.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cuda_emulation.h"

namespace sr {
namespace conv {

inline uint32_t smem_addr(const void* ptr) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(ptr));
}

inline void require_aligned16(const void* ptr, const char* what) {
  if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0) {
    std::fprintf(stderr, "cuda emulation: %s address not 16-byte aligned\n", what);
    std::abort();
  }
}

inline void cp_async16(void* dst, const void* src, int src_bytes) {
  require_aligned16(dst, "cp.async destination");
  if (src_bytes > 0) require_aligned16(src, "cp.async source");
  ::sr_emu::async_copy(dst, src, src_bytes, 16);
}

inline void cp_async_commit() { ::sr_emu::async_commit(); }

template <int kPending>
void cp_async_wait() {
  ::sr_emu::async_wait(kPending);
}

// Matrices [0, count) of an ldmatrix: 32 bits of row lane / 4 of each.
template <int kCount>
void ldmatrix(uint32_t* r, const void* ptr) {
  const void* rows[32];
  ::sr_emu::warp_all_gather(&ptr, sizeof(ptr), rows);
  const unsigned lane = ::sr_emu::lane();
  for (int m = 0; m < kCount; ++m) {
    const void* row = rows[m * 8 + lane / 4];
    require_aligned16(row, "ldmatrix row");
    std::memcpy(&r[m], static_cast<const unsigned char*>(row) + 4 * (lane % 4), 4);
  }
}

inline void ldmatrix_x4(uint32_t (&r)[4], const void* ptr) { ldmatrix<4>(r, ptr); }

inline void ldmatrix_x2(uint32_t& r0, uint32_t& r1, const void* ptr) {
  uint32_t r[2];
  ldmatrix<2>(r, ptr);
  r0 = r[0];
  r1 = r[1];
}

// Element `half` (0: low 16 bits) of a packed pair, as float.
inline float unpack(uint32_t word, int half, __half) {
  const uint16_t bits = static_cast<uint16_t>(word >> (16 * half));
  __half_raw raw;
  raw.x = bits;
  return __half2float(__half(raw));
}

inline float unpack(uint32_t word, int half, __nv_bfloat16) {
  const uint32_t bits = (word >> (16 * half)) & 0xffffu;
  float value;
  const uint32_t shifted = bits << 16;
  std::memcpy(&value, &shifted, 4);
  return value;
}

template <typename T>
void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  struct Operands {
    uint32_t a[4], b[2];
  };
  const Operands mine{{a[0], a[1], a[2], a[3]}, {b0, b1}};
  Operands all[32];
  ::sr_emu::warp_all_gather(&mine, sizeof(mine), all);
  // This lane's rows g, g + 8 of A come from lanes 4g..4g+3; its columns 2t, 2t + 1 of B from
  // lanes 8t..8t+3 and 8t+4..8t+7.
  const int g = static_cast<int>(::sr_emu::lane()) / 4, t = static_cast<int>(::sr_emu::lane()) % 4;
  float A[2][16], B[2][16];
  for (int q = 0; q < 4; ++q) {
    const Operands& rows = all[4 * g + q];
    for (int e = 0; e < 2; ++e) {
      A[0][2 * q + e] = unpack(rows.a[0], e, T());
      A[1][2 * q + e] = unpack(rows.a[1], e, T());
      A[0][2 * q + 8 + e] = unpack(rows.a[2], e, T());
      A[1][2 * q + 8 + e] = unpack(rows.a[3], e, T());
    }
    for (int col = 0; col < 2; ++col) {
      const Operands& cols = all[4 * (2 * t + col) + q];
      for (int e = 0; e < 2; ++e) {
        B[col][2 * q + e] = unpack(cols.b[0], e, T());
        B[col][2 * q + 8 + e] = unpack(cols.b[1], e, T());
      }
    }
  }
  for (int i = 0; i < 4; ++i) {
    double sum = 0.0;
    for (int k = 0; k < 16; ++k) sum += static_cast<double>(A[i / 2][k]) * B[i % 2][k];
    d[i] = static_cast<float>(static_cast<double>(d[i]) + sum);
  }
}

// ---- wgmma ----

struct WgmmaOp {
  float (*d)[8][4];
  const uint32_t (*a)[4];
  uint64_t b;  // descriptor
  bool bf16;
  bool committed;
  uint64_t block;  // sr_emu::block_serial() at issue
};

struct WgmmaThread {
  std::vector<WgmmaOp> ops;  // issued, not yet waited for
  bool fenced = false;       // a wgmma.fence since the last wait
};

[[noreturn]] inline void wgmma_fail(const char* what) {
  std::fprintf(stderr, "cuda emulation: %s\n", what);
  std::abort();
}

inline WgmmaThread& wgmma_thread() {
  // By thread rank (fibers share one OS thread); sized once, so the addresses that
  // wgmma_wait_all publishes stay valid.
  static std::vector<WgmmaThread> threads(1024);
  return threads[::sr_emu::thread_rank()];
}

inline void wgmma_fence() { wgmma_thread().fenced = true; }

inline void fence_accumulators(float (&)[8][4]) {}

template <typename T>
void wgmma_m64n64k16(float (&d)[8][4], const uint32_t (&a)[4], uint64_t b) {
  WgmmaThread& me = wgmma_thread();
  if (!me.fenced) wgmma_fail("wgmma.mma_async without a wgmma.fence since the last wait");
  me.ops.push_back(
      WgmmaOp{&d, &a, b, std::is_same_v<T, __nv_bfloat16>, false, ::sr_emu::block_serial()});
}

inline void wgmma_commit() {
  for (WgmmaOp& op : wgmma_thread().ops) op.committed = true;
}

inline float unpack(uint32_t word, int half, bool bf16) {
  return bf16 ? unpack(word, half, __nv_bfloat16()) : unpack(word, half, __half());
}

// Element (k, n) of the K-major, unswizzled B operand that descriptor `desc` describes.
inline float wgmma_b(uint64_t desc, int k, int n, bool bf16) {
  const uint32_t start = static_cast<uint32_t>(desc & 0x3fffu) << 4;
  const uint32_t lbo = static_cast<uint32_t>((desc >> 16) & 0x3fffu) << 4;
  const uint32_t sbo = static_cast<uint32_t>((desc >> 32) & 0x3fffu) << 4;
  const uint32_t address = start + static_cast<uint32_t>(n / 8) * sbo +
                           static_cast<uint32_t>(k / 8) * lbo + static_cast<uint32_t>(n % 8) * 16 +
                           static_cast<uint32_t>(k % 8) * 2;
  uint16_t bits;
  std::memcpy(&bits, ::sr_emu::shared_window_pointer(address, 2), 2);
  return unpack(bits, 0, bf16);
}

inline void wgmma_wait_all() {
  WgmmaThread& me = wgmma_thread();
  for (const WgmmaOp& op : me.ops) {
    if (!op.committed) wgmma_fail("wgmma.wait_group with a wgmma not committed to a group");
    if (op.block != ::sr_emu::block_serial())
      wgmma_fail("a wgmma of an earlier block never waited");
  }
  const void* published[128];
  ::sr_emu::warpgroup_publish(&me, published);
  const unsigned rank = ::sr_emu::thread_rank() % 128;
  const unsigned warp = rank / 32, g = (rank % 32) / 4, t = rank % 4;
  for (size_t i = 0; i < me.ops.size(); ++i) {
    const WgmmaOp& op = me.ops[i];
    for (const void* other : published) {
      const auto& theirs = static_cast<const WgmmaThread*>(other)->ops;
      if (theirs.size() != me.ops.size() || theirs[i].b != op.b || theirs[i].bf16 != op.bf16) {
        wgmma_fail("the threads of a warpgroup issued different wgmma sequences");
      }
    }
    if ((op.b >> 49) & 7u || op.b >> 62) {
      wgmma_fail("wgmma descriptor with a base offset or swizzling (not emulated)");
    }
    // Rows g and g + 8 of this warp's A: lanes 4g..4g+3 of the warp hold them.
    float A[2][16];
    for (unsigned q = 0; q < 4; ++q) {
      const auto* holder = static_cast<const WgmmaThread*>(published[warp * 32 + 4 * g + q]);
      const uint32_t (&a)[4] = *holder->ops[i].a;
      for (int half = 0; half < 2; ++half) {
        for (int h = 0; h < 2; ++h) {
          A[h][2 * q + half] = unpack(a[h], half, op.bf16);
          A[h][2 * q + 8 + half] = unpack(a[h + 2], half, op.bf16);
        }
      }
    }
    float (&d)[8][4] = *op.d;
    for (int j = 0; j < 8; ++j) {
      for (int e = 0; e < 4; ++e) {
        const int n = 8 * j + 2 * static_cast<int>(t) + (e & 1);
        double sum = 0.0;
        for (int k = 0; k < 16; ++k)
          sum += static_cast<double>(A[e >> 1][k]) * wgmma_b(op.b, k, n, op.bf16);
        d[j][e] = static_cast<float>(static_cast<double>(d[j][e]) + sum);
      }
    }
  }
  ::sr_emu::warpgroup_sync();  // the others are done reading this thread's A
  me.ops.clear();
  me.fenced = false;
}

}  // namespace conv
}  // namespace sr
