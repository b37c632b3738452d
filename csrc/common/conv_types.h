// Types shared by the fused convolution launchers (residual_block.h, conv_pixel_shuffle.h).
#pragma once

namespace sr {

// Storage dtype of activations, weights and biases; the kernels accumulate in fp32.
enum class ConvDType : int {
  kFloat16 = 0,
  kBFloat16 = 1,
};

}  // namespace sr
