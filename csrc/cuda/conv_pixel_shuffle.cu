// Upsampler: pixel_shuffle(conv3x3(x, w, b, padding=1), r) for r in {2, 3} in one kernel.
//
// Work decomposition: one thread block per TH x TW input tile of one image: 16 x 16, 8 x 16 or
// 8 x 8, the one whose grid should finish first on this device's SMs among those whose shared
// memory fits, a smaller tile only where it saves at least 1/8 (conv_tiles.h; since
// 2026-12-01: the 16 x 48 x 48 training batch takes 8 x 16, 288 blocks in 3 waves of 1 M tile
// per warp and pass, instead of 144 16 x 16 blocks in 2 waves of 2; before, 16 x 16 was taken
// wherever it fit; 1 x 540 x 960 keeps 16 x 16). The block copies the (TH+2) x (TW+2) x C_in
// input tile (halo 1, zeros outside the image) to shared memory once, then walks the output
// channels in blocks of CB final channels (CB = 16 for r = 2, 8 for r = 3), i.e. CB*r*r = 64 or
// 72 convolution channels per pass: an implicit GEMM (conv_common.cuh; 8 warps, each owning two
// 16-row M tiles x all 64 / 72 columns), bias added in fp32, rounded once to the storage dtype
// into a shared staging buffer laid out [i*r + j][pixel][c] (the shuffle), then stored as 16-byte
// vectors: out[n, h*r + i, w*r + j, c0 .. c0+7] is one contiguous vector of the NHWC output. The
// C_out*r*r-channel tensor is never written to device memory.
//
// Bytes and FLOPs per input pixel (fp16/bf16): 18 * C_in * C_out * r^2 FLOPs (EDSR x2 upsampler,
// C_in = 64, C_out*r^2 = 256: 295 kFLOP); HBM traffic 2*C_in bytes read (+ halo re-reads from L2,
// (T+2)^2/T^2 = 1.27 at T = 16) and 2*C_out*r^2 bytes written (512 B): 640 B per input pixel,
// 461 FLOP/B, above the H100 bf16 ridge (~295 FLOP/B), so the kernel is tensor-core bound; the
// eager path (cuDNN conv at ~24 % of peak for C = 64, then F.pixel_shuffle re-reading and
// re-writing the 256-channel tensor) moves 3x the bytes. Expected bound: the mma.sync rate times
// the row utilisation (16 x 16 tile: 256 rows = 8 warps x 2 tiles, no padding). Stores are
// 16-byte vectors into 32-byte sectors of pixels C_out*2 bytes apart; the sector's other half is
// written by the next pass of the same block, so L2 merges them before write-back.
// Measured (H200, 2026-11-29, bf16 NHWC, C = 64, r = 2): 1 x 64 x 270 x 480 in 256-260 us (149
// TFLOP/s; cuDNN conv + F.pixel_shuffle 290 us: 1.13x); 16 x 64 x 48 x 48 in 133 us (eager
// 83 us); C = 256: 0.3-0.5x eager. mma.sync at ~19 % of the matrix rate: the same limits as the
// residual block's kernel. Since 2026-11-30 (not yet measured) ConvPass issues the next K slice's
// ldmatrix loads before the current slice's MMAs (conv_common.cuh); since 2026-12-01 the tile is
// chosen per shape and the weight stages load with a compile-time trip count, from pointers each
// thread keeps for the pass (a kc = 64 step: 176 instructions around its 64 HMMA, 219 before):
// 180 / 252 registers (r = 2 / 3, sm_90a; 224 / 250 on sm_80), 0 spills.
//
// Accumulation: fp32 (mma.sync m16n8k16 .f32), one rounding to the storage dtype. Alignment:
// input, weights and vector-stored outputs 16-byte aligned; all element offsets are int64.
#include <cstdint>

#include "common/conv_tiles.h"
#include "conv_common.cuh"
#include "sr_kernels/conv_pixel_shuffle.h"

