// The CPU runtime behind cuda_emulation.h: blocks in sequence; a block's CUDA threads are fibers
// (ucontext) on the calling thread, each running until it waits at a barrier or exits.
//
// Deterministic: the same launch always interleaves the same way. Waiters leave a barrier in
// increasing thread order after one barrier and decreasing after the next, so a read of
// another thread's shared-memory write that lacks a barrier sees the 0xff fill in one of the
// two directions. A barrier that some threads never reach is reported as a deadlock.
#include "cuda_emulation.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace sr_emu {
namespace {

constexpr unsigned kWarp = 32;
constexpr unsigned kWarpgroup = 128;
constexpr size_t kDynamicSharedLimit = 48 * 1024;  // more needs cudaFuncSetAttribute
constexpr size_t kStackBytes = 256 * 1024;         // per CUDA thread (sanitizers need room)
constexpr size_t kGatherBytes = 64;                // per lane, warp_all_gather

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "cuda emulation: %s\n", what);
  std::abort();
}

// A barrier among fibers: the last to arrive releases the others (made runnable again).
struct FiberBarrier {
  unsigned expected = 0;
  std::vector<unsigned> waiters;
  bool reverse = false;  // release order, alternating
};

struct AsyncCopy {
  void* dst;
  const void* src;
  int src_bytes, total_bytes;
  int group;
};

struct Fiber {
  ucontext_t context;
  ThreadCoordinates coordinates;
  unsigned linear = 0;
  std::vector<AsyncCopy> copies;  // issued, not yet done
  int open_group = 0;             // the group new copies join (cp.async.commit_group closes it)
};

struct Block {
  std::vector<Fiber> fibers;
  std::deque<unsigned> runnable;
  FiberBarrier sync;
  std::vector<FiberBarrier> warp_sync;
  std::vector<FiberBarrier> warpgroup_sync;
  std::vector<unsigned char> gather;   // warp_all_gather: kGatherBytes per thread
  std::vector<const void*> published;  // warpgroup_publish: one pointer per thread
  unsigned char* shared = nullptr;
  size_t shared_bytes = 0;
  const std::function<void()>* body = nullptr;
  ucontext_t scheduler{};  // its uc_stack is read by ASan at each switch to it: none
  unsigned current = 0;
};

// AddressSanitizer must be told of every stack switch (else it may report false positives).
// The scheduler's stack, as the sanitizer reports it when a fiber starts or resumes.
const void* scheduler_stack = nullptr;
size_t scheduler_stack_size = 0;
#if defined(__SANITIZE_ADDRESS__)
// Switches from the current context to `to`, whose stack is [bottom, bottom + size);
// `exiting`: the current fiber never resumes.
void switch_context(ucontext_t* from, ucontext_t* to, const void* bottom, size_t size,
                    bool exiting = false) {
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(exiting ? nullptr : &fake_stack, bottom, size);
  if (exiting) return;  // the caller returns into uc_link
  swapcontext(from, to);
  __sanitizer_finish_switch_fiber(fake_stack, &scheduler_stack, &scheduler_stack_size);
}
void fiber_started() {
  __sanitizer_finish_switch_fiber(nullptr, &scheduler_stack, &scheduler_stack_size);
}
// A fiber about to start on `stack`: its shadow is cleared here, once, and its context's stack
// size is set to 0. ASan's swapcontext interceptor clears the shadow of the stack a context names
// (32 KiB) twice on every switch into it, which was 58 % of the emulated residual block test's
// time, and dropped the redzones of the frames a resumed fiber still has. The stack pointer was
// set by makecontext; swapcontext and setcontext do not read uc_stack again.
void fiber_prepared(ucontext_t& context, void* stack, size_t size) {
  __asan_unpoison_memory_region(stack, size);
  context.uc_stack.ss_size = 0;
}
#else
void switch_context(ucontext_t* from, ucontext_t* to, const void*, size_t, bool exiting = false) {
  if (!exiting) swapcontext(from, to);
}
void fiber_started() {}
void fiber_prepared(ucontext_t&, void*, size_t) {}
#endif

Block* running = nullptr;  // the block being run (one at a time, on one OS thread)
uint64_t blocks_run = 0;
int launches = 0;
LaunchRecord latest_launch;
bool dry_run = false;
Device emulated_device;
int dynamic_shared_limit = static_cast<int>(kDynamicSharedLimit);

// Fiber stacks, mapped once and reused by every block.
std::vector<void*>& stacks() {
  static std::vector<void*> pool;
  return pool;
}

void* stack(unsigned i) {
  std::vector<void*>& pool = stacks();
  while (pool.size() <= i) {
    void* s =
        mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) fail("cannot map a fiber stack");
    pool.push_back(s);
  }
  return pool[i];
}

Block& block() {
  if (running == nullptr) fail("device function called outside a launch");
  return *running;
}

void yield_to_scheduler(Block& b) {
  switch_context(&b.fibers[b.current].context, &b.scheduler, scheduler_stack, scheduler_stack_size);
}

