// The CUDA imresize kernels (csrc/cuda/imresize.cu), emulated on the CPU (cuda_emulation.h),
// against the CPU kernel (csrc/cpu/imresize.cpp, itself bit-exact with MATLAB's LR files):
//   * uint8 and float64 bit for bit, float32 / float16 / bfloat16 by the STYLE.md rule against
//     the float64 result (max(2 x the CPU kernel's error, the dtype's floor));
//   * the fused kernel (one launch; uint8 with its intermediate as bytes and as floats) and the
//     two-kernel path (two launches), NCHW and NHWC;
//   * downscales with antialiasing (x4, x3, 1/3.7), upscales (x2, x4, 2.5), per-axis scales,
//     both edge rules, a 1-pixel image, odd sizes, rows of whole 8-byte words, batches, the
//     adjoint (backward) tables, and a grid of >= 1024 blocks, where the fused kernel takes
//     tiles taller than 16 rows.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/resize_table.h"
#include "cuda_emulation.h"
#include "sr_kernels/imresize.h"
#include "testing.h"

namespace {

using sr::ImresizeDtype;

using Table = sr::HostResizeTable;

sr::Tensor4d describe(int64_t n, int64_t c, int64_t h, int64_t w, bool channels_last) {
  sr::Tensor4d d{{n, c, h, w}, {c * h * w, h * w, w, 1}};
  if (channels_last) {
    d.stride[1] = 1;
    d.stride[3] = c;
    d.stride[2] = w * c;
  }
  return d;
}

int64_t numel(const sr::Tensor4d& d) { return d.size[0] * d.size[1] * d.size[2] * d.size[3]; }

size_t element_size(ImresizeDtype t) {
  switch (t) {
    case ImresizeDtype::kUInt8:
      return 1;
    case ImresizeDtype::kFloat16:
    case ImresizeDtype::kBFloat16:
      return 2;
    case ImresizeDtype::kFloat32:
      return 4;
    case ImresizeDtype::kFloat64:
      return 8;
  }
  return 0;
}

size_t mid_size(ImresizeDtype t) {
  return t == ImresizeDtype::kUInt8 ? 1 : (t == ImresizeDtype::kFloat64 ? 8 : 4);
}

const char* name(ImresizeDtype t) {
  switch (t) {
    case ImresizeDtype::kUInt8:
      return "uint8";
    case ImresizeDtype::kFloat16:
      return "float16";
    case ImresizeDtype::kBFloat16:
      return "bfloat16";
    case ImresizeDtype::kFloat32:
      return "float32";
    case ImresizeDtype::kFloat64:
      return "float64";
  }
  return "?";
}

// Element i of a buffer of dtype t, as double.
double value_at(const std::vector<unsigned char>& b, ImresizeDtype t, int64_t i) {
  switch (t) {
    case ImresizeDtype::kUInt8:
      return b[i];
    case ImresizeDtype::kFloat16: {
      __half h;
      std::memcpy(&h, &b[i * 2], 2);
      return __half2float(h);
    }
    case ImresizeDtype::kBFloat16: {
      __nv_bfloat16 h;
      std::memcpy(&h, &b[i * 2], 2);
      return __bfloat162float(h);
    }
    case ImresizeDtype::kFloat32: {
      float f;
      std::memcpy(&f, &b[i * 4], 4);
      return f;
    }
    case ImresizeDtype::kFloat64: {
      double d;
      std::memcpy(&d, &b[i * 8], 8);
      return d;
    }
  }
  return 0.0;
}

// Random pixels: uint8 0..255; floats in [-0.25, 1.25) rounded to the dtype. Never zeros.
std::vector<unsigned char> random_image(ImresizeDtype t, int64_t count, std::mt19937& rng) {
  std::vector<unsigned char> b(static_cast<size_t>(count) * element_size(t));
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> real(-0.25f, 1.25f);
  for (int64_t i = 0; i < count; ++i) {
    switch (t) {
      case ImresizeDtype::kUInt8:
        b[i] = static_cast<unsigned char>(byte(rng));
        break;
      case ImresizeDtype::kFloat16: {
        const __half h = __float2half_rn(real(rng));
        std::memcpy(&b[i * 2], &h, 2);
        break;
      }
      case ImresizeDtype::kBFloat16: {
        const __nv_bfloat16 h = __float2bfloat16_rn(real(rng));
        std::memcpy(&b[i * 2], &h, 2);
        break;
      }
      case ImresizeDtype::kFloat32: {
        const float f = real(rng);
        std::memcpy(&b[i * 4], &f, 4);
        break;
      }
      case ImresizeDtype::kFloat64: {
        const double d = real(rng);
        std::memcpy(&b[i * 8], &d, 8);
        break;
      }
    }
  }
  return b;
}

std::vector<unsigned char> to_float64(const std::vector<unsigned char>& b, ImresizeDtype t,
                                      int64_t count) {
  std::vector<unsigned char> out(static_cast<size_t>(count) * 8);
  for (int64_t i = 0; i < count; ++i) {
    const double v = value_at(b, t, i);
    std::memcpy(&out[i * 8], &v, 8);
  }
  return out;
}

struct Case {
  std::string label;
  int64_t n, c, h, w;
  double scale_h, scale_w;
  bool antialias;
  sr::ResizeEdge edge;
  bool transposed;  // the adjoint tables (the backward); (h, w) is then the gradient's size
  bool expect_fused;
};

struct Resized {
  std::vector<unsigned char> out;
  int launches;
  sr::Status status;
};

Resized run_cpu(ImresizeDtype t, const std::vector<unsigned char>& src, const sr::Tensor4d& sd,
                const sr::Tensor4d& md, const sr::Tensor4d& dd, const Table& rows,
                const Table& cols) {
  Resized r;
  std::vector<unsigned char> mid(static_cast<size_t>(numel(md)) * mid_size(t));
  r.out.assign(static_cast<size_t>(numel(dd)) * element_size(t), 0);
  r.status = sr::imresize_cpu(t, src.data(), sd, mid.data(), md, r.out.data(), dd, rows.view(),
                              cols.view());
  r.launches = 0;
  return r;
}

Resized run_cuda(ImresizeDtype t, const std::vector<unsigned char>& src, const sr::Tensor4d& sd,
                 const sr::Tensor4d& md, const sr::Tensor4d& dd, const Table& rows,
                 const Table& cols, bool fused) {
  Resized r;
  std::vector<unsigned char> mid(static_cast<size_t>(numel(md)) * mid_size(t), 0xff);
  r.out.assign(static_cast<size_t>(numel(dd)) * element_size(t), 0xff);  // unwritten shows
  sr_emu::reset_launch_count();
  r.status = sr::launch_imresize(t, src.data(), sd, mid.data(), md, r.out.data(), dd, rows.view(),
                                 cols.view(), nullptr, fused);
  r.launches = sr_emu::launch_count();
  return r;
}

// ||out - ref64|| / ||ref64||.
double relative_error(const std::vector<unsigned char>& out, ImresizeDtype t,
                      const std::vector<unsigned char>& ref64, int64_t count) {
  double err = 0.0, norm = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double r = value_at(ref64, ImresizeDtype::kFloat64, i);
    const double d = value_at(out, t, i) - r;
    err += d * d;
    norm += r * r;
  }
  return norm > 0.0 ? std::sqrt(err / norm) : std::sqrt(err);
}

