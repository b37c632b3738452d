// The memory format an op's output takes from its input x, for every binding (the same rule as
// the Python backends' sr_kernels/ops/_layout.py): channels_last when x is laid out NHWC and is
// not also plain contiguous (C == 1). A dense tensor counts when is_contiguous(ChannelsLast),
// which ignores the strides of size-1 dims (a batch of one image made from an H x W x C array
// by permute and unsqueeze); a view with gaps (a crop or a channel slice of an NHWC tensor)
// counts by its stride order, as PyTorch reads it (suggest_memory_format).
#pragma once

#include <ATen/core/Tensor.h>

inline bool is_channels_last(const at::Tensor& x) {
  if (x.dim() != 4 || x.is_contiguous()) return false;
  return x.is_contiguous(at::MemoryFormat::ChannelsLast) ||
         x.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
}

inline at::MemoryFormat output_format(const at::Tensor& x) {
  return is_channels_last(x) ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
}
