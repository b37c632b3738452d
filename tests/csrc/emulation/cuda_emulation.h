// Runs our CUDA kernels on the CPU, for tests on machines without a GPU (most of ours).
//
// emulate_cuda.py rewrites a csrc/cuda/*.cu file into C++ that includes this header: each
// `kernel<<<grid, block, smem, stream>>>(args)` becomes `sr_emu::launch([&] { kernel(args); },
// grid, block, smem, stream)` and `extern __shared__ T name[];` a pointer to the block's dynamic
// shared memory. The kernel bodies themselves compile unchanged as host code.
//
// Execution model (cuda_emulation.cpp): blocks run one after another; a block's threads are
// fibers on the calling thread, each running until it waits at a barrier or exits, so
// __syncthreads is a barrier and warp shuffles exchange values through per-warp slots between
// two warp barriers. `__shared__` variables become function statics (shared by the block's
// threads; blocks do not overlap in time), dynamic shared memory a fresh buffer per block,
// filled with 0xff bytes so reads of unwritten words show. Global memory is host memory. Built
// with AddressSanitizer and UBSan where available, out-of-bounds accesses (global and shared)
// and misaligned vector loads are reported.
//
// What it checks: indexing, tiling, the shared-memory protocol, numerics (host IEEE arithmetic,
// compiled with -ffp-contract=off; fmaf is a real fused multiply-add) and launch limits (block
// size, grid size, dynamic shared memory beyond 48 KiB only after cudaFuncSetAttribute). What it
// cannot: speed, races between threads that no barrier orders (the schedule is deterministic,
// not the GPU's), inline PTX (cuda_emulation_conv.h gives the convolution kernels' wrappers,
// wgmma included, CPU versions), and register or spill limits (the static ptxas check covers
// those).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>

namespace sr_emu {

// The calling thread's coordinates (valid inside a launched body only).
struct ThreadCoordinates {
  uint3 thread_index;
  uint3 block_index;
  dim3 block_dim;
  dim3 grid_dim;
};
const ThreadCoordinates& coordinates();

void* dynamic_shared();
// The shared-memory window address of `ptr` (its offset in the block's dynamic shared memory;
// aborts if it lies outside it), and the pointer `bytes` long at a window address (aborts unless
// all of it lies inside).
uint32_t shared_window_address(const void* ptr);
const unsigned char* shared_window_pointer(uint32_t address, size_t bytes);
void sync_threads();
// The calling thread's index in its block (x fastest).
unsigned thread_rank();
// A number for the running block, distinct from every block run before it in the process.
uint64_t block_serial();
// Lane `source` of the calling warp's `value`s (a warp collective over a full warp).
uint64_t warp_exchange(uint64_t value, unsigned source);
// Every lane's `bytes` (at most 64) at `mine`, lane after lane into `all` (32 * bytes): a warp
// collective over a full warp (ldmatrix and mma.sync in cuda_emulation_conv.h).
void warp_all_gather(const void* mine, size_t bytes, void* all);
unsigned lane();
// Warpgroup collectives (4 warps: threads 128i..128i+127; wgmma in cuda_emulation_conv.h):
// every thread of the calling thread's warpgroup publishes `mine`; on return all[t] is the
// pointer thread t of the warpgroup published. The pointees must stay valid and unchanged until
// the warpgroup has passed warpgroup_sync(), which every thread calls when done reading.
void warpgroup_publish(const void* mine, const void** all);
void warpgroup_sync();

// cp.async: the copy happens at the wait that covers its group, not before, so a read of the
// destination before that wait sees the old contents (as it may on the GPU).
void async_copy(void* dst, const void* src, int src_bytes, int total_bytes);
void async_commit();
void async_wait(int pending_groups);

// The emulated device's properties (cudaDeviceGetAttribute): an H100-like sm_90 by default.
struct Device {
  int major = 9, minor = 0;
  int smem_per_block_optin = 232448;
  int smem_per_sm = 233472;
  int sm_count = 132;
};
void set_device(const Device& device);
const Device& device();
// cudaFuncSetAttribute(..., cudaFuncAttributeMaxDynamicSharedMemorySize, bytes): the launch
// limit of dynamic shared memory from then on (one value for every kernel: the launchers set it
// right before their launch).
void set_dynamic_shared_limit(int bytes);

// Runs `body` as a kernel launch; aborts with a message where CUDA would refuse the launch.
void run_launch(const std::function<void()>& body, dim3 grid, dim3 block, size_t smem);

template <typename Body>
void launch(Body body, dim3 grid, dim3 block, size_t smem = 0, cudaStream_t = nullptr) {
  run_launch(std::function<void()>(body), grid, block, smem);
}

// Launches since the last reset (tests tell the fused path from the two-kernel one by it).
int launch_count();
void reset_launch_count();

// The configuration of the latest launch (tests check which tile a launcher chose by its grid).
struct LaunchRecord {
  dim3 grid, block;
  size_t smem = 0;
};
LaunchRecord last_launch();

// While set, launches are checked and recorded but their blocks do not run: tests of a
// launcher's choices at full-size shapes, which would take minutes to emulate.
void set_dry_run(bool dry);

template <typename T>
T shuffle(T value, unsigned source) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "values up to 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = warp_exchange(bits, source);
  T result;
  std::memcpy(&result, &bits, sizeof(T));
  return result;
}

}  // namespace sr_emu