double floor_of(ImresizeDtype t) {
  switch (t) {
    case ImresizeDtype::kFloat16:
      return 2e-3;
    case ImresizeDtype::kBFloat16:
      return 1e-2;
    default:
      return 1e-6;
  }
}

void check_case(const Case& k, ImresizeDtype t, bool channels_last, std::mt19937& rng) {
  const auto out_len = [](int64_t in, double s) {
    return static_cast<int64_t>(std::ceil(static_cast<double>(in) * s));
  };
  Table rows, cols;
  int64_t out_h, out_w;
  if (k.transposed) {  // (h, w) is the gradient's size; the tables map it back to the input's
    out_h = std::max<int64_t>(1, static_cast<int64_t>(std::floor(k.h / k.scale_h)));
    out_w = std::max<int64_t>(1, static_cast<int64_t>(std::floor(k.w / k.scale_w)));
    rows = sr::make_resize_table(out_h, k.h, k.scale_h, k.antialias, k.edge, true);
    cols = sr::make_resize_table(out_w, k.w, k.scale_w, k.antialias, k.edge, true);
  } else {
    out_h = out_len(k.h, k.scale_h);
    out_w = out_len(k.w, k.scale_w);
    rows = sr::make_resize_table(k.h, out_h, k.scale_h, k.antialias, k.edge, false);
    cols = sr::make_resize_table(k.w, out_w, k.scale_w, k.antialias, k.edge, false);
  }
  const sr::Tensor4d sd = describe(k.n, k.c, k.h, k.w, channels_last);
  const sr::Tensor4d md = describe(k.n, k.c, rows.out_len, k.w, channels_last);
  const sr::Tensor4d dd = describe(k.n, k.c, rows.out_len, cols.out_len, channels_last);
  const std::string where = k.label + " " + name(t) + (channels_last ? " nhwc" : " nchw");

  const std::vector<unsigned char> src = random_image(t, numel(sd), rng);
  const Resized cpu = run_cpu(t, src, sd, md, dd, rows, cols);
  SR_EXPECT(cpu.status == sr::Status::kOk, where + ": the CPU kernel failed");
  const bool exact = t == ImresizeDtype::kUInt8 || t == ImresizeDtype::kFloat64;
  std::vector<unsigned char> ref64;
  double bound = 0.0;
  if (!exact) {
    ref64 =
        run_cpu(ImresizeDtype::kFloat64, to_float64(src, t, numel(sd)), sd, md, dd, rows, cols).out;
    bound = std::max(2.0 * relative_error(cpu.out, t, ref64, numel(dd)), floor_of(t));
  }
  for (const bool fused : {true, false}) {
    const Resized gpu = run_cuda(t, src, sd, md, dd, rows, cols, fused);
    const std::string path = where + (fused ? " fused" : " two-pass");
    SR_EXPECT(gpu.status == sr::Status::kOk, path + ": launch_imresize failed");
    const int expected_launches = numel(dd) == 0 ? 0 : (fused && k.expect_fused ? 1 : 2);
    SR_EXPECT(gpu.launches == expected_launches, path + ": " + std::to_string(gpu.launches) +
                                                     " launches, expected " +
                                                     std::to_string(expected_launches));
    if (exact) {
      int64_t differing = 0;
      for (int64_t i = 0; i < numel(dd); ++i) {
        differing += value_at(gpu.out, t, i) != value_at(cpu.out, t, i) ? 1 : 0;
      }
      SR_EXPECT(differing == 0, path + ": " + std::to_string(differing) + " of " +
                                    std::to_string(numel(dd)) + " elements differ from the CPU");
    } else {
      const double err = relative_error(gpu.out, t, ref64, numel(dd));
      SR_EXPECT(err <= bound,
                path + ": relative error " + std::to_string(err) + " > " + std::to_string(bound));
    }
  }
}

}  // namespace