void release(Block& b, FiberBarrier& barrier) {
  if (barrier.reverse) {
    for (auto it = barrier.waiters.rbegin(); it != barrier.waiters.rend(); ++it) {
      b.runnable.push_back(*it);
    }
  } else {
    for (unsigned w : barrier.waiters) b.runnable.push_back(w);
  }
  barrier.waiters.clear();
  barrier.reverse = !barrier.reverse;
}

void arrive_and_wait(FiberBarrier& barrier) {
  Block& b = block();
  if (barrier.waiters.size() + 1 == barrier.expected) {
    release(b, barrier);  // the others run after this fiber's next wait or exit
    return;
  }
  barrier.waiters.push_back(b.current);
  yield_to_scheduler(b);
}

// An exited thread no longer takes part in barriers (as on the GPU).
void drop(Block& b, FiberBarrier& barrier) {
  --barrier.expected;
  if (!barrier.waiters.empty() && barrier.waiters.size() == barrier.expected) release(b, barrier);
}

void complete_copies(Fiber& f, int up_to_group) {
  size_t kept = 0;
  for (const AsyncCopy& c : f.copies) {
    if (c.group < up_to_group) {
      std::memcpy(c.dst, c.src, static_cast<size_t>(c.src_bytes));
      std::memset(static_cast<unsigned char*>(c.dst) + c.src_bytes, 0,
                  static_cast<size_t>(c.total_bytes - c.src_bytes));
    } else {
      f.copies[kept++] = c;
    }
  }
  f.copies.resize(kept);
}

void fiber_main() {
  fiber_started();
  Block& b = block();
  (*b.body)();
  complete_copies(b.fibers[b.current], 1 << 30);
  drop(b, b.sync);
  drop(b, b.warp_sync[b.current / kWarp]);
  drop(b, b.warpgroup_sync[b.current / kWarpgroup]);
  // Returning resumes uc_link, the scheduler.
  switch_context(nullptr, nullptr, scheduler_stack, scheduler_stack_size, true);
}

void run_block(Block& b, dim3 grid, dim3 block_dim, uint3 block_index, unsigned threads) {
  b.runnable.clear();
  b.sync = FiberBarrier{threads, {}, false};
  b.warp_sync.assign((threads + kWarp - 1) / kWarp, FiberBarrier{});
  b.warpgroup_sync.assign((threads + kWarpgroup - 1) / kWarpgroup, FiberBarrier{});
  for (unsigned t = 0; t < threads; ++t) {
    ++b.warp_sync[t / kWarp].expected;
    ++b.warpgroup_sync[t / kWarpgroup].expected;
  }
  b.fibers.resize(threads);
  for (unsigned t = 0; t < threads; ++t) {
    Fiber& f = b.fibers[t];
    f.coordinates.thread_index = make_uint3(t % block_dim.x, (t / block_dim.x) % block_dim.y,
                                            t / (block_dim.x * block_dim.y));
    f.coordinates.block_index = block_index;
    f.coordinates.block_dim = block_dim;
    f.coordinates.grid_dim = grid;
    f.linear = t;
    f.copies.clear();
    f.open_group = 0;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = stack(t);
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = &b.scheduler;
    makecontext(&f.context, fiber_main, 0);
    fiber_prepared(f.context, stack(t), kStackBytes);
    b.runnable.push_back(t);
  }
  while (!b.runnable.empty()) {
    b.current = b.runnable.front();
    b.runnable.pop_front();
    // Runs until it waits at a barrier or exits.
    switch_context(&b.scheduler, &b.fibers[b.current].context, stack(b.current), kStackBytes);
  }
  // Every exit leaves the block barrier: threads still counted there wait for ever.
  if (b.sync.expected != 0) fail("deadlock: threads wait at a barrier the others never reach");
}

}  // namespace

const ThreadCoordinates& coordinates() {
  Block& b = block();
  return b.fibers[b.current].coordinates;
}

void* dynamic_shared() { return block().shared; }

uint32_t shared_window_address(const void* ptr) {
  const Block& b = block();
  const auto* p = static_cast<const unsigned char*>(ptr);
  if (p < b.shared || p >= b.shared + b.shared_bytes) {
    fail("a shared-memory address outside the block's dynamic shared memory");
  }
  return static_cast<uint32_t>(p - b.shared);
}

const unsigned char* shared_window_pointer(uint32_t address, size_t bytes) {
  const Block& b = block();
  if (address > b.shared_bytes || bytes > b.shared_bytes - address) {
    fail("a shared-memory access past the block's dynamic shared memory");
  }
  return b.shared + address;
}

void sync_threads() { arrive_and_wait(block().sync); }

uint64_t block_serial() {
  block();  // inside a launch only
  return blocks_run;
}

unsigned thread_rank() {
  Block& b = block();
  return b.fibers[b.current].linear;
}

unsigned lane() {
  Block& b = block();
  return b.fibers[b.current].linear % kWarp;
}

