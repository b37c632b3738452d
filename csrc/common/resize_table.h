// A ResizeTable together with the host memory it points into: what the bindings build (and
// cache, and copy to the device) and what the C++ tests use. Host only.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/cubic.h"
#include "sr_kernels/imresize.h"

namespace sr {

struct HostResizeTable {
  int64_t in_len = 0, out_len = 0, taps = 0;
  std::vector<int32_t> index;
  std::vector<double> weight;
  std::vector<float> weight_f32;
  float tie_margin = 0.0f;
  int64_t tile_span = 0;
  ResizeRun run{0, 0, 0};
  ResizeRange quads{0, 0};
  int64_t quad_offsets = -1;
  bool run_exact = false;

  ResizeTable view() const {
    return ResizeTable{in_len,       out_len,       taps,
                       index.data(), weight.data(), weight_f32.data(),
                       tie_margin,   tile_span,     run.step,
                       run.begin,    run.end,       quads.begin,
                       quads.end,    quad_offsets,  run_exact ? 1 : 0};
  }
};

// The table of the forward resize in_len -> out_len, or (transposed) of its adjoint
// out_len -> in_len (the backward), with every derived field filled in.
inline HostResizeTable make_resize_table(int64_t in_len, int64_t out_len, double scale,
                                         bool antialias, ResizeEdge edge, bool transposed) {
  HostResizeTable t;
  std::vector<int32_t> index;
  std::vector<double> weight;
  const int64_t taps = build_resize_table(in_len, out_len, scale, antialias, edge, index, weight);
  if (transposed) {
    t.taps = transpose_resize_table(in_len, out_len, taps, index, weight, t.index, t.weight);
    t.in_len = out_len;
    t.out_len = in_len;
  } else {
    t.taps = taps;
    t.index = std::move(index);
    t.weight = std::move(weight);
    t.in_len = in_len;
    t.out_len = out_len;
  }
  t.weight_f32.assign(t.weight.begin(), t.weight.end());
  t.tie_margin = imresize_tie_margin(t.out_len, t.taps, t.weight.data());
  t.tile_span = imresize_tile_span(t.out_len, t.taps, t.index.data(), kImresizeSpanTile);
  t.run = imresize_run(t.out_len, t.taps, t.index.data(), t.weight.data());
  t.quads = imresize_quad_range(t.out_len, t.taps, t.index.data(), t.weight.data());
  t.quad_offsets = imresize_sums_exact(t.taps, t.weight.data(), t.quads)
                       ? imresize_quad_offsets(t.taps, t.index.data(), t.quads)
                       : -1;
  t.run_exact = imresize_sums_exact(t.taps, t.weight.data(), ResizeRange{t.run.begin, t.run.end});
  return t;
}

}  // namespace sr
