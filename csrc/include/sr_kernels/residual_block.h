// Fused EDSR residual block: out = x + res_scale * conv3x3(relu(conv3x3(x, w1, b1)), w2, b2),
// 'same' zero padding, C -> C channels, in ONE kernel (the intermediate stays in shared memory).
//
// Layout contract (the binding converts anything else, see python/ops/residual_block.cpp):
// * x: N x H x W x C addressed with element strides (n, c, h, w); the channel stride must be 1,
//   the other strides multiples of 8 and the pointer 16-byte aligned (16-byte vector loads).
// * w1, w2: [C_out][3][3][C_in] contiguous (C_in innermost: the channels_last layout of a
//   [C_out, C_in, 3, 3] weight), 16-byte aligned; b1, b2: [C] contiguous.
// * out: any element strides (n, c, h, w); 16-byte vector stores when its channel stride is 1 and
//   the rest allows it, element stores otherwise (NCHW output is written directly).
// * C: a multiple of 16, 16 <= C <= 256.
#pragma once

#include <cstdint>

#include "common/conv_types.h"
#include "sr_kernels/status.h"

#ifdef SR_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace sr {

struct ResidualBlockArgs {
  ConvDType dtype = ConvDType::kFloat16;
  const void* x = nullptr;
  int64_t x_stride[4] = {0, 0, 0, 0};  // elements, (n, c, h, w)
  const void* w1 = nullptr;            // [C][3][3][C]
  const void* b1 = nullptr;            // [C]
  const void* w2 = nullptr;
  const void* b2 = nullptr;
  void* out = nullptr;
  int64_t out_stride[4] = {0, 0, 0, 0};  // elements, (n, c, h, w)
  int64_t n = 0;
  int64_t h = 0;
  int64_t w = 0;
  int64_t c = 0;
  float res_scale = 1.0f;
  // Warps per block of the configuration for C <= 128 (and C not a multiple of 128): 8 (the
  // default: tiles up to 16 x 16 or 12 x 24, one block per SM) or 4 (tiles up to 8 x 16, two
  // blocks per SM; used only where two fit in an SM's shared memory, else 8). The launcher picks
  // the tile per shape and SM count. A comparison knob until a GPU run decides.
  int warps = 8;
  // Hopper's warpgroup MMA (wgmma) instead of mma.sync in that configuration, where this build
  // has sm_90a code and the device is compute capability 9.0 (else ignored). A comparison knob:
  // off until a GPU run has checked and timed it.
  bool wgmma = false;
  // Take the largest tile that fits instead of the one whose grid should finish first
  // (conv_tiles.h): the rule before 2026-12-01, a comparison knob until a GPU run has timed both.
  bool largest_tile = false;
};

// Largest C the kernel serves (its input and intermediate tiles must fit in shared memory).
constexpr int64_t kResidualBlockMaxChannels = 256;

#ifdef SR_WITH_CUDA
// Launches on `stream`; never allocates or synchronises. kInvalidArgument for sizes, strides or
// alignment outside the contract above.
Status launch_residual_block(const ResidualBlockArgs& args, cudaStream_t stream);
#endif

}  // namespace sr
