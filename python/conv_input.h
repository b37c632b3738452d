// The activation layout of the convolution ops' bindings (residual_block, conv_pixel_shuffle):
// their outputs take x's memory format, and their CUDA kernels read NHWC with 16-byte pixels.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cstdint>

#include "layout.h"

// The weight of a CPU convolution of x: oneDNN computes channels_last when either operand is,
// so an NCHW x takes a contiguous weight, and the full-size result needs no layout copy (the
// weight is the small tensor; as the reference's _layout.like_input).
inline at::Tensor weight_like_input(const at::Tensor& w, const at::Tensor& x) {
  return is_channels_last(x) ? w : w.contiguous();
}

// NHWC addressing the CUDA kernels accept as is: channel stride 1, 16-byte aligned pixel rows.
// Strides of size-1 dimensions never matter, so they are reported as 0.
inline bool kernel_readable(const at::Tensor& x, int64_t (&strides)[4]) {
  for (int d = 0; d < 4; ++d) strides[d] = x.size(d) == 1 ? 0 : x.stride(d);
  if (x.size(1) > 1 && strides[1] != 1) return false;
  strides[1] = 1;
  for (int d : {0, 2, 3}) {
    if (strides[d] % 8 != 0) return false;
  }
  return (reinterpret_cast<uintptr_t>(x.const_data_ptr()) & 15u) == 0;
}

// x as the CUDA kernels read it, its strides in `strides`: x itself when kernel_readable, else
// the documented channels_last copy (NCHW input, odd pixel strides, or a misaligned
// channels_last view, which contiguous() would return unchanged).
inline at::Tensor kernel_input(const at::Tensor& x, int64_t (&strides)[4], const char* op) {
  if (kernel_readable(x, strides)) return x;
  at::Tensor copy = x.clone(at::MemoryFormat::ChannelsLast);
  TORCH_CHECK(kernel_readable(copy, strides), "sr_kernels: ", op,
              ": could not make x NHWC-addressable");
  return copy;
}
