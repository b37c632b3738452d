// Must fail: a CUDA thread reads past a local array after the emulator resumed it (a barrier
// let the block's other threads run in between). CTest passes it only where AddressSanitizer
// reports the stack-buffer-overflow, i.e. a resumed fiber's stack still has its redzones. ASan's
// own swapcontext handling cleared them on each resume, and this read went unreported.
#include <cstdio>

#include "cuda_emulation.h"

namespace {

__attribute__((noinline)) int read_at(const volatile int* values, int index) {
  return values[index];
}

}  // namespace

int main() {
  int sum = 0;
  sr_emu::launch(
      [&] {
        volatile int local[8];
        for (int i = 0; i < 8; ++i) local[i] = i;
        sr_emu::sync_threads();  // every other thread of the block runs before this one resumes
        const int past_the_end = sr_emu::thread_rank() == 5 ? 8 : 3;
        sum += read_at(local, past_the_end);
      },
      dim3(2), dim3(64));
  std::printf("not reported; sum %d\n", sum);
  return 0;
}
