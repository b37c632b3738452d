// The weight layout of the CUDA convolution kernels (csrc/cuda/conv_common.cuh): PyTorch's
// [C_out, C_in, 3, 3] weight in its channels_last layout, i.e. [C_out][3][3][C_in] in memory
// (input channels contiguous per output channel and tap), 16-byte aligned for the kernels'
// 16-byte copies. Models keep their parameters channels_last (and autocast's casts keep the
// layout), so for them this is the weight itself; any other weight is copied once per call.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

inline at::Tensor channels_last_weight(const at::Tensor& w) {
  at::Tensor packed = w.contiguous(at::MemoryFormat::ChannelsLast);
  if ((reinterpret_cast<uintptr_t>(packed.const_data_ptr()) & 15u) != 0) {
    packed = packed.clone(at::MemoryFormat::ChannelsLast);
  }
  return packed;
}
