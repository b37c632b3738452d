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
  bool wgmma = false;  // ResidualBlockArgs::wgmma: taken on the sm90 device only
};

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
  sr_emu::reset_launch_count();
  const sr::Status status = sr::launch_residual_block(a, nullptr);
  SR_EXPECT(status == sr::Status::kOk, where + ": launch failed");
  SR_EXPECT(sr_emu::launch_count() == 1, where + ": expected one launch");
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
  // C = 256: the wide configuration (8 x 8 tiles), one partial tile.
  check({1, 5, 7, 256, 1.0f, 8}, ConvDType::kFloat16, false, sm90, "sm90", rng);
  return sr_test::exit_code();
}