namespace sr {
namespace {

using conv::ConvPass;
using conv::PassArgs;

constexpr int kWarpsM = 8;
constexpr int kMT = 2;
constexpr int kKC = 64;
constexpr int kStages = 3;
constexpr int kThreads = kWarpsM * 32;

template <int R>
struct ShuffleConfig {
  static constexpr int kChannelBlock = R == 2 ? 16 : 8;  // final channels per pass
  static constexpr int kNT = kChannelBlock * R * R / 8;  // 8 (r = 2) or 9 (r = 3) n8 tiles
};

template <typename T, int R>
using ShufflePass = ConvPass<T, kWarpsM, 1, kMT, ShuffleConfig<R>::kNT, kKC, kStages>;

struct Tile {
  int th, tw;
  int kc;  // input channels per pipeline step
};

template <typename T, int R>
int64_t smem_bytes(int64_t c_in, int th, int tw) {
  const int64_t in_px = static_cast<int64_t>(th + 2) * (tw + 2);
  const int64_t staging = static_cast<int64_t>(R) * R * th * tw * ShuffleConfig<R>::kChannelBlock;
  return (in_px * (c_in + 8) + staging) * static_cast<int64_t>(sizeof(T)) +
         ShufflePass<T, R>::stage_bytes();
}

template <typename T, int R>
__global__ void __launch_bounds__(kThreads, 1)
    conv_pixel_shuffle_kernel(const ConvPixelShuffleArgs args, const Tile tile, const int tiles_h,
                              const int tiles_w, const bool vector_store) {
  using Pass = ShufflePass<T, R>;
  constexpr int kCB = ShuffleConfig<R>::kChannelBlock;
  constexpr int kVecs = kCB / 8;  // 16-byte vectors per (pixel, i, j) and pass
  extern __shared__ __align__(16) unsigned char smem_raw[];

  const int tid = threadIdx.x;
  const int c_in = static_cast<int>(args.c_in);
  const int c_out = static_cast<int>(args.c_out);
  const int h_img = static_cast<int>(args.h);
  const int w_img = static_cast<int>(args.w_size);
  const int th = tile.th, tw = tile.tw;
  const int in_w = tw + 2, in_h = th + 2;
  const int ps = c_in + 8;
  const int tile_px = th * tw;

  int64_t block = blockIdx.x;
  const int tile_x = static_cast<int>(block % tiles_w);
  block /= tiles_w;
  const int tile_y = static_cast<int>(block % tiles_h);
  const int64_t n = block / tiles_h;
  const int h0 = tile_y * th;
  const int w0 = tile_x * tw;

  T* in_tile = reinterpret_cast<T*>(smem_raw);
  T* stages = in_tile + in_h * in_w * ps;
  T* staging = stages + kStages * Pass::kStageElems;

  const T* x = static_cast<const T*>(args.x);
  {
    const int vecs = c_in >> 3;
    const int total = in_h * in_w * vecs;
    const T* x_n = x + n * args.x_stride[0];
    for (int i = tid; i < total; i += kThreads) {
      const int px = i / vecs;
      const int v = i - px * vecs;
      const int r = px / in_w;
      const int cc = px - r * in_w;
      const int gh = h0 - 1 + r;
      const int gw = w0 - 1 + cc;
      const bool inside = gh >= 0 && gh < h_img && gw >= 0 && gw < w_img;
      const T* src = inside ? x_n + gh * args.x_stride[2] + gw * args.x_stride[3] + v * 8 : x;
      conv::cp_async16(in_tile + px * ps + v * 8, src, inside ? 16 : 0);
    }
    conv::cp_async_commit();
  }

  PassArgs pass;
  pass.src = in_tile;
  pass.src_width = in_w;
  pass.pixel_stride = ps;
  pass.dst_width = tw;
  pass.rows = tile_px;
  pass.w = args.w;
  pass.w_rows = c_out * R * R;
  pass.cin = c_in;
  pass.kc = tile.kc;

  const T* bias = static_cast<const T*>(args.b);
  T* out = static_cast<T*>(args.out);
  T* out_n = out + n * args.out_stride[0];
  typename Pass::Acc acc;
  for (int c0 = 0; c0 < c_out; c0 += kCB) {
    const int n0 = c0 * R * R;
    pass.n0 = n0;
    Pass::run(acc, pass, stages, tid);
    // Shuffle into staging[i*R + j][pixel][c]: column col = c*R*R + i*R + j of this pass.
    Pass::for_each(acc, pass.rows, tid, [&](int m, int col, int, float v0, float v1) {
      const float values[2] = {v0, v1};
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int cl = (col + e) / (R * R);
        const int ij = (col + e) - cl * (R * R);
        const float value = values[e] + conv::to_float(bias[n0 + col + e]);
        staging[(ij * tile_px + m) * kCB + cl] = conv::from_float<T>(value);
      }
    });
    __syncthreads();

    // Vectors ordered (row, i, col, j, v) fastest-last: consecutive threads walk one output row.
    const int total = tile_px * R * R * kVecs;
    for (int idx = tid; idx < total; idx += kThreads) {
      int rest = idx;
      const int v = rest % kVecs;
      rest /= kVecs;
      const int j = rest % R;
      rest /= R;
      const int cc = rest % tw;
      rest /= tw;
      const int i = rest % R;
      const int r = rest / R;
      const int gh = h0 + r;
      const int gw = w0 + cc;
      if (gh >= h_img || gw >= w_img) continue;
      const int m = r * tw + cc;
      const uint4 value =
          *reinterpret_cast<const uint4*>(staging + ((i * R + j) * tile_px + m) * kCB + v * 8);
      T* dst = out_n + static_cast<int64_t>(gh * R + i) * args.out_stride[2] +
               static_cast<int64_t>(gw * R + j) * args.out_stride[3];
      const int ch = c0 + v * 8;
      if (vector_store) {
        *reinterpret_cast<uint4*>(dst + ch) = value;
      } else {
        const T* elems = reinterpret_cast<const T*>(&value);
#pragma unroll
        for (int e = 0; e < 8; ++e)
          dst[static_cast<int64_t>(ch + e) * args.out_stride[1]] = elems[e];
      }
    }
  }
}

bool aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15u) == 0; }

