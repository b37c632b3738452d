// The CUDA residual-block kernel (csrc/cuda/residual_block.cu, mma.sync and wgmma forms), emulated
// on the CPU (cuda_emulation.h, cuda_emulation_conv.h), against a float64 reference on exact data
// (conv_cases.h): bit for bit. fp16 and bf16; C = 16, 32, 64 (the 8- and 4-warp configurations)
// and 256 (the wide one); images smaller than a tile, odd sizes, a batch; res_scale 1 and 1/2;
// NHWC (vector stores) and NCHW (element stores) outputs; the shared-memory limits of an sm_90
// and an sm_80 device (different tiles).
#include <string>
#include <vector>

#include "conv_cases.h"
#include "sr_kernels/residual_block.h"
#include "testing.h"

namespace {

using namespace conv_cases;

struct Case {
  int64_t n, h, w, c;
  float res_scale;
  int warps;
  bool wgmma = false;         // ResidualBlockArgs::wgmma: taken on the sm90 device only
  int th = 0, tw = 0;         // the output tile the launcher must choose (0: not checked)
  bool largest_tile = false;  // ResidualBlockArgs::largest_tile
};

// Shared memory of the 8- and 4-warp configurations' blocks (residual_block.cu): the input tile
// (halo 2) and the intermediate (halo 1), pixels of C + 8 two-byte elements, and the 3-stage
// weight ring of 64 x 72 elements.
size_t narrow_smem(int64_t c, int th, int tw) {
  const int64_t pixels = (th + 4) * (tw + 4) + (th + 2) * (tw + 2);
  return static_cast<size_t>(pixels * (c + 8) * 2 + 3 * 64 * 72 * 2);
}

void expect_tile(const Case& k, const std::string& where) {
  conv_cases::expect_tile(k.n, k.h, k.w, k.th, k.tw, narrow_smem(k.c, k.th, k.tw), where);
}

// The launcher's tile choice at a full-size shape, without running the kernel.
void check_choice(const Case& k, const sr_emu::Device& device, const char* device_name) {
  sr_emu::set_device(device);
  alignas(16) static unsigned char dummy[16];  // never read: the launch does not run
  sr::ResidualBlockArgs a;
  a.x = a.w1 = a.b1 = a.w2 = a.b2 = dummy;
  a.out = dummy;
  dense_strides(k.c, k.h, k.w, false, a.x_stride);
  dense_strides(k.c, k.h, k.w, false, a.out_stride);
  a.n = k.n, a.h = k.h, a.w = k.w, a.c = k.c;
  a.warps = k.warps;
  a.largest_tile = k.largest_tile;
  const std::string where = std::string(device_name) + " n" + std::to_string(k.n) + " " +
                            std::to_string(k.h) + "x" + std::to_string(k.w) + " c" +
                            std::to_string(k.c) + " warps " + std::to_string(k.warps);
  sr_emu::set_dry_run(true);
  const sr::Status status = sr::launch_residual_block(a, nullptr);
  sr_emu::set_dry_run(false);
  SR_EXPECT(status == sr::Status::kOk, where + ": launch failed");
  expect_tile(k, where);
}

void check(const Case& k, ConvDType t, bool nchw_out, const sr_emu::Device& device,
           const char* device_name, std::mt19937& rng) {
  sr_emu::set_device(device);
  const std::string where = std::string(name(t)) + " " + device_name + " n" + std::to_string(k.n) +
                            " " + std::to_string(k.h) + "x" + std::to_string(k.w) + " c" +
                            std::to_string(k.c) + " scale " + std::to_string(k.res_scale) +
                            " warps " + std::to_string(k.warps) + (k.wgmma ? " wgmma" : "") +
                            (nchw_out ? " nchw out" : " nhwc out");
  const size_t pixels = static_cast<size_t>(k.n * k.h * k.w);
  const size_t wsize = static_cast<size_t>(k.c * 9 * k.c);
  // Values as stored (already exact in the dtype).
  const std::vector<double> x = activations(pixels * k.c, rng);
  const std::vector<double> w1 = weights(wsize, rng), w2 = weights(wsize, rng);
  const std::vector<double> b1 = biases(k.c, rng), b2 = biases(k.c, rng);
  std::vector<double> mid = conv3x3(x, k.n, k.h, k.w, k.c, w1, b1, k.c);
  for (double& v : mid) v = round_to(t, v < 0.0 ? 0.0 : v);  // ReLU, stored in the dtype
  const std::vector<double> branch = conv3x3(mid, k.n, k.h, k.w, k.c, w2, b2, k.c);

  Buffer xb = to_buffer(x, t), w1b = to_buffer(w1, t), w2b = to_buffer(w2, t);
  Buffer b1b = to_buffer(b1, t), b2b = to_buffer(b2, t);
  Buffer out(pixels * k.c);
  sr::ResidualBlockArgs a;
  a.dtype = t;
  a.x = xb.data();
  dense_strides(k.c, k.h, k.w, false, a.x_stride);
  a.w1 = w1b.data(), a.b1 = b1b.data(), a.w2 = w2b.data(), a.b2 = b2b.data();
  a.out = out.data();
  dense_strides(k.c, k.h, k.w, nchw_out, a.out_stride);
  a.n = k.n, a.h = k.h, a.w = k.w, a.c = k.c;
  a.res_scale = k.res_scale;
  a.warps = k.warps;
  a.wgmma = k.wgmma;
  a.largest_tile = k.largest_tile;
  sr_emu::reset_launch_count();
  const sr::Status status = sr::launch_residual_block(a, nullptr);
  SR_EXPECT(status == sr::Status::kOk, where + ": launch failed");
  SR_EXPECT(sr_emu::launch_count() == 1, where + ": expected one launch");
  if (k.th > 0) expect_tile(k, where);
  int64_t differing = 0;
  for (int64_t i = 0; i < k.n; ++i) {
    for (int64_t y = 0; y < k.h; ++y) {
      for (int64_t xx = 0; xx < k.w; ++xx) {
        for (int64_t c = 0; c < k.c; ++c) {
          const size_t nhwc = static_cast<size_t>(((i * k.h + y) * k.w + xx) * k.c + c);
          const double expected = round_to(t, x[nhwc] + k.res_scale * branch[nhwc]);
          const int64_t at = i * a.out_stride[0] + c * a.out_stride[1] + y * a.out_stride[2] +
                             xx * a.out_stride[3];
          differing += load(out, static_cast<size_t>(at), t) != expected ? 1 : 0;
        }
      }
    }
  }
  expect_identical(differing, static_cast<int64_t>(pixels) * k.c, where);
}

}  // namespace

