// A minimal test harness for the plain C++ tests that CTest runs (no framework to install).
//
// SR_EXPECT(condition, message...) records a failure and prints where it happened; a test's
// main() ends with `return sr_test::exit_code();` (0 when every expectation held).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sr_test {

inline int& failures() {
  static int count = 0;
  return count;
}

inline int& checks() {
  static int count = 0;
  return count;
}

inline void expect(bool ok, const char* expression, const std::string& context, const char* file,
                   int line) {
  ++checks();
  if (ok) return;
  ++failures();
  if (failures() <= 20) {
    std::fprintf(stderr, "%s:%d: FAILED %s %s\n", file, line, expression, context.c_str());
  }
}

inline int exit_code() {
  std::printf("%d checks, %d failed\n", checks(), failures());
  return failures() == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

}  // namespace sr_test

#define SR_EXPECT(condition, context) \
  ::sr_test::expect(static_cast<bool>(condition), #condition, (context), __FILE__, __LINE__)
