// The CUDA psnr_mse kernels (csrc/cuda/psnr_mse.cu: the vectorised and the scalar pass, the
// finaliser writing MSE or dB), emulated on the CPU (cuda_emulation.h), against the CPU kernel
// (csrc/cpu/psnr_mse.cpp): every dtype, NCHW / NHWC / a cropped view / a misaligned start (the
// scalar path), RGB and luma protocols with crops, odd widths (vector head and tail), a batch.
#include <string>
#include <vector>

#include "metric_cases.h"
#include "sr_kernels/psnr_mse.h"
#include "testing.h"

int main() {
  using namespace metric_cases;
  std::mt19937 rng(20261130);
  // 10 x 6000: one row per block, over 1024 uint8 vectors per block (several item groups per
  // thread in the vector kernel).
  const std::vector<Shape> shapes = {
      {2, 3, 19, 67}, {1, 3, 12, 128}, {3, 1, 11, 21}, {1, 3, 10, 6000}};
  const auto check = [](const Pair& pair, const sr::MetricProtocol& q, const std::string& where,
                        const Shape& s) {
    const sr::MetricRegion reg = sr::metric_region(pair.view, q);
    std::vector<double> partials(static_cast<size_t>(s.n * reg.rows)), cpu(s.n), cpu_db(s.n);
    SR_EXPECT(sr::psnr_mse_cpu(pair.view, q, partials.data(), cpu.data()) == sr::Status::kOk,
              where + ": CPU psnr_mse failed");
    SR_EXPECT(sr::psnr_cpu(pair.view, q, partials.data(), cpu_db.data()) == sr::Status::kOk,
              where + ": CPU psnr failed");
    std::vector<double> workspace(static_cast<size_t>(sr::psnr_mse_cuda_workspace(pair.view, q)));
    std::vector<double> mse(s.n, -1.0), db(s.n, -1.0);
    sr_emu::reset_launch_count();
    SR_EXPECT(
        sr::launch_psnr_mse(pair.view, q, workspace.data(), mse.data(), nullptr) == sr::Status::kOk,
        where + ": launch_psnr_mse failed");
    SR_EXPECT(sr_emu::launch_count() == 2, where + ": expected 2 launches");
    SR_EXPECT(
        sr::launch_psnr(pair.view, q, workspace.data(), db.data(), nullptr) == sr::Status::kOk,
        where + ": launch_psnr failed");
    for (int64_t i = 0; i < s.n; ++i) {
      SR_EXPECT(cpu[i] > 0.0, where + ": the pair must differ");
      SR_EXPECT(close(mse[i], cpu[i]), where + ": image " + std::to_string(i) + " mse " +
                                           std::to_string(mse[i]) + " vs CPU " +
                                           std::to_string(cpu[i]));
      SR_EXPECT(close(db[i], cpu_db[i]), where + ": image " + std::to_string(i) + " psnr " +
                                             std::to_string(db[i]) + " vs CPU " +
                                             std::to_string(cpu_db[i]));
    }
  };
  for_each_case(shapes, rng, check);
  // uint8 NHWC RGB luma takes 48-byte groups of 16 pixels that start on a 16-byte boundary and
  // a pixel boundary: each crop below puts that first boundary at another of the three (crop 0:
  // head 0 bytes; 1: 13 -> 29 -> 45; 2: 42; 5: 33). 2 x 3 x 4 x 16: one group per row uncropped,
  // none with crop 1 (the head runs past the row: all scalar); 12 x 128 and 10 x 6000 several
  // per row and block.
  for (const Shape& s : std::vector<Shape>{{1, 3, 12, 128}, {1, 3, 10, 6000}, {2, 3, 4, 16}}) {
    const Pair pair = make_pair(MetricDType::kUInt8, Layout::kNhwc, s.n, s.c, s.h, s.w, rng);
    for (const int64_t crop : {0, 1, 2, 5}) {
      if (2 * crop >= s.h) continue;
      for (const bool round_y : {false, true}) {
        const sr::MetricProtocol q{1.0, crop, true, false, round_y};
        check(pair, q,
              "uint8 nhwc luma " + std::to_string(s.h) + "x" + std::to_string(s.w) + " crop " +
                  std::to_string(crop) + (round_y ? " rounded" : ""),
              s);
      }
    }
  }
  return sr_test::exit_code();
}