int main() {
  std::mt19937 rng(20261130);
  const sr_emu::Device sm90;  // H100-like, the default
  const sr_emu::Device sm80 = sm80_device();
  const std::vector<Case> cases = {
      {1, 17, 23, 64, 1.0f, 8},  // two tiles each way, partial ones
      {2, 5, 7, 32, 0.5f, 8},    // smaller than a tile, batch of 2
      {1, 9, 20, 16, 1.0f, 4},   // the 4-warp configuration (8 x 16 tiles)
      {1, 10, 17, 64, 0.5f, 4},
  };
  // ~70 s in all (C = 256 alone ~17 s): every MMA is a warp collective of 32 fibers.
  for (const ConvDType t : {ConvDType::kFloat16, ConvDType::kBFloat16}) {
    for (size_t i = 1; i < cases.size(); ++i) check(cases[i], t, false, sm90, "sm90", rng);
  }
  check(cases[0], ConvDType::kFloat16, false, sm90, "sm90", rng);
  check(cases[0], ConvDType::kBFloat16, true, sm90, "sm90", rng);
  check(cases[0], ConvDType::kFloat16, false, sm80, "sm80", rng);
  check(cases[2], ConvDType::kBFloat16, true, sm80, "sm80", rng);
  // The wgmma forms of the 8- and 4-warp configurations; on the sm80 device the request is
  // ignored (mma.sync).
  for (const ConvDType t : {ConvDType::kFloat16, ConvDType::kBFloat16}) {
    check({1, 17, 23, 64, 1.0f, 8, true}, t, t == ConvDType::kBFloat16, sm90, "sm90", rng);
    check({2, 10, 17, 32, 0.5f, 4, true}, t, false, sm90, "sm90", rng);
  }
  check({1, 9, 20, 16, 1.0f, 8, true}, ConvDType::kFloat16, false, sm80, "sm80", rng);
  // The tile choice (conv_tiles.h: fewest waves x units, a later tile only where it saves at
  // least 1/8 of the earlier's). Full-size shapes on the default
  // device (132 SMs), launches not run. Units per block: 16 x 16 5, 8 x 32 5, 12 x 24 6,
  // 12 x 16 4, 8 x 16 3, 8 x 8 2 (4 warps: 8 x 16 5, 8 x 8 3, 4 x 8 2; per 64-channel pass).
  // * 16 x 48 x 48 (EDSR's training batch): 12 x 24 in one wave of 128 blocks (6), not 16 x 16
  //   in two of 144 (10) nor 12 x 16 in two of 192 (8).
  check_choice({16, 48, 48, 64, 1.0f, 8, false, 12, 24}, sm90, "sm90");
  // * 1 x 270 x 480: 16 x 16, 510 blocks in 4 waves (20); 8 x 32 ties (510 blocks), 12 x 24
  //   takes 4 waves of 6 (24).
  check_choice({1, 270, 480, 64, 1.0f, 8, false, 16, 16}, sm90, "sm90");
  // * 1 x 128 x 128: 8 x 16, 128 blocks in one wave (3), not 64 blocks of 16 x 16 (5).
  check_choice({1, 128, 128, 64, 1.0f, 8, false, 8, 16}, sm90, "sm90");
  // * C = 128 (two passes): 12 x 24 and 8 x 32 exceed 227 KB; 12 x 16, 192 blocks in 2 waves
  //   (16), beats 16 x 16 (20) and 8 x 16 (3 waves, 18).
  check_choice({16, 48, 48, 128, 1.0f, 8, false, 12, 16}, sm90, "sm90");
  // * 4 warps, two blocks per SM (264 slots): 8 x 16, 288 blocks in 2 waves of 5 (10); 8 x 8
  //   (576 blocks, 3 waves of 3: 9) saves less than 1/8.
  check_choice({16, 48, 48, 64, 1.0f, 4, false, 8, 16}, sm90, "sm90");
  // * 16 x 96 x 96: 16 x 16, 576 blocks in 5 waves (25); 12 x 24 (512 blocks, 4 waves of 6:
  //   24) saves less than 1/8.
  check_choice({16, 96, 96, 64, 1.0f, 8, false, 16, 16}, sm90, "sm90");
  // * sm_80 (108 SMs): 12 x 24 fits (145 of 163 KB) but its 128 blocks take 2 waves (12);
  //   12 x 16, 192 blocks in 2 waves (8), beats 16 x 16 (10) and 8 x 16 (3 waves, 9).
  check_choice({16, 48, 48, 64, 1.0f, 8, false, 12, 16}, sm80, "sm80");
  // * largest_tile (the rule before): 16 x 16 on both, and 8 x 16 with 4 warps.
  check_choice({16, 48, 48, 64, 1.0f, 8, false, 16, 16, true}, sm90, "sm90");
  check_choice({16, 48, 48, 64, 1.0f, 8, false, 16, 16, true}, sm80, "sm80");
  check_choice({16, 48, 48, 64, 1.0f, 4, false, 8, 16, true}, sm90, "sm90");
  // The new tiles run bit for bit (partial tiles included): one SM makes each of them the choice.
  sr_emu::Device one_sm;
  one_sm.sm_count = 1;
  check({1, 11, 23, 16, 0.5f, 8, false, 12, 24}, ConvDType::kFloat16, false, one_sm, "1 SM", rng);
  check({1, 7, 30, 16, 1.0f, 8, false, 8, 32}, ConvDType::kBFloat16, true, one_sm, "1 SM", rng);
  check({1, 10, 15, 32, 1.0f, 8, false, 12, 16}, ConvDType::kFloat16, false, one_sm, "1 SM", rng);
  check({2, 11, 23, 16, 1.0f, 8, true, 12, 24}, ConvDType::kBFloat16, false, one_sm, "1 SM", rng);
  // C = 256: the wide configuration (8 x 8 tiles), one partial tile.
  check({1, 5, 7, 256, 1.0f, 8}, ConvDType::kFloat16, false, sm90, "sm90", rng);
  return sr_test::exit_code();
}
