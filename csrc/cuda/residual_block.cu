// Fused EDSR residual block: out = x + res_scale * conv3x3(relu(conv3x3(x, w1, b1)), w2, b2).
//
// Work decomposition: one thread block per TH x TW output tile of one image (grid = N x tiles,
// row-major over tiles so neighbouring blocks share halo rows in L2). The block
//   1. copies the (TH+4) x (TW+4) x C input tile (halo 2, zeros outside the image) to shared
//      memory with 16-byte cp.async;
//   2. conv1 + b1 + ReLU over the (TH+2) x (TW+2) halo grid with tensor-core MMA (implicit GEMM
//      from shared memory, conv_common.cuh), rounded to the storage dtype (as eager PyTorch
//      rounds its intermediate) into a shared-memory tile; halo pixels outside the image are
//      stored as 0, which is conv2's zero padding;
//   3. conv2 over the TH x TW tile from that shared tile; the epilogue computes
//      x + res_scale * (acc + b2) in fp32 with the skip read from the input tile and writes the
//      result in place over the tile's centre (each element is read and written by one thread);
//   4. stores the centre with 16-byte vectors (element stores for a strided/NCHW output).
// The intermediate never leaves the SM. Weights ([C_out][tap][C_in]: channels_last) stream
// from L2 through a 3-stage cp.async ring, one (tap, C_in block) slice per step.
//
// Configurations (per C; fp16 and bf16 instantiate each):
//   * C <= 128 or C % 128 != 0: 8 warps as 8 x 1 (warp tile up to 3 x 16 rows x 64 channels),
//     64-channel passes, C_in steps of 64. The tile is chosen per launch from 16 x 16, 8 x 32,
//     12 x 24, 12 x 16, 8 x 16, 8 x 8 and 4 x 8 (those whose shared memory fits the device): the
//     one whose grid of blocks should finish first on this device's SM count, a smaller tile
//     only where it saves at least 1/8 (conv_tiles.h; since 2026-12-01, before which 16 x 16
//     was taken wherever it fit). 1 x 270 x 480 keeps
//     16 x 16 (510 blocks, 4 waves on 132 SMs); the 16 x 48 x 48 training batch takes 12 x 24
//     (128 blocks in one wave instead of 144 in two: 6 units of time against 10 on paper).
//     C = 64 fp16/bf16, 16 x 16: 57.6 KB input + 46.7 KB intermediate + 27.6 KB weight ring =
//     132 KB; 12 x 24: 64.5 + 52.4 + 27.6 = 144.5 KB.
//     With ResidualBlockArgs::warps = 4 (a comparison knob, SR_KERNELS_RESBLOCK_CUDA_WARPS):
//     4 warps as 4 x 1, tiles 8 x 16, 8 x 8 or 4 x 8 chosen the same way, two blocks per SM
//     where they fit (C = 64, 8 x 16: 34.6 KB input + 25.9 KB intermediate + 27.6 KB ring =
//     86 KB per block).
//     With ResidualBlockArgs::wgmma (SR_KERNELS_CUDA_WGMMA, sm_90a builds on compute capability
//     9.0): either of these two with warpgroup MMA instead of mma.sync (conv_common.cuh).
//   * C % 128 == 0 and C >= 256: 8 warps as 2 x 4 (warp tile up to 4 x 16 rows x 32 channels),
//     128-channel passes, C_in steps of 32; tile 8 x 8 (4 x 8 where 8 x 8 does not fit).
//     C = 256: 76 KB input + 52.8 KB intermediate + 30.7 KB ring = 159.5 KB (fits sm_80's 163 KB).
//
// Bytes and FLOPs per output pixel (fp16/bf16, C channels): 2 * 18 * C^2 useful FLOPs
// (C = 64: 147 kFLOP; C = 256: 2.36 MFLOP); HBM traffic 2C bytes read + 2C written (256 B at
// C = 64, 1 KB at C = 256) plus halo re-reads that mostly hit L2 ((T+4)^2 / T^2 = 1.56 at
// T = 16) and weights from L2. Arithmetic intensity 576 FLOP/B (C = 64) and 2304 (C = 256),
// above the H100 bf16 ridge (~295 FLOP/B): the kernel is tensor-core (compute) bound, not
// memory bound. Executed MMA work exceeds the useful FLOPs by the halo recompute and row padding
// (C = 64, T = 16: conv1 runs 336 rows for 256 outputs, the block 1.16x; with 21 row tiles over
// 8 warps the critical path is 5 tiles against 4 ideal) and (C = 256, T = 8: conv1 112 rows for
// 64 outputs; critical path 6 tiles against 4 ideal). Expected bound: useful FLOPs x 1.25
// (C = 64) or x 1.5 (C = 256) at the mma.sync rate (on H100 mma.sync reaches well below the
// 989 TFLOP/s wgmma peak; not yet measured here). Eager PyTorch pays 11 activation passes and
// cuDNN's ~24 % of peak at C = 64, so C = 64 is where this kernel gains most.
// C = 256 has a second bound of the same size: every 8 x 8 block streams 4 passes x 128 rows x
// 9 x 256 weights = 2.36 MB from L2 for its 64 outputs (37 KB per output pixel), 4.8 GB for
// 1 x 270 x 480 (2040 blocks), ~0.8 ms at 6 TB/s of L2 bandwidth (a round figure, not measured
// here); its 423 GFLOP executed take ~0.85 ms at 500 TFLOP/s of mma.sync. cuDNN took 0.70 ms
// (H200, 2026-11-29), so even with both bounds overlapped perfectly this design reaches ~0.8x
// eager, not the issue's 1.3x. Getting there needs fewer weight bytes and less halo per output,
// i.e. larger tiles than one SM's shared memory holds at C = 256 (input + intermediate of a
// 16 x 16 tile: 371 KB): e.g. a cluster of two CTAs that each hold half the channels of the
// tile and read the other half through distributed shared memory (weights per output / 4,
// conv1 halo 1.27x instead of 1.75x), with wgmma. Not attempted without a GPU to measure it.
// Measured (H200, 2026-11-29, bench/results/2026-11-29-nvidia-h200.md, bf16 NHWC): 1 x 64 x
// 270 x 480 in 201 us (95 TFLOP/s, 12 % of the measured bf16 matrix rate; cuDNN eager 129 us);
// 16 x 64 x 48 x 48 in 109 us (eager 95 us); C = 256: 4.24 ms (72 TFLOP/s; eager 0.70 ms). So the
// bound above is far off: mma.sync is Hopper's slow path (no wgmma), and with one block of
// 8 warps per SM (132-160 KB of shared memory) nothing hides the cp.async and barrier waits
// between steps. The automatic choice takes this kernel only where the shipped timings say so.
// Since then (2026-11-30, not yet measured): the epilogues split the row index before their
// column check, so the division is computed once per row, not once per accumulator pair, and
// read their biases once per pass, not once per pair: the sm_90 SASS of the C = 64 kernel went
// from 9104 to 5928 instructions (MUFU.RCP 122 -> 38, LDG 246 -> 86), 207 registers, 0 spills.
// Later the same day (not yet measured): in the sm_90 SASS every A tile's ldmatrix sat right
// before the 8 MMAs that consume it, so each warp waited for shared memory once per M tile and
// K slice (1 warp in 2 per scheduler left to hide it). ConvPass now issues the next K slice's
// loads before the current slice's MMAs (conv_common.cuh): 232 registers, 0 spills. And the
// 4-warp configuration (two blocks per SM) exists to be timed against this one, and both have a
// wgmma form (m64n64k16 per warpgroup, A from the ldmatrix registers, B from the stage through a
// descriptor): sm_90a SASS issues each step's HGMMAs back to back (no C7520 serialisation),
// 197 registers, 0 spills. Off by default until a GPU run has checked and timed it; since
// 2026-11-30 the CPU emulation (tests/csrc/emulation) runs both wgmma configurations bit for bit,
// which checks the fragment, descriptor and fence/commit/wait use as we read the PTX ISA.
// 2026-12-01 (not yet measured): the tile is chosen per shape (conv_tiles.h, above), and a pass's
// weight stages load with a compile-time trip count and an advanced (tap, K block) position
// instead of a run-time loop and two divisions per step (conv_common.cuh): ~260 instead of ~300
// instructions per pipeline step, the sm_90a kernel 26 % smaller; registers (sm_90a / sm_80):
// 8 warps 219 / 228, 4 warps 231 / 250, wgmma 208 and 226, C = 256 160 / 156; 0 spills.
// Later that day: each thread keeps its weight-vector pointers for the pass and adds one uniform
// offset per step (conv_common.cuh, Pipeline): a kc = 64 step 227 / 215 instructions (conv1 /
// conv2) instead of 261 / 258; registers 8 warps 232 / 232, 4 warps 242 / 236, wgmma 220 and
// 240, C = 256 164 / 163; 0 spills on sm_80/86/89/90a.
//
// Accumulation: fp32 (mma.sync m16n8k16 .f32); conv1's output is rounded to the storage dtype
// once, the block output once. Alignment: input, weights and vector-stored outputs 16-byte
// aligned; all element offsets are int64.
#include <cstdint>
#include <type_traits>