// ---- The CUDA device API the kernels use, as host code. ----
#define threadIdx (::sr_emu::coordinates().thread_index)
#define blockIdx (::sr_emu::coordinates().block_index)
#define blockDim (::sr_emu::coordinates().block_dim)
#define gridDim (::sr_emu::coordinates().grid_dim)
#undef __shared__
#define __shared__ static
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

inline void __syncthreads() { ::sr_emu::sync_threads(); }

[[noreturn]] inline void __trap() {
  std::fprintf(stderr, "cuda emulation: __trap()\n");
  std::abort();
}

inline size_t __cvta_generic_to_shared(const void* ptr) {
  return ::sr_emu::shared_window_address(ptr);
}

template <typename T>
cudaError_t cudaFuncSetAttribute(T*, cudaFuncAttribute attribute, int value) {
  if (attribute == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value > ::sr_emu::device().smem_per_block_optin) return cudaErrorInvalidValue;
    ::sr_emu::set_dynamic_shared_limit(value);
  }
  return cudaSuccess;
}

template <typename T>
T __shfl_xor_sync(unsigned, T value, int lane_mask, int width = 32) {
  const unsigned lane = ::sr_emu::lane();
  const unsigned base = lane - lane % static_cast<unsigned>(width);
  const unsigned source = base + ((lane - base) ^ static_cast<unsigned>(lane_mask));
  return ::sr_emu::shuffle(value, source);
}

template <typename T>
T __shfl_sync(unsigned, T value, int source_lane, int width = 32) {
  const unsigned lane = ::sr_emu::lane();
  const unsigned base = lane - lane % static_cast<unsigned>(width);
  const unsigned source = base + static_cast<unsigned>(source_lane) % static_cast<unsigned>(width);
  return ::sr_emu::shuffle(value, source);
}

template <typename T>
T __shfl_down_sync(unsigned, T value, unsigned delta, int width = 32) {
  const unsigned lane = ::sr_emu::lane();
  const unsigned segment = lane % static_cast<unsigned>(width);
  const unsigned source = segment + delta < static_cast<unsigned>(width) ? lane + delta : lane;
  return ::sr_emu::shuffle(value, source);
}

// Fibers never preempt one another: a read-modify-write is atomic as it stands.
inline int atomicMin(int* address, int value) {
  const int old = *address;
  *address = value < old ? value : old;
  return old;
}

inline int atomicMax(int* address, int value) {
  const int old = *address;
  *address = value > old ? value : old;
  return old;
}

template <typename T>
T __ldg(const T* address) {
  return *address;
}

inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<uint64_t>(a) * b) >> 32);
}
inline float __uint_as_float(unsigned bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}
inline unsigned __float_as_uint(float value) {
  unsigned bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}
// Separately rounded IEEE operations: the emulated sources are compiled without contraction.
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }

// Byte n of the result is byte (selector >> 4n) & 7 of the 8-byte value {y, x} (x: bytes 0-3).
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned selector) {
  const uint64_t bytes = (static_cast<uint64_t>(y) << 32) | x;
  unsigned result = 0;
  for (int n = 0; n < 4; ++n) {
    const unsigned pick = (selector >> (4 * n)) & 7u;
    result |= static_cast<unsigned>((bytes >> (8 * pick)) & 0xffu) << (8 * n);
  }
  return result;
}

// The low 32 bits of the 64-bit value {hi, lo} shifted right by shift % 32 bits.
inline unsigned __funnelshift_r(unsigned lo, unsigned hi, unsigned shift) {
  const uint64_t both = (static_cast<uint64_t>(hi) << 32) | lo;
  return static_cast<unsigned>(both >> (shift & 31u));
}

// Four byte products added to c (unsigned and signed forms of the instruction).
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
  for (int i = 0; i < 4; ++i) c += ((a >> (8 * i)) & 0xffu) * ((b >> (8 * i)) & 0xffu);
  return c;
}
inline int __dp4a(int a, int b, int c) {
  for (int i = 0; i < 4; ++i) {
    c += static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * i)) *
         static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * i));
  }
  return c;
}

// CUDA's device min/max overloads (host code has only std::min/std::max).
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