// The row runs (ResizeTable::run_*) the fused kernel walks: antialiased x2, x3 and x4 downscales
// have one covering all but their first and last few outputs, with the steps and tap counts the
// CUDA launcher instantiates (4 and 16, 3 and 11, 2 and 8); upscales and 1/3.7 have none.
void check_runs() {
  struct Expected {
    int64_t in_len;
    double scale;
    sr::ResizeEdge edge;
    int64_t step, taps;
  };
  for (const Expected& e : {Expected{104, 0.25, sr::ResizeEdge::kMirror, 4, 16},
                            Expected{1356, 0.25, sr::ResizeEdge::kClamp, 4, 16},
                            Expected{99, 1.0 / 3.0, sr::ResizeEdge::kMirror, 3, 11},
                            Expected{70, 0.5, sr::ResizeEdge::kClamp, 2, 8},
                            Expected{37, 1.0 / 3.7, sr::ResizeEdge::kMirror, 0, 0},
                            Expected{37, 4.0, sr::ResizeEdge::kMirror, 0, 0}}) {
    const int64_t out_len = static_cast<int64_t>(std::ceil(e.in_len * e.scale));
    const Table t = sr::make_resize_table(e.in_len, out_len, e.scale, true, e.edge, false);
    const std::string where =
        "run of " + std::to_string(e.in_len) + " x " + std::to_string(e.scale);
    SR_EXPECT(t.run.step == e.step, where + ": step " + std::to_string(t.run.step));
    if (e.step == 0) {
      SR_EXPECT(t.run.end == t.run.begin, where + ": a run where none was expected");
      continue;
    }
    SR_EXPECT(t.taps == e.taps, where + ": " + std::to_string(t.taps) + " taps");
    // Exact sums (imresize_sums_exact) for x2 and x4, which the run kernels rely on; not x3.
    SR_EXPECT(t.run_exact == (e.step != 3), where + ": run_exact " + std::to_string(t.run_exact));
    SR_EXPECT(t.run.begin <= 3 && t.run.end >= out_len - 3,
              where + ": run [" + std::to_string(t.run.begin) + ", " + std::to_string(t.run.end) +
                  ") of " + std::to_string(out_len) + " outputs");
    // Inside the run every output reads consecutive inputs, step after the previous one's.
    for (int64_t o = t.run.begin; o < t.run.end; ++o) {
      for (int64_t k = 0; k < t.taps; ++k) {
        const int64_t expected = t.index[t.run.begin * t.taps] + e.step * (o - t.run.begin) + k;
        SR_EXPECT(t.index[o * t.taps + k] == expected, where + ": index off the run");
        SR_EXPECT(t.weight[o * t.taps + k] == t.weight[t.run.begin * t.taps + k],
                  where + ": weights differ along the run");
      }
    }
  }
}

