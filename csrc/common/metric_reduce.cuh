// Deterministic reductions shared by the CUDA metric kernels (psnr_mse.cu, ssim_mean.cu):
// a fixed-shape block sum in double and a one-block-per-image finaliser that adds each image's
// partial sums in a fixed order. No atomics, so results are bitwise reproducible run to run.
#pragma once

#include <cstdint>

#include "common/metric_pixel.h"

namespace sr {
namespace metric {

// Sum of `value` over the block (blockDim.x a multiple of 32, at most 1024); valid in thread 0.
__device__ inline double block_sum(double value) {
  __shared__ double warp_sums[32];
  for (int offset = 16; offset > 0; offset >>= 1) {
    value += __shfl_down_sync(0xffffffffu, value, offset);
  }
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = value;
  __syncthreads();
  double total = 0.0;
  if (threadIdx.x == 0) {
    const int warps = (blockDim.x + 31) >> 5;
    for (int w = 0; w < warps; ++w) total += warp_sums[w];
  }
  return total;
}

// out[n] = (sum of partials[n * per_image .. (n+1) * per_image)) / count, or that mean as PSNR
// in dB (psnr_db) when `decibels`, so the conversion costs no launches of its own; one block per
// image. A template (so each including .cu file may instantiate it without duplicate symbols).
template <int kThreads>
__global__ void __launch_bounds__(kThreads)
    finalize_per_image(const double* __restrict__ partials, int64_t per_image, double count,
                       bool decibels, double* __restrict__ out) {
  const int64_t n = blockIdx.x;
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < per_image; i += kThreads) acc += partials[n * per_image + i];
  const double total = block_sum(acc);
  if (threadIdx.x == 0) {
    const double mean = total / count;
    out[n] = decibels ? psnr_db(mean) : mean;
  }
}

}  // namespace metric
}  // namespace sr
