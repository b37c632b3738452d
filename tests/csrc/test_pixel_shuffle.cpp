// sr::pixel_shuffle_cpu against a naive loop over logical (N, C, H, W) coordinates: NCHW and
// NHWC layouts, shuffle and unshuffle, every element size, odd shapes, empty tensors and
// invalid arguments.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "sr_kernels/pixel_shuffle.h"
#include "testing.h"
#if defined(SR_CUDA_EMULATION)
#include "cuda_emulation.h"
#endif

namespace {

struct Shape {
  int64_t n, c, h, w;
  int64_t numel() const { return n * c * h * w; }
};

// Element strides of a 4-D tensor in (N, C, H, W) order for either memory layout.
struct Strides {
  int64_t n, c, h, w;
};

Strides strides_of(const Shape& s, bool channels_last) {
  if (channels_last) return {s.h * s.w * s.c, 1, s.w * s.c, s.c};
  return {s.c * s.h * s.w, s.h * s.w, s.w, 1};
}

int64_t offset(const Strides& st, int64_t n, int64_t c, int64_t h, int64_t w) {
  return n * st.n + c * st.c + h * st.h + w * st.w;
}

// The map the binding builds: the six dimensions in the destination's memory order.
// Index space (n, c, h, i, w, j) with big = (N, C, H*r, W*r) and small = (N, C*r*r, H, W).
sr::StridedCopy6d make_map(const Shape& small, int64_t r, bool channels_last, bool upscale) {
  const Shape big{small.n, small.c / (r * r), small.h * r, small.w * r};
  const Strides b = strides_of(big, channels_last);
  const Strides s = strides_of(small, channels_last);
  struct Dim {
    int64_t size, big, small;
  };
  const Dim dn{big.n, b.n, s.n}, dc{big.c, b.c, r * r * s.c};
  const Dim dh{small.h, r * b.h, s.h}, di{r, b.h, r * s.c};
  const Dim dw{small.w, r * b.w, s.w}, dj{r, b.w, s.c};
  std::vector<Dim> order;
  if (upscale) {
    order = channels_last ? std::vector<Dim>{dn, dh, di, dw, dj, dc}
                          : std::vector<Dim>{dn, dc, dh, di, dw, dj};
  } else {
    order = channels_last ? std::vector<Dim>{dn, dh, dw, dc, di, dj}
                          : std::vector<Dim>{dn, dc, di, dj, dh, dw};
  }
  sr::StridedCopy6d map{};
  for (int d = 0; d < 6; ++d) {
    map.size[d] = order[d].size;
    map.dst_stride[d] = upscale ? order[d].big : order[d].small;
    map.src_stride[d] = upscale ? order[d].small : order[d].big;
  }
  return map;
}

template <typename T>
std::vector<T> pattern(int64_t count) {
  std::vector<T> values(count);
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (auto& value : values) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const uint64_t bits = state >> 11;
    std::memcpy(&value, &bits, sizeof(T));
  }
  return values;
}

template <typename T>
void check_case(const Shape& small, int64_t r, bool channels_last, bool upscale) {
  const Shape big{small.n, small.c / (r * r), small.h * r, small.w * r};
  const Shape& in_shape = upscale ? small : big;
  const Shape& out_shape = upscale ? big : small;
  const std::vector<T> input = pattern<T>(in_shape.numel());
  std::vector<T> out(out_shape.numel(), T{});
  std::vector<T> expected(out_shape.numel(), T{});

  const Strides bs = strides_of(big, channels_last);
  const Strides ss = strides_of(small, channels_last);
  for (int64_t n = 0; n < big.n; ++n)
    for (int64_t c = 0; c < big.c; ++c)
      for (int64_t y = 0; y < big.h; ++y)
        for (int64_t x = 0; x < big.w; ++x) {
          // big[n, c, y, x] == small[n, c*r*r + (y % r)*r + (x % r), y / r, x / r]
          const int64_t b = offset(bs, n, c, y, x);
          const int64_t s = offset(ss, n, c * r * r + (y % r) * r + (x % r), y / r, x / r);
          if (upscale) {
            expected[b] = input[s];
          } else {
            expected[s] = input[b];
          }
        }

  const sr::StridedCopy6d map = make_map(small, r, channels_last, upscale);
  const sr::Status status = sr::pixel_shuffle_cpu(input.data(), out.data(), sizeof(T), map);
  const std::string name = std::string(upscale ? "pixel_shuffle" : "pixel_unshuffle") +
                           " element_size=" + std::to_string(sizeof(T)) +
                           " r=" + std::to_string(r) + " small=" + std::to_string(small.n) + "x" +
                           std::to_string(small.c) + "x" + std::to_string(small.h) + "x" +
                           std::to_string(small.w) + (channels_last ? " NHWC" : " NCHW");
  SR_EXPECT(status == sr::Status::kOk, name);
  SR_EXPECT(std::memcmp(out.data(), expected.data(), sizeof(T) * out.size()) == 0, name);
#if defined(SR_CUDA_EMULATION)
  // The same case through the CUDA kernel, run on the CPU (tests/csrc/emulation).
  std::vector<T> emulated(out_shape.numel(), T{});
  SR_EXPECT(sr::launch_pixel_shuffle(input.data(), emulated.data(), sizeof(T), map, nullptr) ==
                sr::Status::kOk,
            name + " (cuda)");
  SR_EXPECT(std::memcmp(emulated.data(), expected.data(), sizeof(T) * out.size()) == 0,
            name + " (cuda)");
#endif
}

template <typename T>
void check_all_layouts() {
  // r = 2, 3, 4 take the per-pixel path in channels-last; r = 5 the generic block copy.
  const Shape shapes[] = {{1, 4, 1, 1},  {2, 12, 5, 7},   {1, 27, 3, 4},
                          {3, 16, 9, 2}, {1, 64, 33, 17}, {2, 50, 3, 2}};
  const int64_t factors[] = {2, 3, 2, 4, 2, 5};
  for (int k = 0; k < 6; ++k) {
    for (bool channels_last : {false, true}) {
      for (bool upscale : {true, false}) {
        check_case<T>(shapes[k], factors[k], channels_last, upscale);
      }
    }
  }
}

void check_edge_cases() {
  // An empty tensor launches nothing and leaves the destination untouched.
  const Shape empty{0, 12, 4, 4};
  std::vector<uint8_t> dst(8, 7);
  const sr::StridedCopy6d map = make_map(empty, 2, false, true);
  SR_EXPECT(sr::pixel_shuffle_cpu(nullptr, dst.data(), 1, map) == sr::Status::kOk, "batch 0");
  SR_EXPECT(dst[0] == 7 && dst[7] == 7, "batch 0 leaves dst untouched");

  // Unsupported element sizes and negative sizes are reported, never copied.
  const Shape one{1, 4, 1, 1};
  std::vector<uint8_t> src(64, 1);
  SR_EXPECT(sr::pixel_shuffle_cpu(src.data(), dst.data(), 3, make_map(one, 2, false, true)) ==
                sr::Status::kInvalidArgument,
            "element_size 3");
  sr::StridedCopy6d negative = make_map(one, 2, false, true);
  negative.size[2] = -1;
  SR_EXPECT(
      sr::pixel_shuffle_cpu(src.data(), dst.data(), 1, negative) == sr::Status::kInvalidArgument,
      "negative size");
}

}  // namespace

int main() {
  check_all_layouts<uint8_t>();
  check_all_layouts<uint16_t>();
  check_all_layouts<uint32_t>();
  check_all_layouts<uint64_t>();
  check_edge_cases();
  return sr_test::exit_code();
}