// The quad ranges (ResizeTable::quad_*) the width pass uses: x2 and x4 upscales (and integer
// downscales) have one covering all but a few outputs at each end, with weights repeating every
// 4 outputs; x3 (period 3) and 2.5 have none longer than 7.
void check_quad_ranges() {
  for (const double scale : {2.0, 4.0, 0.25, 3.0, 2.5}) {
    const int64_t in_len = 37;
    const int64_t out_len = static_cast<int64_t>(std::ceil(in_len * scale));
    const Table t =
        sr::make_resize_table(in_len, out_len, scale, true, sr::ResizeEdge::kMirror, false);
    const std::string where = "quad range of x" + std::to_string(scale);
    const int64_t length = t.quads.end - t.quads.begin;
    if (scale == 3.0 || scale == 2.5) {
      SR_EXPECT(length < 8, where + ": " + std::to_string(length) + " outputs");
      continue;
    }
    SR_EXPECT(t.quads.begin <= 12 && t.quads.end >= out_len - 12,
              where + ": [" + std::to_string(t.quads.begin) + ", " + std::to_string(t.quads.end) +
                  ") of " + std::to_string(out_len));
    for (int64_t o = t.quads.begin; o < t.quads.end; ++o) {
      for (int64_t k = 0; k < t.taps; ++k) {
        SR_EXPECT(t.index[o * t.taps + k] == t.index[o * t.taps] + k, where + ": not consecutive");
        if (o >= t.quads.begin + 4) {
          SR_EXPECT(t.weight[o * t.taps + k] == t.weight[(o - 4) * t.taps + k],
                    where + ": weights do not repeat every 4 outputs");
        }
      }
    }
    // The quad offsets (ResizeTable::quad_offsets): those the launcher compiles in for x4 and
    // x2 upscales (kX4UpQuadOffsets, kX2UpQuadOffsets: outputs 4p..4p+3 read from inputs p + 0,
    // 0, 1, 1 and 2p + 0, 1, 1, 2 on), and every aligned quad of the range has them.
    if (scale > 1.0) {
      const int64_t expected = scale == 4.0 ? (0 | 1 << 8 | 1 << 16) : (1 | 1 << 8 | 2 << 16);
      SR_EXPECT(t.quad_offsets == expected, where + ": quad offsets " +
                                                std::to_string(t.quad_offsets) + ", expected " +
                                                std::to_string(expected));
    }
    for (int64_t o = (t.quads.begin + 3) / 4 * 4; o + 4 <= t.quads.end; o += 4) {
      for (int64_t i = 1; i < 4; ++i) {
        const int64_t d = t.index[(o + i) * t.taps] - t.index[o * t.taps];
        SR_EXPECT(d == ((t.quad_offsets >> (8 * (i - 1))) & 0xff),
                  where + ": quad at " + std::to_string(o) + " has other offsets");
      }
    }
  }
  // Offsets that change between quads: none packed. Outputs 0..11 read from 0, 1, 1, 2 (x2
  // up), then 4, 5, 5, 6 (a quad advancing by 4 instead of 2: the quad offsets hold, as they
  // need only repeat) and last 9, 9, 10, 11 (other offsets: -1).
  const int32_t index[] = {0, 1, 1, 2, 4, 5, 5, 6, 9, 9, 10, 11};
  SR_EXPECT(sr::imresize_quad_offsets(1, index, sr::ResizeRange{0, 8}) == (1 | 1 << 8 | 2 << 16),
            "quad offsets of two quads with the same offsets");
  SR_EXPECT(sr::imresize_quad_offsets(1, index, sr::ResizeRange{0, 12}) == -1,
            "quad offsets of quads with different offsets");
  SR_EXPECT(sr::imresize_quad_offsets(1, index, sr::ResizeRange{1, 7}) == -1,
            "quad offsets of a range without an aligned quad");
  // The exact sums' condition (imresize_sums_exact): weights on the 2^-12 grid with sum |w| <= 2
  // per output. MATLAB's x2 and x4 weights are, up and down (x3's are not, nor 121/30's).
  for (const double scale : {4.0, 2.0, 0.5, 0.25, 3.0, 1.0 / 3.0, 121.0 / 30.0}) {
    const Table t = sr::make_resize_table(30, std::llround(30 * scale), scale, true,
                                          sr::ResizeEdge::kMirror, false);
    const sr::ResizeRange all{0, t.out_len};
    SR_EXPECT(sr::imresize_sums_exact(t.taps, t.weight.data(), all) ==
                  (scale == 4.0 || scale == 2.0 || scale == 0.5 || scale == 0.25),
              "exact sums of x" + std::to_string(scale));
  }
  const double on_grid[] = {-0.5, 1.0, 1.0, -0.5};  // on the grid, sum |w| = 3: a sum may round
  const double off_grid[] = {0.0, 1.0 + 1.0 / 8192.0, -1.0 / 8192.0, 0.0};
  SR_EXPECT(!sr::imresize_sums_exact(4, on_grid, sr::ResizeRange{0, 1}),
            "sum |w| > 2 is not exact");
  SR_EXPECT(!sr::imresize_sums_exact(4, off_grid, sr::ResizeRange{0, 1}),
            "2^-13 is not on the grid");
}

