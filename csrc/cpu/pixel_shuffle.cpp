// CPU pixel_shuffle / pixel_unshuffle: the 6-D strided copy of pixel_shuffle.h with OpenMP.
//
// Work decomposition: the four outer dimensions are flattened and split across threads; each
// iteration copies a 2-D block of the two innermost dimensions.
// Bytes per element: one read + one write; no arithmetic. Memory-bound.
#include "sr_kernels/pixel_shuffle.h"

#include <cstdint>
#include <cstring>

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

template <typename T>
void strided_copy(const T* src, T* dst, const StridedCopy6d& map) {
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
