// CUDA pixel_shuffle / pixel_unshuffle: the 6-D strided copy of pixel_shuffle.h.
//
// Work decomposition: one thread per destination element, threads ordered by the destination's
// memory layout, so each warp writes 32 consecutive elements (coalesced stores); reads gather
// with the source strides (for NHWC at most r*r distinct 32-byte sectors per warp, served by L1/L2).
// Bytes per element: element_size read + element_size written; 0 FLOPs: bound by HBM bandwidth
// (roofline time = 2 * numel * element_size / copy bandwidth). Index arithmetic uses 32-bit
// integers when every offset fits (cheaper divisions), 64-bit otherwise.
#include <cstdint>
#include <limits>

#include "sr_kernels/pixel_shuffle.h"

namespace sr {
namespace {

constexpr int kThreads = 256;

template <typename Index>
struct Map6 {
  Index size[6];
  Index dst_stride[6];
  Index src_stride[6];
};

template <typename T, typename Index>
__global__ void __launch_bounds__(kThreads)
    pixel_shuffle_kernel(const T* __restrict__ src, T* __restrict__ dst, Map6<Index> map,
                         Index total) {
  const Index linear = static_cast<Index>(blockIdx.x) * kThreads + threadIdx.x;
  if (linear >= total) return;
  Index rest = linear;
  Index dst_offset = 0;
  Index src_offset = 0;
#pragma unroll
  for (int d = 5; d >= 0; --d) {
    const Index index = rest % map.size[d];
    rest /= map.size[d];
    dst_offset += index * map.dst_stride[d];
    src_offset += index * map.src_stride[d];
  }
  dst[dst_offset] = src[src_offset];
}

template <typename Index>
bool fits(const StridedCopy6d& map, int64_t total) {
  const int64_t limit = static_cast<int64_t>(std::numeric_limits<Index>::max());
  int64_t dst_extent = 0, src_extent = 0;
  for (int d = 0; d < 6; ++d) {
    dst_extent += (map.size[d] - 1) * (map.dst_stride[d] < 0 ? -map.dst_stride[d] : map.dst_stride[d]);
    src_extent += (map.size[d] - 1) * (map.src_stride[d] < 0 ? -map.src_stride[d] : map.src_stride[d]);
  }
  return total < limit && dst_extent < limit && src_extent < limit;
}

template <typename T, typename Index>
Status launch(const void* src, void* dst, const StridedCopy6d& map, int64_t total,
              cudaStream_t stream) {
  Map6<Index> m;
  for (int d = 0; d < 6; ++d) {
    m.size[d] = static_cast<Index>(map.size[d]);
    m.dst_stride[d] = static_cast<Index>(map.dst_stride[d]);
    m.src_stride[d] = static_cast<Index>(map.src_stride[d]);
  }
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffffLL) return Status::kInvalidArgument;
  pixel_shuffle_kernel<T, Index><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
      static_cast<const T*>(src), static_cast<T*>(dst), m, static_cast<Index>(total));
  return cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
}

template <typename T>
Status launch_typed(const void* src, void* dst, const StridedCopy6d& map, int64_t total,
                    cudaStream_t stream) {
  if (fits<int32_t>(map, total)) return launch<T, uint32_t>(src, dst, map, total, stream);
  return launch<T, int64_t>(src, dst, map, total, stream);
}

}  // namespace

Status launch_pixel_shuffle(const void* src, void* dst, int element_size,
                            const StridedCopy6d& map, cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < 6; ++d) {
    if (map.size[d] < 0) return Status::kInvalidArgument;
    total *= map.size[d];
  }
  if (total == 0) return Status::kOk;
  switch (element_size) {
    case 1:
      return launch_typed<uint8_t>(src, dst, map, total, stream);
    case 2:
      return launch_typed<uint16_t>(src, dst, map, total, stream);
    case 4:
      return launch_typed<uint32_t>(src, dst, map, total, stream);
    case 8:
      return launch_typed<uint64_t>(src, dst, map, total, stream);
    default:
      return Status::kInvalidArgument;
  }
}

}  // namespace sr
