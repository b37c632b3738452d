// pixel_shuffle / pixel_unshuffle as one strided copy over a 6-D index space.
//
// Both ops are a permutation of elements: with output (n, c, h*r+i, w*r+j) <- input
// (n, c*r*r + i*r + j, h, w) (PyTorch channel order) the index space is (n, c, h, i, w, j), and
// each of its six dimensions has one stride in the destination and one in the source. The
// binding orders the dimensions by the destination's memory layout (outermost first), so the
// innermost dimension writes contiguously. The copy is bitwise, so one kernel per element size
// serves every dtype (uint8, fp16, bf16, fp32, fp64).
#pragma once

#include <cstdint>

#include "sr_kernels/status.h"

#ifdef SR_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace sr {

struct StridedCopy6d {
  int64_t size[6];        // loop order: outermost first
  int64_t dst_stride[6];  // in elements
  int64_t src_stride[6];  // in elements
};

// element_size in bytes: 1, 2, 4 or 8.
Status pixel_shuffle_cpu(const void* src, void* dst, int element_size, const StridedCopy6d& map);

#ifdef SR_WITH_CUDA
Status launch_pixel_shuffle(const void* src, void* dst, int element_size, const StridedCopy6d& map,
                            cudaStream_t stream);
#endif

}  // namespace sr
