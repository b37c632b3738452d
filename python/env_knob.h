// Kernel-choice knobs of the binding layer: environment variables read at each call, so that a
// benchmark or test can compare a kernel's forms in one process (README, environment variables).
#pragma once

#include <cstdlib>
#include <cstring>

// Whether environment variable `name` is set to exactly `value`.
inline bool env_is(const char* name, const char* value) {
  const char* set = std::getenv(name);
  return set != nullptr && std::strcmp(set, value) == 0;
}

// SR_KERNELS_CONV_CUDA_TILES=largest: the CUDA residual block and upsampler take the largest tile
// that fits, as before 2026-12-01, instead of the one whose grid should finish first
// (csrc/common/conv_tiles.h), for comparison.
inline bool largest_conv_tiles() { return env_is("SR_KERNELS_CONV_CUDA_TILES", "largest"); }
