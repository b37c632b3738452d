// The 'same' 3x3 convolution (stride 1, padding 1) of the fused ops as ATen calls: the CPU
// kernels compose it, and the autograd formulas recompute it and take its gradients from it
// (cuDNN on the GPU, oneDNN on the CPU).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/convolution.h>
#include <ATen/ops/convolution_backward.h>

#include <array>
#include <cstdint>
#include <tuple>

namespace conv3x3_detail {
constexpr std::array<int64_t, 2> kStride{1, 1}, kPadding{1, 1}, kDilation{1, 1};
constexpr std::array<int64_t, 2> kOutputPadding{0, 0};
}  // namespace conv3x3_detail

inline at::Tensor conv3x3(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  using namespace conv3x3_detail;
  return at::convolution(x, w, b, kStride, kPadding, kDilation, false, kOutputPadding, 1);
}

// Gradients of conv3x3(input, w, b) given the output's: (input, w, b), each computed only where
// `needed` says so (undefined otherwise).
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> conv3x3_backward(const at::Tensor& grad,
                                                                       const at::Tensor& input,
                                                                       const at::Tensor& w,
                                                                       std::array<bool, 3> needed) {
  using namespace conv3x3_detail;
  const std::array<int64_t, 1> bias_sizes{w.size(0)};
  return at::convolution_backward(grad, input, w, bias_sizes, kStride, kPadding, kDilation, false,
                                  kOutputPadding, 1, needed);
}
