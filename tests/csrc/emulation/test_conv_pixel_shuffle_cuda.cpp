// The CUDA upsampler kernel (csrc/cuda/conv_pixel_shuffle.cu: conv3x3 + pixel shuffle in one
// pass), emulated on the CPU (cuda_emulation.h, cuda_emulation_conv.h), against a float64
// reference on exact data (conv_cases.h): bit for bit. fp16 and bf16; r = 2 and 3; C_in 16, 32,
// 64; odd sizes, images smaller than a tile, a batch; NHWC (vector stores) and NCHW outputs;
// the shared-memory limits of an sm_90 and an sm_80 device.
#include <string>
#include <vector>

#include "conv_cases.h"
#include "sr_kernels/conv_pixel_shuffle.h"
#include "testing.h"

namespace {

using namespace conv_cases;

struct Case {
  int64_t n, h, w, c_in, c_out, r;
  int th = 0, tw = 0;         // the input tile the launcher must choose (0: not checked)
  bool largest_tile = false;  // ConvPixelShuffleArgs::largest_tile
};

// A block's shared memory (conv_pixel_shuffle.cu): the input tile (halo 1) of C_in + 8 two-byte
// elements per pixel, the shuffle staging (r^2 x tile pixels x 16 / r^2 = 64 or 72 elements),
// and the 3-stage weight ring of (64 or 72) x 72 elements.
size_t shuffle_smem(const Case& k) {
  const int64_t columns = k.r == 2 ? 64 : 72;  // convolution channels per pass
  const int64_t input = (k.th + 2) * (k.tw + 2) * (k.c_in + 8);
  const int64_t staging = static_cast<int64_t>(k.th) * k.tw * columns;
  return static_cast<size_t>((input + staging + 3 * columns * 72) * 2);
}

void expect_tile(const Case& k, const std::string& where) {
  conv_cases::expect_tile(k.n, k.h, k.w, k.th, k.tw, shuffle_smem(k), where);
}

// The launcher's tile choice at a full-size shape, without running the kernel.
void check_choice(const Case& k, const sr_emu::Device& device, const char* device_name) {
  sr_emu::set_device(device);
  alignas(16) static unsigned char dummy[16];  // never read: the launch does not run
  sr::ConvPixelShuffleArgs a;
  a.x = a.w = a.b = dummy;
  a.out = dummy;
  dense_strides(k.c_in, k.h, k.w, false, a.x_stride);
  dense_strides(k.c_out, k.h * k.r, k.w * k.r, false, a.out_stride);
  a.n = k.n, a.h = k.h, a.w_size = k.w, a.c_in = k.c_in, a.c_out = k.c_out, a.r = k.r;
  a.largest_tile = k.largest_tile;
  const std::string where = std::string(device_name) + " n" + std::to_string(k.n) + " " +
                            std::to_string(k.h) + "x" + std::to_string(k.w) + " r" +
                            std::to_string(k.r);
  sr_emu::set_dry_run(true);
  const sr::Status status = sr::launch_conv_pixel_shuffle(a, nullptr);
  sr_emu::set_dry_run(false);
  SR_EXPECT(status == sr::Status::kOk, where + ": launch failed");
  expect_tile(k, where);
}

void check(const Case& k, ConvDType t, bool nchw_out, const sr_emu::Device& device,
           const char* device_name, std::mt19937& rng) {
  sr_emu::set_device(device);
  const std::string where = std::string(name(t)) + " " + device_name + " n" + std::to_string(k.n) +
                            " " + std::to_string(k.h) + "x" + std::to_string(k.w) + " " +
                            std::to_string(k.c_in) + "->" + std::to_string(k.c_out) + " r" +
                            std::to_string(k.r) + (nchw_out ? " nchw out" : " nhwc out");
  const int64_t conv_channels = k.c_out * k.r * k.r;
  const size_t pixels = static_cast<size_t>(k.n * k.h * k.w);
  const std::vector<double> x = activations(pixels * k.c_in, rng);
  const std::vector<double> w = weights(static_cast<size_t>(conv_channels * 9 * k.c_in), rng);
  const std::vector<double> b = biases(static_cast<size_t>(conv_channels), rng);
  const std::vector<double> conv = conv3x3(x, k.n, k.h, k.w, k.c_in, w, b, conv_channels);

  Buffer xb = to_buffer(x, t), wb = to_buffer(w, t), bb = to_buffer(b, t);
  const int64_t oh = k.h * k.r, ow = k.w * k.r;
  Buffer out(static_cast<size_t>(k.n * k.c_out * oh * ow));
  sr::ConvPixelShuffleArgs a;
  a.dtype = t;
  a.x = xb.data();
  dense_strides(k.c_in, k.h, k.w, false, a.x_stride);
  a.w = wb.data(), a.b = bb.data();
  a.out = out.data();
  dense_strides(k.c_out, oh, ow, nchw_out, a.out_stride);
  a.n = k.n, a.h = k.h, a.w_size = k.w, a.c_in = k.c_in, a.c_out = k.c_out, a.r = k.r;
  sr_emu::reset_launch_count();
  SR_EXPECT(sr::launch_conv_pixel_shuffle(a, nullptr) == sr::Status::kOk,
            where + ": launch failed");
  SR_EXPECT(sr_emu::launch_count() == 1, where + ": expected one launch");
  if (k.th > 0) expect_tile(k, where);
  int64_t differing = 0;
  for (int64_t i = 0; i < k.n; ++i) {
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t xx = 0; xx < ow; ++xx) {
        for (int64_t c = 0; c < k.c_out; ++c) {
          // out[n, c, y, x] = conv[n, y / r, x / r, c r^2 + (y % r) r + x % r]
          const int64_t source = c * k.r * k.r + (y % k.r) * k.r + xx % k.r;
          const size_t nhwc =
              static_cast<size_t>(((i * k.h + y / k.r) * k.w + xx / k.r) * conv_channels + source);
          const double expected = round_to(t, conv[nhwc]);
          const int64_t at = i * a.out_stride[0] + c * a.out_stride[1] + y * a.out_stride[2] +
                             xx * a.out_stride[3];
          differing += load(out, static_cast<size_t>(at), t) != expected ? 1 : 0;
        }
      }
    }
  }
  expect_identical(differing, k.n * k.c_out * oh * ow, where);
}

}  // namespace

