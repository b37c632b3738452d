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
#pragma once

#include <cstdint>
#include <cstring>

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

}  // namespace conv
}  // namespace sr