void warp_all_gather(const void* mine, size_t bytes, void* all) {
  Block& b = block();
  const unsigned me = b.current;
  const unsigned warp = me / kWarp;
  if (bytes > kGatherBytes) fail("warp_all_gather of more than 64 bytes per lane");
  if ((warp + 1) * kWarp > b.fibers.size()) fail("a warp collective in a partial warp");
  std::memcpy(&b.gather[me * kGatherBytes], mine, bytes);
  arrive_and_wait(b.warp_sync[warp]);
  for (unsigned l = 0; l < kWarp; ++l) {
    std::memcpy(static_cast<unsigned char*>(all) + l * bytes,
                &b.gather[(warp * kWarp + l) * kGatherBytes], bytes);
  }
  arrive_and_wait(b.warp_sync[warp]);  // the buffer is reused by the next collective
}

void warpgroup_publish(const void* mine, const void** all) {
  Block& b = block();
  const unsigned me = b.current;
  const unsigned group = me / kWarpgroup;
  if ((group + 1) * kWarpgroup > b.fibers.size()) fail("a warpgroup collective in a partial one");
  b.published[me] = mine;
  arrive_and_wait(b.warpgroup_sync[group]);
  for (unsigned t = 0; t < kWarpgroup; ++t) all[t] = b.published[group * kWarpgroup + t];
}

void warpgroup_sync() { arrive_and_wait(block().warpgroup_sync[block().current / kWarpgroup]); }

uint64_t warp_exchange(uint64_t value, unsigned source) {
  if (source >= kWarp) fail("shuffle from a lane that does not exist");
  uint64_t all[kWarp];
  warp_all_gather(&value, sizeof(value), all);
  return all[source];
}

void async_copy(void* dst, const void* src, int src_bytes, int total_bytes) {
  Block& b = block();
  Fiber& f = b.fibers[b.current];
  f.copies.push_back(AsyncCopy{dst, src, src_bytes, total_bytes, f.open_group});
}

void async_commit() {
  Block& b = block();
  ++b.fibers[b.current].open_group;
}

void async_wait(int pending_groups) {
  Block& b = block();
  Fiber& f = b.fibers[b.current];
  complete_copies(f, f.open_group - pending_groups);
}

void set_device(const Device& d) { emulated_device = d; }
const Device& device() { return emulated_device; }
void set_dynamic_shared_limit(int bytes) { dynamic_shared_limit = bytes; }

void run_launch(const std::function<void()>& body, dim3 grid, dim3 block_dim, size_t smem) {
  const uint64_t threads = static_cast<uint64_t>(block_dim.x) * block_dim.y * block_dim.z;
  if (threads == 0 || threads > 1024 || block_dim.z > 64 || grid.x == 0 || grid.y == 0 ||
      grid.z == 0 || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
    fail("invalid launch configuration (block or grid size)");
  }
  if (smem > std::max<size_t>(kDynamicSharedLimit, static_cast<size_t>(dynamic_shared_limit))) {
    fail("more dynamic shared memory than cudaFuncSetAttribute allowed (48 KiB without it)");
  }
  if (running != nullptr) fail("a launch from inside a kernel");
  ++launches;
  latest_launch = LaunchRecord{grid, block_dim, smem};
  if (dry_run) return;
  Block b;
  b.body = &body;
  b.gather.assign(threads * kGatherBytes, 0);
  b.published.assign(threads, nullptr);
  b.shared_bytes = smem;
  for (unsigned bz = 0; bz < grid.z; ++bz) {
    for (unsigned by = 0; by < grid.y; ++by) {
      for (unsigned bx = 0; bx < grid.x; ++bx) {
        // A fresh, exactly sized buffer per block: overruns and unwritten reads show.
        auto* shared = static_cast<unsigned char*>(::operator new[](smem, std::align_val_t(16)));
        std::memset(shared, 0xff, smem);
        b.shared = shared;
        running = &b;
        ++blocks_run;
        run_block(b, grid, block_dim, make_uint3(bx, by, bz), static_cast<unsigned>(threads));
        running = nullptr;
        ::operator delete[](shared, std::align_val_t(16));
      }
    }
  }
}

int launch_count() { return launches; }
void reset_launch_count() { launches = 0; }
LaunchRecord last_launch() { return latest_launch; }
void set_dry_run(bool dry) { dry_run = dry; }

}  // namespace sr_emu

// The runtime calls the emulated launchers make (declared by cuda_runtime_api.h). Invalid
// launches abort in run_launch, so there is never an error to report.
cudaError_t CUDARTAPI cudaGetLastError(void) { return cudaSuccess; }

cudaError_t CUDARTAPI cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  const sr_emu::Device& d = sr_emu::device();
  if (device != 0) return cudaErrorInvalidDevice;
  switch (attribute) {
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = d.smem_per_block_optin;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = d.smem_per_sm;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor:
      *value = d.major;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *value = d.minor;
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *value = d.sm_count;
      return cudaSuccess;
    default:
      return cudaErrorInvalidValue;
  }
}