template <typename T, int R>
Status launch_typed(const ConvPixelShuffleArgs& args, bool vector_store, cudaStream_t stream) {
  using Pass = ShufflePass<T, R>;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return Status::kLaunchFailed;
  int smem_limit = 0, sm_count = 0;
  if (cudaDeviceGetAttribute(&smem_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
          cudaSuccess ||
      cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    return Status::kLaunchFailed;
  }
  // Tiles in order of preference (conv_tiles.h): 16 x 16 (2 M tiles per warp and pass), 8 x 16
  // (1: more blocks, for batches of small images such as 16 x 48 x 48), 8 x 8 (half the warps
  // idle; where shared memory allows nothing larger). One block per SM: the launch bounds let
  // ptxas use over 128 registers per thread (180 / 252 for r = 2 / 3 on sm_90a).
  constexpr int kCandidates[][2] = {{16, 16}, {8, 16}, {8, 8}};
  constexpr int kCount = static_cast<int>(sizeof(kCandidates) / sizeof(kCandidates[0]));
  conv::TileOption options[kCount];
  int64_t bytes_of[kCount] = {};
  for (int i = 0; i < kCount; ++i) {
    const int th = kCandidates[i][0], tw = kCandidates[i][1];
    bytes_of[i] = smem_bytes<T, R>(args.c_in, th, tw);
    if (th * tw > Pass::kMaxRows || bytes_of[i] > smem_limit) continue;
    options[i].th = th;
    options[i].tw = tw;
    // Every tile makes the same passes (one per kCB output channels).
    options[i].units = conv::busiest_warp_tiles(th * tw, kWarpsM);
    options[i].blocks_per_sm = 1;
  }
  const int chosen =
      args.largest_tile ? conv::first_fitting_tile(options, kCount)
                        : conv::choose_tile(options, kCount, args.n, args.h, args.w_size, sm_count);
  if (chosen < 0) return Status::kInvalidArgument;
  Tile tile{options[chosen].th, options[chosen].tw, 0};
  const int64_t bytes = bytes_of[chosen];
  tile.kc = args.c_in % 64 == 0 ? 64 : (args.c_in % 32 == 0 ? 32 : 16);

  const int64_t tiles_h = (args.h + tile.th - 1) / tile.th;
  const int64_t tiles_w = (args.w_size + tile.tw - 1) / tile.tw;
  const int64_t blocks = args.n * tiles_h * tiles_w;
  if (blocks > 0x7fffffffLL) return Status::kInvalidArgument;

  auto kernel = conv_pixel_shuffle_kernel<T, R>;
  if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(bytes)) != cudaSuccess) {
    return Status::kLaunchFailed;
  }
  kernel<<<static_cast<unsigned>(blocks), kThreads, static_cast<size_t>(bytes), stream>>>(
      args, tile, static_cast<int>(tiles_h), static_cast<int>(tiles_w), vector_store);
  return cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
}

template <typename T>
Status launch_dtype(const ConvPixelShuffleArgs& args, bool vector_store, cudaStream_t stream) {
  return args.r == 2 ? launch_typed<T, 2>(args, vector_store, stream)
                     : launch_typed<T, 3>(args, vector_store, stream);
}

}  // namespace

Status launch_conv_pixel_shuffle(const ConvPixelShuffleArgs& args, cudaStream_t stream) {
  if (args.r != 2 && args.r != 3) return Status::kInvalidArgument;
  if (args.n < 0 || args.h < 0 || args.w_size < 0) return Status::kInvalidArgument;
  if (args.c_in < 16 || args.c_in % 16 != 0 || args.c_in > kConvPixelShuffleMaxInChannels) {
    return Status::kInvalidArgument;
  }
  const int64_t block = conv_pixel_shuffle_channel_block(args.r);
  if (args.c_out < block || args.c_out % block != 0 || args.c_out * args.r * args.r > (1 << 20)) {
    return Status::kInvalidArgument;
  }
  if (args.n == 0 || args.h == 0 || args.w_size == 0) return Status::kOk;
  if (args.h > (1 << 28) || args.w_size > (1 << 28)) return Status::kInvalidArgument;
  if (args.x_stride[1] != 1 || args.x_stride[0] % 8 != 0 || args.x_stride[2] % 8 != 0 ||
      args.x_stride[3] % 8 != 0) {
    return Status::kInvalidArgument;
  }
  if (!aligned16(args.x) || !aligned16(args.w)) return Status::kInvalidArgument;
  const bool vector_store = args.out_stride[1] == 1 && args.out_stride[0] % 8 == 0 &&
                            args.out_stride[2] % 8 == 0 && args.out_stride[3] % 8 == 0 &&
                            aligned16(args.out);
  switch (args.dtype) {
    case ConvDType::kFloat16:
      return launch_dtype<__half>(args, vector_store, stream);
    case ConvDType::kBFloat16:
      return launch_dtype<__nv_bfloat16>(args, vector_store, stream);
  }
  return Status::kInvalidArgument;
}

}  // namespace sr