#include "common/conv_tiles.h"
#include "conv_common.cuh"
#include "sr_kernels/residual_block.h"

namespace sr {
namespace {

using conv::ConvPass;
using conv::PassArgs;

template <int kWarpsM, int kWarpsN, int kMT, int kNT, int kKC, int kStages, int kMinBlocks,
          bool kWgmma = false>
struct BlockConfig {
  static constexpr int warps_m = kWarpsM;
  static constexpr int warps_n = kWarpsN;
  static constexpr int mt = kMT;
  static constexpr int nt = kNT;
  static constexpr int kc = kKC;
  static constexpr int stages = kStages;
  static constexpr int threads = kWarpsM * kWarpsN * 32;
  static constexpr int min_blocks = kMinBlocks;  // per SM, for __launch_bounds__
  static constexpr bool wgmma = kWgmma;          // warpgroup MMA (sm_90a; conv_common.cuh)
};

using NarrowConfig = BlockConfig<8, 1, 3, 8, 64, 3, 1>;  // C <= 128 or C % 128 != 0
using WideConfig = BlockConfig<2, 4, 4, 4, 32, 3, 1>;    // C % 128 == 0, C >= 256
// The narrow configuration with 4 warps: 8 x 16 tiles (conv1's 180 halo rows are 12 row tiles,
// 3 per warp; conv2's 8 are 2 per warp), ~86 KB of shared memory at C = 64, so two blocks share
// an SM and one's tile load, barriers and epilogues overlap the other's MMAs (the 8-warp block
// is alone on its SM). 7 % more MMA rows per output than 16 x 16 tiles. Chosen per call by
// ResidualBlockArgs::warps where two blocks fit an SM.
using NarrowConfig4 = BlockConfig<4, 1, 3, 8, 64, 3, 2>;
// The narrow configurations with wgmma instead of mma.sync (ResidualBlockArgs::wgmma; sm_90a
// builds on compute capability 9.0 only): the same tiles, warps and shared memory.
using NarrowWgmmaConfig = BlockConfig<8, 1, 3, 8, 64, 3, 1, true>;
using NarrowWgmmaConfig4 = BlockConfig<4, 1, 3, 8, 64, 3, 2, true>;

struct Tile {
  int th, tw;  // output tile
  int kc;      // input channels per pipeline step
};

template <typename T, typename Cfg>
using BlockPass =
    ConvPass<T, Cfg::warps_m, Cfg::warps_n, Cfg::mt, Cfg::nt, Cfg::kc, Cfg::stages, Cfg::wgmma>;

// The biases (b[ch], b[ch + 1]) of the calling thread's column pairs in the pass at n0, read
// once per pass rather than once per accumulator pair (zeros past C: those pairs are skipped).
template <typename Pass, typename T>
__device__ __forceinline__ void load_bias_pairs(const T* b, int n0, int c, int tid,
                                                float2 (&bias)[Pass::kColumnTiles]) {
#pragma unroll
  for (int j = 0; j < Pass::kColumnTiles; ++j) {
    const int ch = n0 + Pass::column(tid, j);
    bias[j] = ch < c ? make_float2(conv::to_float(b[ch]), conv::to_float(b[ch + 1]))
                     : make_float2(0.0f, 0.0f);
  }
}

template <typename T, typename Cfg>
int64_t smem_bytes(int64_t c, int th, int tw) {
  const int64_t ps = c + 8;
  const int64_t in_px = static_cast<int64_t>(th + 4) * (tw + 4);
  const int64_t mid_px = static_cast<int64_t>(th + 2) * (tw + 2);
  return (in_px + mid_px) * ps * static_cast<int64_t>(sizeof(T)) + BlockPass<T, Cfg>::stage_bytes();
}

template <typename T, typename Cfg>
__global__ void __launch_bounds__(Cfg::threads, Cfg::min_blocks)
    residual_block_kernel(const ResidualBlockArgs args, const Tile tile, const int tiles_h,
                          const int tiles_w, const bool vector_store) {
  using Pass = BlockPass<T, Cfg>;
  using P2 = typename conv::Pair<T>;
  using T2 = typename P2::type;
  extern __shared__ __align__(16) unsigned char smem_raw[];

  const int tid = threadIdx.x;
  const int c = static_cast<int>(args.c);
  const int h_img = static_cast<int>(args.h);
  const int w_img = static_cast<int>(args.w);
  const int th = tile.th, tw = tile.tw;
  const int in_w = tw + 4, in_h = th + 4;
  const int mid_w = tw + 2, mid_h = th + 2;
  const int ps = c + 8;

  int64_t block = blockIdx.x;
  const int tile_x = static_cast<int>(block % tiles_w);
  block /= tiles_w;
  const int tile_y = static_cast<int>(block % tiles_h);
  const int64_t n = block / tiles_h;
  const int h0 = tile_y * th;
  const int w0 = tile_x * tw;

  T* in_tile = reinterpret_cast<T*>(smem_raw);
  T* mid_tile = in_tile + in_h * in_w * ps;
  T* stages = mid_tile + mid_h * mid_w * ps;

  // 1. Input tile with a 2-pixel halo; zeros outside the image.
  const T* x = static_cast<const T*>(args.x);
  {
    const int vecs = c >> 3;
    const int total = in_h * in_w * vecs;
    const T* x_n = x + n * args.x_stride[0];
    for (int i = tid; i < total; i += Cfg::threads) {
      const int px = i / vecs;
      const int v = i - px * vecs;
      const int r = px / in_w;
      const int cc = px - r * in_w;
      const int gh = h0 - 2 + r;
      const int gw = w0 - 2 + cc;
      const bool inside = gh >= 0 && gh < h_img && gw >= 0 && gw < w_img;
      const T* src = inside ? x_n + gh * args.x_stride[2] + gw * args.x_stride[3] + v * 8 : x;
      conv::cp_async16(in_tile + px * ps + v * 8, src, inside ? 16 : 0);
    }
    conv::cp_async_commit();
  }

  typename Pass::Acc acc;
  PassArgs pass;
  pass.pixel_stride = ps;
  pass.w_rows = c;
  pass.cin = c;
  pass.kc = tile.kc;

  // 2. conv1 + b1 + ReLU over the halo grid -> mid_tile.
  const T* b1 = static_cast<const T*>(args.b1);
  pass.src = in_tile;
  pass.src_width = in_w;
  pass.dst_width = mid_w;
  pass.rows = mid_h * mid_w;
  pass.w = args.w1;
  for (int n0 = 0; n0 < c; n0 += Pass::kBN) {
    pass.n0 = n0;
    Pass::run(acc, pass, stages, tid);
    float2 bias[Pass::kColumnTiles];
    load_bias_pairs<Pass>(b1, n0, c, tid, bias);
    Pass::for_each(acc, pass.rows, tid, [&](int m, int nl, int j, float v0, float v1) {
      // The row split first, unconditionally: the same m for every column pair of a row, so
      // the compiler computes the division once per row, not once per pair.
      const int r = m / mid_w;
      const int cc = m - r * mid_w;
      const int ch = n0 + nl;
      if (ch >= c) return;
      const int gh = h0 - 1 + r;
      const int gw = w0 - 1 + cc;
      T2 out = P2::make(0.0f, 0.0f);
      if (gh >= 0 && gh < h_img && gw >= 0 && gw < w_img) {
        out = P2::make(conv::relu(v0 + bias[j].x), conv::relu(v1 + bias[j].y));
      }
      *reinterpret_cast<T2*>(mid_tile + m * ps + ch) = out;
    });
  }

  // 3. conv2 from mid_tile; epilogue x + res_scale * (acc + b2) in place over the input centre.
  // (Pass::run synchronises before its first read of mid_tile, after every conv1 epilogue.)
  const T* b2 = static_cast<const T*>(args.b2);
  const float scale = args.res_scale;
  pass.src = mid_tile;
  pass.src_width = mid_w;
  pass.dst_width = tw;
  pass.rows = th * tw;
  pass.w = args.w2;
  for (int n0 = 0; n0 < c; n0 += Pass::kBN) {
    pass.n0 = n0;
    Pass::run(acc, pass, stages, tid);
    float2 bias[Pass::kColumnTiles];
    load_bias_pairs<Pass>(b2, n0, c, tid, bias);
    Pass::for_each(acc, pass.rows, tid, [&](int m, int nl, int j, float v0, float v1) {
      const int r = m / tw;  // once per row (see conv1's epilogue)
      const int cc = m - r * tw;
      const int ch = n0 + nl;
      if (ch >= c) return;
      T2* at = reinterpret_cast<T2*>(in_tile + ((r + 2) * in_w + cc + 2) * ps + ch);
      const float2 skip = P2::unpack(*at);
      *at = P2::make(skip.x + scale * (v0 + bias[j].x), skip.y + scale * (v1 + bias[j].y));
    });
  }
  __syncthreads();

  // 4. Store the tile centre.
  T* out = static_cast<T*>(args.out);
  T* out_n = out + n * args.out_stride[0];
  const int vecs = c >> 3;
  const int total = th * tw * vecs;
  for (int i = tid; i < total; i += Cfg::threads) {
    const int px = i / vecs;
    const int v = i - px * vecs;
    const int r = px / tw;
    const int cc = px - r * tw;
    const int gh = h0 + r;
    const int gw = w0 + cc;
    if (gh >= h_img || gw >= w_img) continue;
    const uint4 value =
        *reinterpret_cast<const uint4*>(in_tile + ((r + 2) * in_w + cc + 2) * ps + v * 8);
    T* dst = out_n + gh * args.out_stride[2] + gw * args.out_stride[3];
    if (vector_store) {
      *reinterpret_cast<uint4*>(dst + v * 8) = value;
    } else {
      const T* elems = reinterpret_cast<const T*>(&value);
#pragma unroll
      for (int e = 0; e < 8; ++e)
        dst[static_cast<int64_t>(v * 8 + e) * args.out_stride[1]] = elems[e];
    }
  }
}

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

// Whether `blocks` blocks of `bytes` dynamic shared memory each fit in one SM's `per_sm` bytes,
// with 2 KB per block for the 1 KB the runtime reserves and the static shared memory (1 KB in
// sm_90 builds).
bool blocks_fit_in_sm(int blocks, int64_t bytes, int per_sm) {
  return blocks * (bytes + 2048) <= per_sm;
}

// Output tiles in order of preference (conv_tiles.h: ties go to the earlier), each used where
// its conv1 halo grid fits the configuration's row tiles and its shared memory fits the device.
// 8 warps (at most 384 halo rows): 16 x 16 and 8 x 32 give the most outputs per unit (256 in 5),
// 12 x 24 one wave for the 16 x 48 x 48 training batch, the smaller ones more blocks for small
// images; 4 warps (192 rows): 8 x 16 and smaller; the wide configuration (128 rows): 8 x 8, 4 x 8.
constexpr int kTileCandidates[][2] = {{16, 16}, {8, 32}, {12, 24}, {12, 16},
                                      {8, 16},  {8, 8},  {4, 8}};
constexpr int kTileCount = static_cast<int>(sizeof(kTileCandidates) / sizeof(kTileCandidates[0]));

template <typename T, typename Cfg>
Status launch_config(const ResidualBlockArgs& args, bool vector_store, cudaStream_t stream) {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return Status::kLaunchFailed;
  int smem_limit = 0, smem_per_sm = 0, sm_count = 0;
  if (cudaDeviceGetAttribute(&smem_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
          cudaSuccess ||
      cudaDeviceGetAttribute(&smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device) !=
          cudaSuccess ||
      cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    return Status::kLaunchFailed;
  }
  using Pass = BlockPass<T, Cfg>;
  const int passes = static_cast<int>((args.c + Pass::kBN - 1) / Pass::kBN);
  conv::TileOption options[kTileCount];
  int64_t bytes_of[kTileCount] = {};
  for (int i = 0; i < kTileCount; ++i) {
    const int th = kTileCandidates[i][0], tw = kTileCandidates[i][1];
    const int halo_rows = (th + 2) * (tw + 2);
    bytes_of[i] = smem_bytes<T, Cfg>(args.c, th, tw);
    if (halo_rows > Pass::kMaxRows || bytes_of[i] > smem_limit) continue;
    options[i].th = th;
    options[i].tw = tw;
    options[i].units = passes * (conv::busiest_warp_tiles(halo_rows, Cfg::warps_m) +
                                 conv::busiest_warp_tiles(th * tw, Cfg::warps_m));
    // Registers allow one 8-warp block per SM (ptxas: 197-232 per thread); the 4-warp
    // configuration's launch bounds allow two, where their shared memory fits.
    options[i].blocks_per_sm =
        Cfg::min_blocks > 1 && blocks_fit_in_sm(Cfg::min_blocks, bytes_of[i], smem_per_sm)
            ? Cfg::min_blocks
            : 1;
  }
  // The wide configuration (C >= 256) streams each convolution's weights (1.2 MB at C = 256)
  // from L2 into every block, a cost the model leaves out and smaller tiles multiply: it keeps
  // the largest tile that fits (as every configuration does with args.largest_tile).
  const int chosen = std::is_same<Cfg, WideConfig>::value || args.largest_tile
                         ? conv::first_fitting_tile(options, kTileCount)
                         : conv::choose_tile(options, kTileCount, args.n, args.h, args.w, sm_count);
  if (chosen < 0) return Status::kInvalidArgument;
  Tile tile{options[chosen].th, options[chosen].tw, 0};
  const int64_t bytes = bytes_of[chosen];
  tile.kc = static_cast<int>(args.c % Cfg::kc == 0 ? Cfg::kc : (args.c % 32 == 0 ? 32 : 16));
  if (tile.kc > Cfg::kc) tile.kc = Cfg::kc;

  const int64_t tiles_h = (args.h + tile.th - 1) / tile.th;
  const int64_t tiles_w = (args.w + tile.tw - 1) / tile.tw;
  const int64_t blocks = args.n * tiles_h * tiles_w;
  if (blocks > 0x7fffffffLL) return Status::kInvalidArgument;

  auto kernel = residual_block_kernel<T, Cfg>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(bytes)) != cudaSuccess) {
    return Status::kLaunchFailed;
  }
  // Several blocks per SM need the largest shared-memory carveout (the default may leave the
  // rest of the SM's 256 KB to L1, which we do not use: the tiles are staged by hand).
  if (Cfg::min_blocks > 1 &&
      cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                           cudaSharedmemCarveoutMaxShared) != cudaSuccess) {
    return Status::kLaunchFailed;
  }
  kernel<<<static_cast<unsigned>(blocks), Cfg::threads, static_cast<size_t>(bytes), stream>>>(
      args, tile, static_cast<int>(tiles_h), static_cast<int>(tiles_w), vector_store);
  return cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
}

