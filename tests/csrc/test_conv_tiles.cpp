// csrc/common/conv_tiles.h: the waves x units arithmetic of the convolution launchers' tile
// choice, on hand-worked cases (the launchers' own choices are checked in the emulated tests).
#include "common/conv_tiles.h"
#include "testing.h"

int main() {
  using namespace sr::conv;
  // Busiest warp: 324 rows = 21 M tiles over 8 warps -> 3; 256 rows = 16 -> 2; 1 row -> 1.
  SR_EXPECT(busiest_warp_tiles(324, 8) == 3, "18 x 18 halo rows");
  SR_EXPECT(busiest_warp_tiles(256, 8) == 2, "16 x 16 rows");
  SR_EXPECT(busiest_warp_tiles(1, 8) == 1, "one row");
  SR_EXPECT(busiest_warp_tiles(180, 4) == 3, "10 x 18 halo rows, 4 warps");

  const TileOption big{16, 16, 5, 1}, wide{12, 24, 6, 1}, small{8, 16, 3, 1};
  // 16 x 48 x 48 on 132 SMs: 144 blocks (2 waves x 5), 128 (1 x 6), 288 (3 x 3).
  SR_EXPECT(grid_blocks(big, 16, 48, 48) == 144, "16 x 16 blocks");
  SR_EXPECT(grid_units(big, 16, 48, 48, 132) == 10, "16 x 16 units");
  SR_EXPECT(grid_units(wide, 16, 48, 48, 132) == 6, "12 x 24 units");
  SR_EXPECT(grid_units(small, 16, 48, 48, 132) == 9, "8 x 16 units");
  const TileOption options[] = {big, wide, small};
  SR_EXPECT(choose_tile(options, 3, 16, 48, 48, 132) == 1, "the training batch takes 12 x 24");
  // Partial tiles count as whole blocks: 1 x 17 x 17 is 4 blocks of 16 x 16.
  SR_EXPECT(grid_blocks(big, 1, 17, 17) == 4, "partial tiles");
  // Ties go to the earlier option: 1 x 270 x 480, 16 x 16 (510 blocks) and 8 x 32 (510).
  const TileOption tall{8, 32, 5, 1};
  const TileOption tied[] = {big, tall};
  SR_EXPECT(choose_tile(tied, 2, 1, 270, 480, 132) == 0, "a tie keeps the earlier tile");
  const TileOption tied_reversed[] = {tall, big};
  SR_EXPECT(choose_tile(tied_reversed, 2, 1, 270, 480, 132) == 0, "a tie keeps the earlier");
  // A later option must save at least 1/8 of the grid: 1 x 540 x 960 in the upsampler (units
  // 2 and 1) is 32 units of 16 x 16 (2040 blocks, 16 waves) against 31 of 8 x 16 (4080, 31):
  // the earlier stays. At exactly 7/8 the later is taken: 8 units against 7.
  const TileOption up_big{16, 16, 2, 1}, up_small{8, 16, 1, 1};
  const TileOption upsampler[] = {up_big, up_small};
  SR_EXPECT(grid_units(up_big, 1, 540, 960, 132) == 32, "upsampler 16 x 16 units");
  SR_EXPECT(grid_units(up_small, 1, 540, 960, 132) == 31, "upsampler 8 x 16 units");
  SR_EXPECT(choose_tile(upsampler, 2, 1, 540, 960, 132) == 0, "31 against 32 keeps 16 x 16");
  const TileOption eight{16, 16, 8, 1}, seven{8, 16, 7, 1};
  const TileOption at_margin[] = {eight, seven};
  SR_EXPECT(choose_tile(at_margin, 2, 1, 16, 16, 132) == 1, "7 against 8 switches");
  // The margin counts from the best so far: 20, then 16 (taken), then 15 (3/4 of 20, but more
  // than 7/8 of 16: not taken).
  const TileOption twenty{16, 16, 20, 1}, sixteen{12, 16, 16, 1}, fifteen{8, 16, 15, 1};
  const TileOption chain[] = {twenty, sixteen, fifteen};
  SR_EXPECT(choose_tile(chain, 3, 1, 16, 16, 132) == 1, "the margin counts from the best so far");
  // Two resident blocks per SM double a wave: 288 blocks fit 2 waves of 264, not 3 of 132.
  const TileOption two_per_sm{8, 16, 3, 2};
  SR_EXPECT(grid_units(two_per_sm, 16, 48, 48, 132) == 6, "two blocks per SM");
  // Options that do not fit (no resident block, no units) are never chosen; none: -1.
  const TileOption unfit{16, 16, 5, 0}, no_units{16, 16, 0, 1};
  const TileOption some_fit[] = {unfit, no_units, small};
  SR_EXPECT(choose_tile(some_fit, 3, 16, 48, 48, 132) == 2, "only the fitting option");
  SR_EXPECT(first_fitting_tile(some_fit, 3) == 2, "the first that fits");
  const TileOption none_fit[] = {unfit, no_units};
  SR_EXPECT(choose_tile(none_fit, 2, 16, 48, 48, 132) == -1, "none fits");
  SR_EXPECT(first_fitting_tile(none_fit, 2) == -1, "none fits (first)");
  SR_EXPECT(grid_units(big, 16, 48, 48, 0) == -1, "no SMs");
  return sr_test::exit_code();
}