int main() {
  std::mt19937 rng(20261130);
  using sr::ResizeEdge;
  check_runs();
  check_quad_ranges();
  const std::vector<Case> cases = {
      {"x4 down 66x70", 1, 3, 66, 70, 0.25, 0.25, true, ResizeEdge::kMirror, false, true},
      // Rows of whole 8-byte words (uint8: the fused kernel's word height pass).
      {"x4 down 2x3x45x64", 2, 3, 45, 64, 0.25, 0.25, true, ResizeEdge::kMirror, false, true},
      {"x2 down 40x136 (two column tiles)", 1, 3, 40, 136, 0.5, 0.5, true, ResizeEdge::kClamp,
       false, true},
      {"x3 up 7x24", 1, 3, 7, 24, 3.0, 3.0, true, ResizeEdge::kMirror, false, true},
      // Wide downscale tiles: uint8 keeps its intermediate as bytes (as floats the tile would
      // be shorter); rows of words and not.
      {"x4 down 40x600", 1, 3, 40, 600, 0.25, 0.25, true, ResizeEdge::kMirror, false, true},
      {"x4 down 37x598", 1, 3, 37, 598, 0.25, 0.25, true, ResizeEdge::kClamp, false, true},
      {"x3 down 2x2x31x29", 2, 2, 31, 29, 1.0 / 3.0, 1.0 / 3.0, true, ResizeEdge::kClamp, false,
       true},
      {"x3 down no antialias", 1, 3, 31, 29, 1.0 / 3.0, 1.0 / 3.0, false, ResizeEdge::kMirror,
       false, true},
      {"x2 up 13x10", 1, 3, 13, 10, 2.0, 2.0, true, ResizeEdge::kClamp, false, true},
      {"x4 up 9x37 (two column tiles)", 1, 3, 9, 37, 4.0, 4.0, true, ResizeEdge::kMirror, false,
       true},
      {"1/3.7 down x 2.5 up", 1, 1, 37, 9, 1.0 / 3.7, 2.5, true, ResizeEdge::kMirror, false, true},
      {"1 pixel x3", 1, 3, 1, 1, 3.0, 3.0, true, ResizeEdge::kMirror, false, true},
      {"5 channels x2 down", 1, 5, 12, 14, 0.5, 0.5, true, ResizeEdge::kClamp, false, true},
      {"adjoint of x4 down", 1, 3, 9, 11, 0.25, 0.25, true, ResizeEdge::kMirror, true, true},
      {"batch 0", 0, 3, 8, 8, 0.5, 0.5, true, ResizeEdge::kMirror, false, true},
      // Integer downscales of word rows long enough for the uint8 run walks (height_pass_run,
      // and width_sums_run in NCHW), two row tiles each: runs cut by tile edges, whole groups
      // and leftover rows.
      {"x4 down 2x3x104x64 (row runs)", 2, 3, 104, 64, 0.25, 0.25, true, ResizeEdge::kMirror, false,
       true},
      {"x3 down 99x48 (row runs)", 1, 3, 99, 48, 1.0 / 3.0, 1.0 / 3.0, true, ResizeEdge::kMirror,
       false, true},
      {"x2 down 70x40 (row runs)", 1, 3, 70, 40, 0.5, 0.5, true, ResizeEdge::kClamp, false, true},
      // The same with the intermediate as bytes (a float one would make the tile shorter) and
      // output rows of whole 4-byte words (the width pass's column runs, NCHW).
      {"x4 down 40x608 (row and column runs, byte intermediate)", 1, 3, 40, 608, 0.25, 0.25, true,
       ResizeEdge::kMirror, false, true},
      // Output rows that are not whole words (18 columns; 54 bytes in NHWC): the column runs
      // store bytewise, of NCHW planes and of RGB pixels.
      {"x4 down 2x3x52x72 (runs, byte stores)", 2, 3, 52, 72, 0.25, 0.25, true, ResizeEdge::kClamp,
       false, true},
      // The same over three column tiles (258 output columns, as DIV2K's 510: rows of whole
      // 8-byte words in, not of whole 4-byte words out).
      {"x4 down 40x1032 (runs over three column tiles, byte stores)", 1, 3, 40, 1032, 0.25, 0.25,
       true, ResizeEdge::kMirror, false, true},
      // x4 and x2 upscales whose input rows are not whole 8-byte words (as DIV2K's 510-column
      // LR images): the height pass walks the rows table's quads (height_pass_quads) around the
      // general loop, then the width pass's quads; two column tiles, a last row tile of 8 rows.
      {"x4 up 30x34 (row and column quads, byte rows)", 1, 3, 30, 34, 4.0, 4.0, true,
       ResizeEdge::kMirror, false, true},
      {"x2 up 2x3x36x26 (row and column quads)", 2, 3, 36, 26, 2.0, 2.0, true, ResizeEdge::kClamp,
       false, true},
      // x2 up along W (the width pass's quad path) with a 1/54 downscale along H, whose 216-tap
      // rows table leaves a float intermediate only 8 rows where bytes fit 16: the quad path
      // over a byte intermediate (NCHW, output rows of whole words).
      {"1/54 down x 2 up (quads, byte intermediate)", 1, 3, 864, 64, 1.0 / 54.0, 2.0, true,
       ResizeEdge::kMirror, false, true},
  };
  for (const ImresizeDtype t :
       {ImresizeDtype::kUInt8, ImresizeDtype::kFloat32, ImresizeDtype::kFloat64,
        ImresizeDtype::kFloat16, ImresizeDtype::kBFloat16}) {
    for (const Case& k : cases) {
      if (k.transposed && t == ImresizeDtype::kUInt8) continue;  // the backward is float only
      for (const bool channels_last : {false, true}) check_case(k, t, channels_last, rng);
    }
  }
  // >= 1024 blocks: the fused kernel takes 32-row tiles (launch_fused); uint8, both layouts.
  const Case tall{"x4 up, 1024 planes of 8x8", 1024,  1,   8, 8, 4.0, 4.0, true,
                  ResizeEdge::kMirror,         false, true};
  check_case(tall, ImresizeDtype::kUInt8, false, rng);
  return sr_test::exit_code();
}
