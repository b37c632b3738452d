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
