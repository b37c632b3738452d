// CPU pixel_shuffle / pixel_unshuffle: the 6-D strided copy of pixel_shuffle.h with OpenMP.
//
// Work decomposition: the four outer dimensions are flattened and split across threads; each
// iteration copies a 2-D block of the two innermost dimensions.
// Channels-last inputs and outputs with r = 2, 3 or 4 take a per-pixel path instead: a pixel's
// C*r*r input channels are contiguous and PyTorch's channel order interleaves them as (c, i, j),
// so pixel_shuffle de-interleaves them into r*r runs of C (one per output pixel (i, j)) and
// pixel_unshuffle interleaves r*r runs back; with r a compile-time constant the compiler
// vectorises the (c, i, j) loop. The generic block copy there gathered with stride r*r one
// element at a time (16 x 256 x 48 x 48 uint8, r = 2, 2 cores: ~5x slower than ATen's kernel).
// The per-pixel loop also has an AVX2 build chosen at run time (copy_pixels_avx2, cpu_isa.h):
// the baseline x86-64 target has no byte shuffle. Same shape, paired rounds against
// F.pixel_shuffle through the public op: fp16/bf16 1.9x -> 2.5-2.6x, uint8 0.77x -> 0.83-0.89x
// (the op alone: 0.56 vs ATen 0.63 ms), fp32 unchanged (~1.0x).
// Bytes per element: one read + one write; no arithmetic. Memory-bound.
#include "sr_kernels/pixel_shuffle.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu_isa.h"

