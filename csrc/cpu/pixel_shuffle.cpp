// CPU pixel_shuffle / pixel_unshuffle: the 6-D strided copy of pixel_shuffle.h with OpenMP.
//
// Work decomposition: the five outer dimensions are flattened and split across threads; each
// iteration copies one run of the innermost dimension (contiguous in the destination).
// Bytes per element: one read + one write; no arithmetic. Memory-bound.
#include "sr_kernels/pixel_shuffle.h"

#include <cstdint>
#include <cstring>

namespace sr {
namespace {

template <typename T>
void strided_copy(const T* src, T* dst, const StridedCopy6d& map) {
  int64_t outer = 1;
  for (int d = 0; d < 5; ++d) outer *= map.size[d];
  const int64_t inner = map.size[5];
  const int64_t inner_dst = map.dst_stride[5];
  const int64_t inner_src = map.src_stride[5];
#pragma omp parallel for schedule(static) if (outer * inner > 32768)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rest = o;
    int64_t dst_offset = 0;
    int64_t src_offset = 0;
    for (int d = 4; d >= 0; --d) {
      const int64_t index = rest % map.size[d];
      rest /= map.size[d];
      dst_offset += index * map.dst_stride[d];
      src_offset += index * map.src_stride[d];
    }
    const T* s = src + src_offset;
    T* t = dst + dst_offset;
    if (inner_dst == 1 && inner_src == 1) {
      std::memcpy(t, s, sizeof(T) * inner);
    } else {
      for (int64_t k = 0; k < inner; ++k) t[k * inner_dst] = s[k * inner_src];
    }
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
