// MATLAB-exact bicubic resize (imresize): two separable passes driven by per-axis tables.
//
// The tables (index + weight per output position, built on the host by common/cubic.h) say
// everything about the kernel, scale, antialiasing and edge rule, so the same launchers run the
// forward resize and its adjoint (the backward: the transposed tables).
//
//   pass 1 (rows):  mid[n, c, y, x] = sum_k rows.weight[y, k] * src[n, c, rows.index[y, k], x]
//   pass 2 (cols):  dst[n, c, y, x] = sum_k cols.weight[x, k] * mid[n, c, y, cols.index[x, k]]
//
// Numerics: uint8 accumulates in float64 and rounds after each pass (round half away from zero,
// clamp to 0..255), so mid is uint8, exactly as MATLAB on uint8 images; float64 accumulates in
// float64 (mid float64); float32, float16 and bfloat16 accumulate in float32 with float32 weights
// (mid float32, one rounding to the storage type at the end).
// Layouts: any strides (NCHW and NHWC are the fast paths); sizes and strides in elements.
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
};

// mid: (N, C, rows.out_len, W) of uint8 (uint8), float64 (float64) or float32 (other dtypes).
Status imresize_cpu(ImresizeDtype dtype, const void* src, const Tensor4d& src_desc, void* mid,
                    const Tensor4d& mid_desc, void* dst, const Tensor4d& dst_desc,
                    const ResizeTable& rows, const ResizeTable& cols);

#ifdef SR_WITH_CUDA
// Tables must be device pointers. Launches two kernels on `stream`.
Status launch_imresize(ImresizeDtype dtype, const void* src, const Tensor4d& src_desc, void* mid,
                       const Tensor4d& mid_desc, void* dst, const Tensor4d& dst_desc,
                       const ResizeTable& rows, const ResizeTable& cols, cudaStream_t stream);
#endif

}  // namespace sr