// Whether two blocks of the 4-warp configuration (8 x 16 tiles) fit in one SM's shared memory.
template <typename T>
bool two_narrow4_blocks_fit(int64_t c) {
  int device = 0, per_sm = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device) !=
          cudaSuccess) {
    return false;
  }
  return blocks_fit_in_sm(2, smem_bytes<T, NarrowConfig4>(c, 8, 16), per_sm);
}

#if defined(SR_WITH_SM90A)
// Whether the current device runs this build's wgmma kernels: they exist (real code, not the
// trap) only in sm_90a builds (SR_WITH_SM90A, set by _build.py), which load on compute
// capability 9.0 only.
bool wgmma_runs_here() {
  int device = 0, major = 0, minor = 0;
  return cudaGetDevice(&device) == cudaSuccess &&
         cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
         cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess &&
         major == 9 && minor == 0;
}
#endif

template <typename T>
Status launch_typed(const ResidualBlockArgs& args, bool vector_store, cudaStream_t stream) {
  if (args.c % 128 == 0 && args.c >= 256) {
    return launch_config<T, WideConfig>(args, vector_store, stream);
  }
  const bool four_warps = args.warps == 4 && two_narrow4_blocks_fit<T>(args.c);
#if defined(SR_WITH_SM90A)
  if (args.wgmma && wgmma_runs_here()) {
    return four_warps ? launch_config<T, NarrowWgmmaConfig4>(args, vector_store, stream)
                      : launch_config<T, NarrowWgmmaConfig>(args, vector_store, stream);
  }
#endif
  return four_warps ? launch_config<T, NarrowConfig4>(args, vector_store, stream)
                    : launch_config<T, NarrowConfig>(args, vector_store, stream);
}

}  // namespace

