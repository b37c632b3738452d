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
};

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
  return sr_test::exit_code();
}
