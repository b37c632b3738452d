// Host functions for pixel_shuffle / pixel_unshuffle: checks -> device guard -> numel()==0 ->
// allocate -> launch -> check. The output keeps the input's memory format (NCHW or NHWC).
#include "sr_kernels/pixel_shuffle.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <array>

#include "checks.h"
#include "layout.h"

#ifdef SR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

void check_inputs(const at::Tensor& x, int64_t r, bool upscale) {
  SR_CHECK_DIM(x, "x", 4);
  SR_CHECK_ARG(r > 0, "r", "expected a positive factor, got ", r);
  const auto st = x.scalar_type();
  SR_CHECK_TYPE(st == at::kFloat || st == at::kHalf || st == at::kBFloat16 || st == at::kByte ||
                    st == at::kDouble,
                "x", "expected float32, float16, bfloat16, float64 or uint8, got ", st);
  // r*r and the output sizes are computed in int64: refuse what would wrap (r = 2^32 made r*r
  // zero and the channel check divide by it).
  int64_t r2 = 0, product = 0;
  const bool fits = !__builtin_mul_overflow(r, r, &r2) &&
                    !__builtin_mul_overflow(
                        r2, std::max<int64_t>({x.size(1), x.size(2), x.size(3), 1}), &product);
  SR_CHECK_ARG(fits, "r", "r = ", r, " is too large: the output sizes would overflow int64");
  if (upscale) {
    SR_CHECK_ARG(x.size(1) % (r * r) == 0, "x", "channels (", x.size(1),
                 ") must be divisible by r*r = ", r * r);
  } else {
    SR_CHECK_ARG(x.size(2) % r == 0 && x.size(3) % r == 0, "x", "height and width (", x.size(2),
                 ", ", x.size(3), ") must be divisible by r = ", r);
  }
}

// One (size, stride in the big tensor, stride in the small tensor) per dimension of the
// (n, c, h, i, w, j) index space; big = (N, C, H*r, W*r), small = (N, C*r*r, H, W).
struct Dim {
  int64_t size, big, small;
};

// Builds the copy in the destination's memory order. For pixel_shuffle the destination is the
// output (n, c, h*r+i, w*r+j) and the source the input (n, c*r*r+i*r+j, h, w); pixel_unshuffle
// swaps the roles.
sr::StridedCopy6d make_map(const at::Tensor& x, const at::Tensor& out, int64_t r, bool upscale,
                           bool channels_last) {
  const at::Tensor& big = upscale ? out : x;    // (N, C, H*r, W*r)
  const at::Tensor& small = upscale ? x : out;  // (N, C*r*r, H, W)
  const int64_t n = big.size(0), c = big.size(1), h = small.size(2), w = small.size(3);
  const auto bs = big.strides();
  const auto ss = small.strides();
  const Dim dn{n, bs[0], ss[0]};
  const Dim dc{c, bs[1], r * r * ss[1]};
  const Dim dh{h, r * bs[2], ss[2]};
  const Dim di{r, bs[2], r * ss[1]};
  const Dim dw{w, r * bs[3], ss[3]};
  const Dim dj{r, bs[3], ss[1]};
  std::array<Dim, 6> order;
  if (upscale) {  // destination = big, memory order (n, c, h, i, w, j) or (n, h, i, w, j, c)
    order = channels_last ? std::array<Dim, 6>{dn, dh, di, dw, dj, dc}
                          : std::array<Dim, 6>{dn, dc, dh, di, dw, dj};
  } else {  // destination = small, channel index c*r*r + i*r + j
    order = channels_last ? std::array<Dim, 6>{dn, dh, dw, dc, di, dj}
                          : std::array<Dim, 6>{dn, dc, di, dj, dh, dw};
  }
  sr::StridedCopy6d map;
  for (int d = 0; d < 6; ++d) {
    map.size[d] = order[d].size;
    map.dst_stride[d] = upscale ? order[d].big : order[d].small;
    map.src_stride[d] = upscale ? order[d].small : order[d].big;
  }
  return map;
}

at::Tensor allocate_output(const at::Tensor& x, int64_t r, bool upscale, bool channels_last) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  std::vector<int64_t> shape = upscale ? std::vector<int64_t>{n, c / (r * r), h * r, w * r}
                                       : std::vector<int64_t>{n, c * r * r, h / r, w / r};
  return at::empty(shape, x.options().memory_format(channels_last ? at::MemoryFormat::ChannelsLast
                                                                  : at::MemoryFormat::Contiguous));
}

template <bool kUpscale>
at::Tensor pixel_shuffle_cpu(const at::Tensor& x, int64_t r) {
  check_inputs(x, r, kUpscale);
  const bool channels_last = is_channels_last(x);
  at::Tensor out = allocate_output(x, r, kUpscale, channels_last);
  if (out.numel() == 0) return out;
  const auto map = make_map(x, out, r, kUpscale, channels_last);
  SR_CHECK_STATUS(
      sr::pixel_shuffle_cpu(x.const_data_ptr(), out.mutable_data_ptr(), x.element_size(), map),
      kUpscale ? "pixel_shuffle" : "pixel_unshuffle");
  return out;
}

#ifdef SR_WITH_CUDA
template <bool kUpscale>
at::Tensor pixel_shuffle_cuda(const at::Tensor& x, int64_t r) {
  check_inputs(x, r, kUpscale);
  const c10::cuda::CUDAGuard guard(x.device());
  const bool channels_last = is_channels_last(x);
  at::Tensor out = allocate_output(x, r, kUpscale, channels_last);
  if (out.numel() == 0) return out;
  const auto map = make_map(x, out, r, kUpscale, channels_last);
  SR_CHECK_STATUS(
      sr::launch_pixel_shuffle(x.const_data_ptr(), out.mutable_data_ptr(), x.element_size(), map,
                               c10::cuda::getCurrentCUDAStream().stream()),
      kUpscale ? "pixel_shuffle" : "pixel_unshuffle");
  return out;
}
#endif

}  // namespace

TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) {
  m.impl("pixel_shuffle", &pixel_shuffle_cpu<true>);
  m.impl("pixel_unshuffle", &pixel_shuffle_cpu<false>);
}

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) {
  m.impl("pixel_shuffle", &pixel_shuffle_cuda<true>);
  m.impl("pixel_unshuffle", &pixel_shuffle_cuda<false>);
}
#endif