int main() {
  std::mt19937 rng(20261130);
  const sr_emu::Device sm90;  // H100-like, the default
  const sr_emu::Device sm80 = sm80_device();
  const std::vector<Case> cases = {
      {1, 13, 19, 64, 16, 2},  // EDSR-baseline's x2 stage at C = 64, 16 of its 64 outputs
      {2, 5, 6, 32, 16, 2},    // smaller than a tile, batch of 2
      {1, 7, 11, 16, 8, 3},    // r = 3
  };
  for (const ConvDType t : {ConvDType::kFloat16, ConvDType::kBFloat16}) {
    for (const Case& k : cases) check(k, t, false, sm90, "sm90", rng);
  }
  check(cases[0], ConvDType::kBFloat16, true, sm90, "sm90", rng);
  check(cases[2], ConvDType::kFloat16, true, sm80, "sm80", rng);
  // The tile choice (conv_tiles.h: fewest waves x units, a later tile only where it saves at
  // least 1/8 of the earlier's; units per block and pass: 16 x 16 2, 8 x 16 1, 8 x 8 1).
  // Full-size shapes on the default device (132 SMs), launches not run.
  // * 16 x 48 x 48 (EDSR's training batch): 8 x 16, 288 blocks in 3 waves (3), not 16 x 16,
  //   144 blocks in 2 (4).
  check_choice({16, 48, 48, 64, 64, 2, 8, 16}, sm90, "sm90");
  // * 1 x 270 x 480: 16 x 16, 510 blocks in 4 waves (8); 8 x 16 ties (1020 in 8).
  check_choice({1, 270, 480, 64, 64, 2, 16, 16}, sm90, "sm90");
  // * r = 3, 16 x 96 x 96: 16 x 16, 576 blocks in 5 waves (10); 8 x 16 (1152 in 9: 9) saves
  //   less than 1/8.
  check_choice({16, 96, 96, 64, 64, 3, 16, 16}, sm90, "sm90");
  // * 1 x 540 x 960 (the x4 upsampler's second stage): 16 x 16, 2040 blocks in 16 waves (32),
  //   not 8 x 16 (4080 in 31: 31).
  check_choice({1, 540, 960, 64, 64, 2, 16, 16}, sm90, "sm90");
  // * largest_tile (the rule before): 16 x 16.
  check_choice({16, 48, 48, 64, 64, 2, 16, 16, true}, sm90, "sm90");
  // The 8 x 16 tile runs bit for bit: on one SM, one 8 x 16 block (1) beats one 16 x 16 (2).
  sr_emu::Device one_sm;
  one_sm.sm_count = 1;
  check({1, 7, 13, 32, 16, 2, 8, 16}, ConvDType::kBFloat16, false, one_sm, "1 SM", rng);
  return sr_test::exit_code();
}
