// The single TORCH_LIBRARY block: every schema of the sr_kernels namespace on one screen.
// Implementations are registered per dispatch key in python/ops/<op>.cpp; fake (meta) kernels
// and most autograd formulas are registered from Python in sr_kernels/ops/_ext/<op>.py. The
// fused convolutions' formulas are C++ (python/ops/residual_block.cpp, conv_pixel_shuffle.cpp):
// their training steps are bound by host time, and a Python formula costs more of it than the
// layers' eager ops.
#include <torch/library.h>

#include <string>

#include "sr_kernels/imresize.h"

namespace {
bool built_with_cuda() {
#ifdef SR_WITH_CUDA
  return true;
#else
  return false;
#endif
}

// Whether the CUDA kernels include sm_90a code (the wgmma kernels; _build.cuda_defines).
bool built_with_sm90a() {
#ifdef SR_WITH_SM90A
  return true;
#else
  return false;
#endif
}

std::string imresize_cpu_isa() { return sr::imresize_cpu_isa(); }
}  // namespace

TORCH_LIBRARY(sr_kernels, m) {
  m.def("built_with_cuda() -> bool", &built_with_cuda);
  m.def("built_with_sm90a() -> bool", &built_with_sm90a);
  m.def("imresize_cpu_isa() -> str", &imresize_cpu_isa);
  m.def("pixel_shuffle(Tensor x, int r) -> Tensor");
  m.def("pixel_unshuffle(Tensor x, int r) -> Tensor");
  // Fused convolutions: CUDA kernels (fp16/bf16, C % 16 == 0) and CPU kernels composed of ATen
  // convolutions (ops/reference is the default CPU path).
  m.def(
      "residual_block(Tensor x, Tensor w1, Tensor b1, Tensor w2, Tensor b2, float res_scale) -> "
      "Tensor");
  m.def("conv_pixel_shuffle(Tensor x, Tensor w, Tensor b, int r) -> Tensor");
  // Image metrics of the SR protocol: one float64 per image (sr_kernels/metrics/README.md).
  m.def(
      "psnr_mse(Tensor sr, Tensor hr, float data_range, int crop_border, bool y_channel, "
      "bool quantize, bool round_y) -> Tensor");
  m.def(
      "psnr(Tensor sr, Tensor hr, float data_range, int crop_border, bool y_channel, "
      "bool quantize, bool round_y) -> Tensor");
  m.def(
      "ssim_mean(Tensor sr, Tensor hr, float data_range, int crop_border, bool y_channel, "
      "bool quantize, bool round_y) -> Tensor");
  // MATLAB-exact bicubic resize (sr_kernels/ops/imresize.py); edge is "mirror" or "clamp".
  m.def(
      "imresize(Tensor x, int out_h, int out_w, float scale_h, float scale_w, bool antialias, "
      "str edge) -> Tensor");
  m.def(
      "imresize_backward(Tensor grad, int in_h, int in_w, float scale_h, float scale_w, "
      "bool antialias, str edge) -> Tensor");
  m.def(
      "imresize_weights(int in_len, int out_len, float scale, bool antialias, str edge) -> "
      "(Tensor, Tensor)");
}
