// Upsampler: out = pixel_shuffle(conv3x3(x, w, b, padding=1), r), r in {2, 3}, in one kernel.
// The shuffle is a store-index permutation in the epilogue (PyTorch channel order):
//   out[n, h*r + i, w*r + j, c] = conv[n, h, w, c*r*r + i*r + j];
// the C_out*r*r-channel convolution output is never written to device memory.
//
// Layout contract (the binding converts anything else, see python/ops/conv_pixel_shuffle.cpp):
// * x: N x H x W x C_in with element strides (n, c, h, w); channel stride 1, other strides
//   multiples of 8, pointer 16-byte aligned. C_in a multiple of 16, at most 256.
// * w: [C_out*r*r][3][3][C_in] contiguous (the channels_last layout of the [C_out*r*r, C_in, 3,
//   3] weight), 16-byte aligned; b: [C_out*r*r].
// * out: N x C_out x H*r x W*r with any element strides (n, c, h, w); 16-byte vector stores when
//   the channel stride is 1 and the rest allows it. C_out a multiple of 16 (r = 2) or 8 (r = 3).
#pragma once

#include <cstdint>

#include "common/conv_types.h"
#include "sr_kernels/status.h"

#ifdef SR_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace sr {

struct ConvPixelShuffleArgs {
  ConvDType dtype = ConvDType::kFloat16;
  const void* x = nullptr;
  int64_t x_stride[4] = {0, 0, 0, 0};  // elements, (n, c, h, w)
  const void* w = nullptr;             // [c_out*r*r][3][3][c_in]
  const void* b = nullptr;             // [c_out*r*r]
  void* out = nullptr;
  int64_t out_stride[4] = {0, 0, 0, 0};  // elements, (n, c, h, w) of the shuffled output
  int64_t n = 0;
  int64_t h = 0;  // input height and width
  int64_t w_size = 0;
  int64_t c_in = 0;
  int64_t c_out = 0;  // channels after the shuffle
  int64_t r = 2;
  // Take the largest tile that fits instead of the one whose grid should finish first
  // (conv_tiles.h): the rule before 2026-12-01, a comparison knob until a GPU run has timed both.
  bool largest_tile = false;
};

constexpr int64_t kConvPixelShuffleMaxInChannels = 256;

// Output channels the shuffle epilogue handles per pass (C_out must be a multiple of it).
constexpr int64_t conv_pixel_shuffle_channel_block(int64_t r) { return r == 2 ? 16 : 8; }

#ifdef SR_WITH_CUDA
// Launches on `stream`; never allocates or synchronises. kInvalidArgument for sizes, strides or
// alignment outside the contract above.
Status launch_conv_pixel_shuffle(const ConvPixelShuffleArgs& args, cudaStream_t stream);
#endif

}  // namespace sr