namespace sr {
namespace {

// Copies a 2-D block (the two innermost dimensions) with the longer run innermost: for NCHW
// pixel_shuffle the innermost dimension is j (size r, source stride H*W), and looping over w
// instead turns r-element scalar runs into W-element contiguous reads.
template <typename T>
void copy_block(const T* s, T* t, int64_t n_outer, int64_t s_outer, int64_t t_outer,
                int64_t n_inner, int64_t s_inner, int64_t t_inner) {
  for (int64_t a = 0; a < n_outer; ++a) {
    const T* sa = s + a * s_outer;
    T* ta = t + a * t_outer;
    if (s_inner == 1 && t_inner == 1) {
      std::memcpy(ta, sa, sizeof(T) * n_inner);
    } else {
      for (int64_t k = 0; k < n_inner; ++k) ta[k * t_inner] = sa[k * s_inner];
    }
  }
}

// pixel_shuffle of one channels-last pixel: s[c*R*R + i*R + j] -> d[i*di + j*dj + c].
template <typename T, int R>
void deinterleave(const T* s, T* d, int64_t channels, int64_t di, int64_t dj) {
  for (int64_t c = 0; c < channels; ++c) {
#pragma GCC unroll 16
    for (int k = 0; k < R * R; ++k) d[(k / R) * di + (k % R) * dj + c] = s[c * R * R + k];
  }
}

// pixel_unshuffle into one channels-last pixel: s[i*si + j*sj + c] -> d[c*R*R + i*R + j].
template <typename T, int R>
void interleave(const T* s, T* d, int64_t channels, int64_t si, int64_t sj) {
  for (int64_t c = 0; c < channels; ++c) {
#pragma GCC unroll 16
    for (int k = 0; k < R * R; ++k) d[c * R * R + k] = s[(k / R) * si + (k % R) * sj + c];
  }
}

// The channels-last maps of the binding (pixel_shuffle.h): shuffle (n, h, i, w, j, c) reading
// (c, i, j) contiguously, unshuffle (n, h, w, c, i, j) writing them contiguously. `pixel` is
// then the three dimensions left over, one pixel of the contiguous side per iteration.
struct PixelMap {
  bool shuffle;
  int pixel[3];
  int64_t channels;
};

// Pixels [begin, end) of a per-pixel copy.
template <typename T, int R>
inline void copy_pixels(const T* src, T* dst, const StridedCopy6d& map, const PixelMap& pm,
                        int64_t begin, int64_t end) {
  const int64_t* ss = map.src_stride;
  const int64_t* ds = map.dst_stride;
  for (int64_t p = begin; p < end; ++p) {
    int64_t rest = p, src_offset = 0, dst_offset = 0;
    for (int q = 2; q >= 0; --q) {
      const int d = pm.pixel[q];
      const int64_t index = rest % map.size[d];
      rest /= map.size[d];
      src_offset += index * ss[d];
      dst_offset += index * ds[d];
    }
    if (pm.shuffle) {
      deinterleave<T, R>(src + src_offset, dst + dst_offset, pm.channels, ds[2], ds[4]);
    } else {
      interleave<T, R>(src + src_offset, dst + dst_offset, pm.channels, ss[4], ss[5]);
    }
  }
}

#if SR_X86_MULTIVERSION
// The same loop compiled for AVX2 (the extension targets baseline x86-64, which has no byte
// shuffle: 1- and 2-byte (de)interleaves vectorise poorly there); chosen by cpu_isa().
template <typename T, int R>
__attribute__((target("avx2"), flatten)) void copy_pixels_avx2(const T* src, T* dst,
                                                               const StridedCopy6d& map,
                                                               const PixelMap& pm, int64_t begin,
                                                               int64_t end) {
  copy_pixels<T, R>(src, dst, map, pm, begin, end);
}
#endif

template <typename T, int R>
bool per_pixel_copy(const T* src, T* dst, const StridedCopy6d& map) {
  const int64_t* ss = map.src_stride;
  const int64_t* ds = map.dst_stride;
  const bool shuffle = map.size[2] == R && map.size[4] == R && ds[5] == 1 && ss[5] == R * R &&
                       ss[2] == R && ss[4] == 1;
  const bool unshuffle = map.size[4] == R && map.size[5] == R && ss[3] == 1 && ds[3] == R * R &&
                         ds[4] == R && ds[5] == 1;
  if (!shuffle && !unshuffle) return false;
  const PixelMap pm{shuffle, {0, 1, shuffle ? 3 : 2}, map.size[shuffle ? 5 : 3]};
  const int64_t count = map.size[pm.pixel[0]] * map.size[pm.pixel[1]] * map.size[pm.pixel[2]];
  constexpr int64_t kChunk = 64;  // pixels per call of the (possibly AVX2) loop
  const int64_t chunks = (count + kChunk - 1) / kChunk;
#if SR_X86_MULTIVERSION
  const bool avx2 = cpu_isa() != CpuIsa::kBase;  // SR_KERNELS_CPU_ISA=base: the baseline build
#endif
#pragma omp parallel for schedule(static) if (count * pm.channels * R * R > 32768)
  for (int64_t k = 0; k < chunks; ++k) {
    const int64_t begin = k * kChunk, end = std::min(count, begin + kChunk);
#if SR_X86_MULTIVERSION
    if (avx2) {
      copy_pixels_avx2<T, R>(src, dst, map, pm, begin, end);
      continue;
    }
#endif
    copy_pixels<T, R>(src, dst, map, pm, begin, end);
  }
  return true;
}

template <typename T>
void strided_copy(const T* src, T* dst, const StridedCopy6d& map) {
  if (per_pixel_copy<T, 2>(src, dst, map) || per_pixel_copy<T, 3>(src, dst, map) ||
      per_pixel_copy<T, 4>(src, dst, map)) {
    return;
  }
  int64_t outer = 1;
  for (int d = 0; d < 4; ++d) outer *= map.size[d];
  const int64_t block = map.size[4] * map.size[5];
  const bool swap = map.size[5] < 8 && map.size[4] > map.size[5];
  const int o4 = swap ? 5 : 4, i5 = swap ? 4 : 5;
#pragma omp parallel for schedule(static) if (outer * block > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rest = o;
    int64_t dst_offset = 0;
    int64_t src_offset = 0;
    for (int d = 3; d >= 0; --d) {
      const int64_t index = rest % map.size[d];
      rest /= map.size[d];
      dst_offset += index * map.dst_stride[d];
      src_offset += index * map.src_stride[d];
    }
    copy_block(src + src_offset, dst + dst_offset, map.size[o4], map.src_stride[o4],
               map.dst_stride[o4], map.size[i5], map.src_stride[i5], map.dst_stride[i5]);
  }
}

}  // namespace

Status pixel_shuffle_cpu(const void* src, void* dst, int element_size, const StridedCopy6d& map) {
  for (int d = 0; d < 6; ++d) {
    if (map.size[d] < 0) return Status::kInvalidArgument;
    if (map.size[d] == 0) return Status::kOk;
  }
  switch (element_size) {
    case 1:
      strided_copy(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), map);
      return Status::kOk;
    case 2:
      strided_copy(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), map);
      return Status::kOk;
    case 4:
      strided_copy(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), map);
      return Status::kOk;
    case 8:
      strided_copy(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), map);
      return Status::kOk;
    default:
      return Status::kInvalidArgument;
  }
}

}  // namespace sr
