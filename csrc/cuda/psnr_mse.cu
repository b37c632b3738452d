// CUDA psnr_mse: per-image mean squared error of the SR protocol (psnr_mse.h), one fused pass.
//
// Work decomposition: block b of image n owns `rows_per_block` consecutive cropped rows; its 256
// threads stride along each row (coalesced loads; for NHWC a warp reads 32 consecutive pixels'
// channels). Per pixel, each thread loads the C samples of both images once, applies the protocol
// (scale, clamp + round, BT.601 luma, MATLAB luma rounding) in registers and adds the squared
// error to a double accumulator. Each block writes one partial sum; a second launch adds each
// image's partials in a fixed order (deterministic, no atomics).
// Bytes per pixel: C * element_size per image, read once; nothing is written but N * blocks
// doubles. Roofline: HBM bandwidth (2 * numel * element_size / bandwidth). uint8 inputs use
// integer arithmetic (exact); other dtypes are decoded to double (quantisation of float inputs
// must round exactly as the float64 reference, so the scale multiply is done in double).
// Alignment: none assumed (any strides, any crop offset).
#include <cstdint>

#include "common/metric_pixel.h"
#include "common/metric_reduce.cuh"
#include "sr_kernels/psnr_mse.h"

namespace sr {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kValuesPerBlock = 8192;  // ~32 samples per thread: enough loads in flight

struct Launch {
  MetricRegion reg;
  int64_t rows_per_block, blocks_per_image;
};

Launch plan(const ImagePairView& v, const MetricProtocol& p) {
  Launch l;
  l.reg = metric_region(v, p);
  const int64_t per_row = l.reg.cols * v.c;  // samples loaded per image row
  int64_t rows = (kValuesPerBlock + per_row - 1) / per_row;
  rows = rows < 1 ? 1 : (rows > l.reg.rows ? l.reg.rows : rows);
  l.rows_per_block = rows;
  l.blocks_per_image = (l.reg.rows + rows - 1) / rows;
  return l;
}

template <typename T>
__device__ __forceinline__ double pixel_sse(const T* a, const T* b, int64_t ca, int64_t cb,
                                            int64_t channels, int64_t planes,
                                            const MetricProtocol& p) {
  double sum = 0.0;
  for (int64_t q = 0; q < planes; ++q) {
    const double d =
        metric::protocol_value(a, ca, channels, q, p.scale, p.quantize, p.y_channel, p.round_y) -
        metric::protocol_value(b, cb, channels, q, p.scale, p.quantize, p.y_channel, p.round_y);
    sum += d * d;
  }
  return sum;
}

__device__ __forceinline__ int32_t luma_numerator(const uint8_t* px, int64_t cs, int64_t channels) {
  if (channels == 3) return 65481 * px[0] + 128553 * px[cs] + 24966 * px[2 * cs];
  return 219000 * static_cast<int32_t>(px[0]);
}

// uint8: scale is 1 and quantisation the identity; everything is integer until the last step.
template <>
__device__ __forceinline__ double pixel_sse<uint8_t>(const uint8_t* a, const uint8_t* b, int64_t ca,
                                                     int64_t cb, int64_t channels, int64_t planes,
                                                     const MetricProtocol& p) {
  if (!p.y_channel) {
    int32_t sum = 0;
    for (int64_t q = 0; q < planes; ++q) {
      const int32_t d = static_cast<int32_t>(a[q * ca]) - static_cast<int32_t>(b[q * cb]);
      sum += d * d;
    }
    return static_cast<double>(sum);
  }
  const int32_t na = luma_numerator(a, ca, channels);
  const int32_t nb = luma_numerator(b, cb, channels);
  if (p.round_y) {
    const int32_t d = (na + 127500) / 255000 - (nb + 127500) / 255000;
    return static_cast<double>(d * d);
  }
  const double d = static_cast<double>(na - nb) * (1.0 / metric::kLumaDen);
  return d * d;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    psnr_mse_kernel(ImagePairView v, MetricProtocol p, Launch l, double* __restrict__ partials) {
  // 32-bit division: the launcher guarantees the block count fits (64-bit division is a call).
  const uint32_t per_image = static_cast<uint32_t>(l.blocks_per_image);
  const int64_t n = blockIdx.x / per_image;
  const int64_t block = blockIdx.x % per_image;
  const int64_t row_begin = block * l.rows_per_block;
  const int64_t row_end =
      row_begin + l.rows_per_block < l.reg.rows ? row_begin + l.rows_per_block : l.reg.rows;
  const T* sr = static_cast<const T*>(v.sr) + n * v.sr_stride[0] + p.crop * v.sr_stride[3];
  const T* hr = static_cast<const T*>(v.hr) + n * v.hr_stride[0] + p.crop * v.hr_stride[3];
  double acc = 0.0;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const T* a = sr + (row + p.crop) * v.sr_stride[2];
    const T* b = hr + (row + p.crop) * v.hr_stride[2];
#pragma unroll 2
    for (int64_t j = threadIdx.x; j < l.reg.cols; j += kThreads) {
      acc += pixel_sse(a + j * v.sr_stride[3], b + j * v.hr_stride[3], v.sr_stride[1],
                       v.hr_stride[1], v.c, l.reg.planes, p);
    }
  }
  const double total = metric::block_sum(acc);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

template <typename T>
Status launch_typed(const ImagePairView& v, const MetricProtocol& p, const Launch& l,
                    double* workspace, double* out, cudaStream_t stream) {
  const int64_t blocks = v.n * l.blocks_per_image;
  if (blocks > 0x7fffffffLL || v.n > 0x7fffffffLL) return Status::kInvalidArgument;
  psnr_mse_kernel<T><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(v, p, l, workspace);
  if (cudaGetLastError() != cudaSuccess) return Status::kLaunchFailed;
  const double count = static_cast<double>(l.reg.planes * l.reg.rows * l.reg.cols);
  metric::finalize_per_image<256>
      <<<static_cast<unsigned>(v.n), 256, 0, stream>>>(workspace, l.blocks_per_image, count, out);
  return cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
}

}  // namespace

int64_t psnr_mse_cuda_workspace(const ImagePairView& pair, const MetricProtocol& protocol) {
  const MetricRegion reg = metric_region(pair, protocol);
  if (reg.rows <= 0 || reg.cols <= 0) return 1;
  const Launch l = plan(pair, protocol);
  const int64_t doubles = pair.n * l.blocks_per_image;
  return doubles > 0 ? doubles : 1;
}

Status launch_psnr_mse(const ImagePairView& pair, const MetricProtocol& protocol, double* workspace,
                       double* out, cudaStream_t stream) {
  const MetricRegion reg = metric_region(pair, protocol);
  if (pair.n < 0 || reg.rows <= 0 || reg.cols <= 0 || reg.planes <= 0) {
    return Status::kInvalidArgument;
  }
  if (pair.n == 0) return Status::kOk;
  const Launch l = plan(pair, protocol);
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