Status launch_residual_block(const ResidualBlockArgs& args, cudaStream_t stream) {
  if (args.n < 0 || args.h < 0 || args.w < 0) return Status::kInvalidArgument;
  if (args.c < 16 || args.c % 16 != 0 || args.c > kResidualBlockMaxChannels) {
    return Status::kInvalidArgument;
  }
  if (args.n == 0 || args.h == 0 || args.w == 0) return Status::kOk;
  if (args.h > (1 << 30) || args.w > (1 << 30)) return Status::kInvalidArgument;
  if (args.x_stride[1] != 1 || args.x_stride[0] % 8 != 0 || args.x_stride[2] % 8 != 0 ||
      args.x_stride[3] % 8 != 0) {
    return Status::kInvalidArgument;
  }
  if (!aligned16(args.x) || !aligned16(args.w1) || !aligned16(args.w2)) {
    return Status::kInvalidArgument;
  }
  const bool vector_store = args.out_stride[1] == 1 && args.out_stride[0] % 8 == 0 &&
                            args.out_stride[2] % 8 == 0 && args.out_stride[3] % 8 == 0 &&
                            aligned16(args.out);
  switch (args.dtype) {
    case ConvDType::kFloat16:
      return launch_typed<__half>(args, vector_store, stream);
    case ConvDType::kBFloat16:
      return launch_typed<__nv_bfloat16>(args, vector_store, stream);
  }
  return Status::kInvalidArgument;
}

}  // namespace sr
