// CUDA ssim_mean: per-image mean SSIM of the SR protocol (ssim_mean.h), fused and separable.
//
// Work decomposition: a block of kTileW threads owns a tile of kTileW output columns x kTileH
// output rows of one (image, plane); thread t owns output column t. The block walks the
// kTileH + 10 input rows of its tile once: per row it stages the kTileW + 10 protocol values of
// both images in shared memory (scale, clamp + round, luma: the whole pre-processing is fused
// into this load, minus a per-tile shift), each thread forms the horizontal 11-tap sums of the
// five moments (x, y, x^2, y^2, xy) from shared memory, keeps the last ten rows' sums in
// registers, and once 11 rows are in, forms the vertical sums and the SSIM of its output pixel.
// No intermediate ever goes to global memory except one partial sum per block; a second launch
// adds each image's partials in a fixed order (deterministic).
// Bytes per output value: ~(1 + 10/kTileH)(1 + 10/kTileW) input samples per image; FLOPs: about
// 55 FMA horizontal + 55 FMA vertical + ~20 for the SSIM formula = ~260 flops. At ~2 bytes read
// per output (uint8) that is far right of the fp32 ridge: bound by FP32 throughput and
// shared-memory bandwidth, not HBM. Accumulation: fp32 moments on shifted values (the variances
// are shift-invariant, so flat tiles do not cancel), fp32 per-thread sums of at most kTileH SSIM
// values, double block sums. Alignment: none assumed.
#include <cstdint>

#include "common/metric_pixel.h"
#include "common/metric_reduce.cuh"
#include "sr_kernels/ssim_mean.h"

