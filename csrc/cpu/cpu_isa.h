// Which x86 instruction set the CPU kernels use: one choice for every kernel that has builds
// for several (imresize, the pixel_shuffle per-pixel path). The extension itself is compiled for
// the baseline target; the wider builds are functions with target attributes, chosen here.
#pragma once

#include <cstdlib>
#include <cstring>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SR_X86_MULTIVERSION 1
#else
#define SR_X86_MULTIVERSION 0
#endif

namespace sr {

enum class CpuIsa { kBase, kAvx2, kAvx512 };

// The widest instruction set the CPU has (AVX-512 here means F, BW and VBMI), lowered by
// SR_KERNELS_CPU_ISA=base|avx2 (read at each call, so that tests can run every path on one
// machine).
inline CpuIsa cpu_isa() {
#if SR_X86_MULTIVERSION
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                             __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vbmi");
  CpuIsa isa = avx512 ? CpuIsa::kAvx512 : (avx2 ? CpuIsa::kAvx2 : CpuIsa::kBase);
  const char* limit = std::getenv("SR_KERNELS_CPU_ISA");
  if (limit != nullptr && std::strcmp(limit, "base") == 0) isa = CpuIsa::kBase;
  if (limit != nullptr && std::strcmp(limit, "avx2") == 0 && isa == CpuIsa::kAvx512) {
    isa = CpuIsa::kAvx2;
  }
  return isa;
#else
  return CpuIsa::kBase;
#endif
}

}  // namespace sr
