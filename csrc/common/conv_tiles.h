// Output-tile choice of the fused convolution launchers (residual_block.cu, conv_pixel_shuffle.cu):
// of the tiles that fit the device, the one whose grid should finish first.
//
// The model. A block's passes are pipeline steps that each end at a block-wide barrier, so a
// pass lasts as long as its busiest warp takes over its 16-row M tiles: a block's time is about
// proportional to those tiles summed over its passes (its "units"). Blocks run in waves of
// SMs x resident blocks per SM, and the last, partial wave lasts as long as a full one, so a grid
// takes waves x units. Fixed 16 x 16 tiles cost the EDSR training batch (16 patches of 48 x 48)
// two waves of 5 units for 144 residual-block blocks on 132 SMs, where 12 x 24 tiles need one wave
// of 6 (128 blocks): 0.6x the time on paper. Large images (many waves) keep the tile with the
// most outputs per unit. What the model leaves out (tile loads, epilogues, halo re-reads from L2)
// grows with the pixels a block covers, about alike for every tile.
// The H200 run of 2026-11-29 (16 x 16 tiles everywhere, bf16, C = 64) fits it: the residual
// block took 201 us on 1 x 270 x 480 (4 waves of 5 units) and 109 us on 16 x 48 x 48 (2 of 5),
// 10.0 and 10.9 us per unit; the x2 upsampler 256 and 133 us (4 x 2 and 2 x 2 units), 32 and
// 33 us per unit. At those rates the new choices would take ~65 us (residual block, 12 x 24;
// eager cuDNN 95 us) and ~100 us (upsampler, 8 x 16; eager 83 us) on the training batch.
#pragma once

#include <cstdint>

namespace sr {
namespace conv {

struct TileOption {
  int th = 0, tw = 0;     // output tile (rows, columns)
  int units = 0;          // one block's time: M tiles of its busiest warp, summed over its passes
  int blocks_per_sm = 0;  // blocks resident on one SM; 0: the tile does not fit this device
};

// 16-row M tiles of the busiest warp when `warps_m` warps take the M tiles of `rows` rows in turn
// (warp w: tiles w, w + warps_m, ...).
constexpr int busiest_warp_tiles(int rows, int warps_m) {
  return ((rows + 15) / 16 + warps_m - 1) / warps_m;
}

// Blocks of `option`'s tiles over n images of h x w.
inline int64_t grid_blocks(const TileOption& option, int64_t n, int64_t h, int64_t w) {
  return n * ((h + option.th - 1) / option.th) * ((w + option.tw - 1) / option.tw);
}

// The grid's time on `sm_count` SMs in units (waves x units); -1 when the tile does not fit.
inline int64_t grid_units(const TileOption& option, int64_t n, int64_t h, int64_t w, int sm_count) {
  if (option.blocks_per_sm <= 0 || option.units <= 0 || sm_count <= 0) return -1;
  const int64_t slots = static_cast<int64_t>(sm_count) * option.blocks_per_sm;
  return (grid_blocks(option, n, h, w) + slots - 1) / slots * option.units;
}

// A later option replaces an earlier one only when its grid takes at most 7/8 of the earlier's
// units. What the model leaves out favours the earlier, larger tiles: a smaller tile loads more
// halo per output (8 x 16: 1.41 input pixels per output against 1.27 for 16 x 16 in the
// upsampler) and streams the weights into twice the blocks: the upsampler reads 295 KB of weights
// per block, 0.6 GB from L2 for 1 x 540 x 960 in 16 x 16 tiles, ~60-120 us at 5-10 TB/s of a
// ~1 ms stage. Without the margin that stage (the x4 upsampler's second, a target met with
// 16 x 16 tiles at 1.53x eager, H200 2026-11-29) would take 8 x 16 for 31 units against 32. The
// switches the model was made for save 25-40 % (the training batch: 6 units against 10, 3
// against 4).
constexpr int64_t kSwitchNumerator = 7, kSwitchDenominator = 8;

// Index of the option with the fewest grid units for n images of h x w (n, h, w >= 1), each
// later option taken only past the margin above, so list them in order of preference (larger
// tiles first: less halo to load and recompute per output). -1 when none fits.
inline int choose_tile(const TileOption* options, int count, int64_t n, int64_t h, int64_t w,
                       int sm_count) {
  int best = -1;
  int64_t best_units = 0;
  for (int i = 0; i < count; ++i) {
    const int64_t units = grid_units(options[i], n, h, w, sm_count);
    if (units >= 0 && (best < 0 || units * kSwitchDenominator <= best_units * kSwitchNumerator)) {
      best = i;
      best_units = units;
    }
  }
  return best;
}

// Index of the first option that fits, -1 when none does: for kernels whose per-block costs
// the model leaves out dominate (a block that streams a megabyte of weights from L2).
inline int first_fitting_tile(const TileOption* options, int count) {
  for (int i = 0; i < count; ++i) {
    if (options[i].blocks_per_sm > 0 && options[i].units > 0) return i;
  }
  return -1;
}

}  // namespace conv
}  // namespace sr