namespace sr {
namespace {

constexpr int kTileW = 128;
constexpr int kTileH = 64;
constexpr int kTaps = metric::kSsimTaps;
constexpr int kHalo = kTaps - 1;

struct Taps {
  float w[kTaps];
};

struct Launch {
  MetricRegion reg;
  int64_t out_rows, out_cols, strips, chunks, blocks_per_image;
};

Launch plan(const ImagePairView& v, const MetricProtocol& p) {
  Launch l;
  l.reg = metric_region(v, p);
  l.out_rows = l.reg.rows - kHalo;
  l.out_cols = l.reg.cols - kHalo;
  l.strips = (l.out_cols + kTileW - 1) / kTileW;
  l.chunks = (l.out_rows + kTileH - 1) / kTileH;
  l.blocks_per_image = l.reg.planes * l.strips * l.chunks;
  return l;
}

template <typename T>
__device__ __forceinline__ float sample(const T* px, int64_t cs, int64_t channels, int64_t q,
                                        const MetricProtocol& p) {
  return static_cast<float>(
      metric::protocol_value(px, cs, channels, q, p.scale, p.quantize, p.y_channel, p.round_y));
}

// uint8 (scale 1, already on the grid): integer luma numerators, no double arithmetic.
template <>
__device__ __forceinline__ float sample<uint8_t>(const uint8_t* px, int64_t cs, int64_t channels,
                                                 int64_t q, const MetricProtocol& p) {
  if (!p.y_channel) return static_cast<float>(px[q * cs]);
  const int32_t num = channels == 3 ? 65481 * px[0] + 128553 * px[cs] + 24966 * px[2 * cs]
                                    : 219000 * static_cast<int32_t>(px[0]);
  if (p.round_y) return static_cast<float>(16 + (num + 127500) / 255000);
  return 16.0f + static_cast<float>(num) * (1.0f / 255000.0f);
}

template <typename T>
__global__ void __launch_bounds__(kTileW)
    ssim_mean_kernel(ImagePairView v, MetricProtocol p, Launch l, Taps taps,
                     double* __restrict__ partials) {
  __shared__ float sx[kTileW + kHalo];
  __shared__ float sy[kTileW + kHalo];
  const int t = threadIdx.x;
  // 32-bit index arithmetic: the launcher guarantees the block count fits (64-bit division is
  // an outlined call).
  const uint32_t b = blockIdx.x;
  const uint32_t strips = static_cast<uint32_t>(l.strips);
  const uint32_t chunks = static_cast<uint32_t>(l.chunks);
  const uint32_t planes = static_cast<uint32_t>(l.reg.planes);
  const int64_t strip = b % strips;
  const int64_t chunk = (b / strips) % chunks;
  const uint32_t plane_index = b / (strips * chunks);  // n * planes + q
  const int64_t n = plane_index / planes;
  const int64_t q = plane_index % planes;
  const int64_t col0 = strip * kTileW;
  const int64_t row0 = chunk * kTileH;
  const int64_t rows_here = l.out_rows - row0 < kTileH ? l.out_rows - row0 : kTileH;
  const T* sr = static_cast<const T*>(v.sr) + n * v.sr_stride[0] +
                (row0 + p.crop) * v.sr_stride[2] + (col0 + p.crop) * v.sr_stride[3];
  const T* hr = static_cast<const T*>(v.hr) + n * v.hr_stride[0] +
                (row0 + p.crop) * v.hr_stride[2] + (col0 + p.crop) * v.hr_stride[3];
  // Per-tile shift: the tile's first sample.
  const float cx = sample(sr, v.sr_stride[1], v.c, q, p);
  const float cy = sample(hr, v.hr_stride[1], v.c, q, p);
  const bool active = col0 + t < l.out_cols;

  float rx[kHalo], ry[kHalo], rxx[kHalo], ryy[kHalo], rxy[kHalo];
#pragma unroll
  for (int k = 0; k < kHalo; ++k) rx[k] = ry[k] = rxx[k] = ryy[k] = rxy[k] = 0.0f;
  float acc = 0.0f;

  for (int64_t r = 0; r < rows_here + kHalo; ++r) {
    const T* a = sr + r * v.sr_stride[2];
    const T* c = hr + r * v.hr_stride[2];
    __syncthreads();  // the previous row's readers are done
    for (int i = t; i < kTileW + kHalo; i += kTileW) {
      const bool inside = col0 + i < l.reg.cols;
      sx[i] = inside ? sample(a + i * v.sr_stride[3], v.sr_stride[1], v.c, q, p) - cx : 0.0f;
      sy[i] = inside ? sample(c + i * v.hr_stride[3], v.hr_stride[1], v.c, q, p) - cy : 0.0f;
    }
    __syncthreads();
    float hx = 0.0f, hy = 0.0f, hxx = 0.0f, hyy = 0.0f, hxy = 0.0f;
#pragma unroll
    for (int k = 0; k < kTaps; ++k) {
      const float x = sx[t + k];
      const float y = sy[t + k];
      const float w = taps.w[k];
      hx = fmaf(w, x, hx);
      hy = fmaf(w, y, hy);
      hxx = fmaf(w * x, x, hxx);
      hyy = fmaf(w * y, y, hyy);
      hxy = fmaf(w * x, y, hxy);
    }
    if (r >= kHalo && active) {
      float mx = taps.w[kHalo] * hx, my = taps.w[kHalo] * hy, mxx = taps.w[kHalo] * hxx;
      float myy = taps.w[kHalo] * hyy, mxy = taps.w[kHalo] * hxy;
#pragma unroll
      for (int k = 0; k < kHalo; ++k) {
        mx = fmaf(taps.w[k], rx[k], mx);
        my = fmaf(taps.w[k], ry[k], my);
        mxx = fmaf(taps.w[k], rxx[k], mxx);
        myy = fmaf(taps.w[k], ryy[k], myy);
        mxy = fmaf(taps.w[k], rxy[k], mxy);
      }
      acc += metric::ssim_from_moments(mx, my, mxx, myy, mxy, cx, cy);
    }
#pragma unroll
    for (int k = 0; k + 1 < kHalo; ++k) {
      rx[k] = rx[k + 1];
      ry[k] = ry[k + 1];
      rxx[k] = rxx[k + 1];
      ryy[k] = ryy[k + 1];
      rxy[k] = rxy[k + 1];
    }
    rx[kHalo - 1] = hx;
    ry[kHalo - 1] = hy;
    rxx[kHalo - 1] = hxx;
    ryy[kHalo - 1] = hyy;
    rxy[kHalo - 1] = hxy;
  }
  const double total = metric::block_sum(static_cast<double>(acc));
  if (t == 0) partials[b] = total;
}

template <typename T>
Status launch_typed(const ImagePairView& v, const MetricProtocol& p, const Launch& l,
                    double* workspace, double* out, cudaStream_t stream) {
  const int64_t blocks = v.n * l.blocks_per_image;
  if (blocks > 0x7fffffffLL || v.n > 0x7fffffffLL) return Status::kInvalidArgument;
  Taps taps;
  double w[kTaps];
  metric::ssim_gaussian(w);
  for (int k = 0; k < kTaps; ++k) taps.w[k] = static_cast<float>(w[k]);
  ssim_mean_kernel<T>
      <<<static_cast<unsigned>(blocks), kTileW, 0, stream>>>(v, p, l, taps, workspace);
  if (cudaGetLastError() != cudaSuccess) return Status::kLaunchFailed;
  const double count = static_cast<double>(l.reg.planes * l.out_rows * l.out_cols);
  metric::finalize_per_image<256><<<static_cast<unsigned>(v.n), 256, 0, stream>>>(
      workspace, l.blocks_per_image, count, false, out);
  return cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
}

}  // namespace

int64_t ssim_mean_cuda_workspace(const ImagePairView& pair, const MetricProtocol& protocol) {
  const Launch l = plan(pair, protocol);
  if (l.out_rows <= 0 || l.out_cols <= 0) return 1;
  const int64_t doubles = pair.n * l.blocks_per_image;
  return doubles > 0 ? doubles : 1;
}

Status launch_ssim_mean(const ImagePairView& pair, const MetricProtocol& protocol,
                        double* workspace, double* out, cudaStream_t stream) {
  const Launch l = plan(pair, protocol);
  if (pair.n < 0 || l.out_rows <= 0 || l.out_cols <= 0 || l.reg.planes <= 0) {
    return Status::kInvalidArgument;
  }
  if (pair.n == 0) return Status::kOk;
  switch (pair.dtype) {
    case MetricDType::kUInt8:
      return launch_typed<uint8_t>(pair, protocol, l, workspace, out, stream);
    case MetricDType::kFloat16:
      return launch_typed<metric::Half>(pair, protocol, l, workspace, out, stream);
    case MetricDType::kBFloat16:
      return launch_typed<metric::BFloat16>(pair, protocol, l, workspace, out, stream);
    case MetricDType::kFloat32:
      return launch_typed<float>(pair, protocol, l, workspace, out, stream);
    case MetricDType::kFloat64:
      return launch_typed<double>(pair, protocol, l, workspace, out, stream);
    default:
      return Status::kInvalidArgument;
  }
}

}  // namespace sr
