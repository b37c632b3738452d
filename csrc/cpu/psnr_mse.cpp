// CPU psnr_mse: per-image mean squared error of the SR protocol (psnr_mse.h), OpenMP.
//
// Work decomposition: one task per (image, cropped row); a task walks the row once, forming the
// protocol value of every pixel of both images (scale, quantise, luma) and summing the squared
// errors; task sums land in caller-owned scratch and are added per image in row order, so the
// result does not depend on the thread count. Bytes per pixel: one read of each image; about ten
// flops. Memory-bound. uint8 inputs (scale 1, already on the 8-bit grid) use exact integer
// arithmetic; other dtypes are decoded to double.
#include "sr_kernels/psnr_mse.h"

#include <cstdint>
#include <type_traits>

#include "common/metric_pixel.h"

namespace sr {
namespace {

using metric::protocol_value;

struct Row {
  int64_t offset_sr, offset_hr;  // element offsets of (n, channel 0, row, first cropped column)
};

inline Row row_offsets(const ImagePairView& v, const MetricProtocol& p, int64_t n, int64_t row) {
  const int64_t r = row + p.crop;
  return Row{n * v.sr_stride[0] + r * v.sr_stride[2] + p.crop * v.sr_stride[3],
             n * v.hr_stride[0] + r * v.hr_stride[2] + p.crop * v.hr_stride[3]};
}

// Generic path: any storage type, decoded to double.
template <typename T>
double row_sse(const T* sr, const T* hr, const ImagePairView& v, const MetricProtocol& p,
               const MetricRegion& reg) {
  double acc = 0.0;
  const int64_t sw = v.sr_stride[3], hw = v.hr_stride[3];
  for (int64_t q = 0; q < reg.planes; ++q) {
    for (int64_t j = 0; j < reg.cols; ++j) {
      const double a = protocol_value(sr + j * sw, v.sr_stride[1], v.c, q, p.scale, p.quantize,
                                      p.y_channel, p.round_y);
      const double b = protocol_value(hr + j * hw, v.hr_stride[1], v.c, q, p.scale, p.quantize,
                                      p.y_channel, p.round_y);
      acc += (a - b) * (a - b);
    }
  }
  return acc;
}

inline int64_t luma_numerator(const uint8_t* px, int64_t cs, int64_t channels) {
  if (channels == 3) return 65481 * px[0] + 128553 * px[cs] + 24966 * px[2 * cs];
  return 219000 * static_cast<int64_t>(px[0]);
}

// uint8 path: exact integers (scale is 1 and quantisation is the identity on uint8).
double row_sse_u8(const uint8_t* sr, const uint8_t* hr, const ImagePairView& v,
                  const MetricProtocol& p, const MetricRegion& reg) {
  const int64_t sw = v.sr_stride[3], hw = v.hr_stride[3];
  const int64_t sc = v.sr_stride[1], hc = v.hr_stride[1];
  if (!p.y_channel) {
    int64_t acc = 0;  // at most 65025 per sample: exact for rows far beyond any image size
    for (int64_t q = 0; q < reg.planes; ++q) {
      const uint8_t* a = sr + q * sc;
      const uint8_t* b = hr + q * hc;
      if (sw == 1 && hw == 1) {
        for (int64_t j = 0; j < reg.cols; ++j) {
          const int32_t d = static_cast<int32_t>(a[j]) - static_cast<int32_t>(b[j]);
          acc += d * d;
        }
      } else {
        for (int64_t j = 0; j < reg.cols; ++j) {
          const int32_t d = static_cast<int32_t>(a[j * sw]) - static_cast<int32_t>(b[j * hw]);
          acc += d * d;
        }
      }
    }
    return static_cast<double>(acc);
  }
  if (p.round_y) {
    int64_t acc = 0;
    for (int64_t j = 0; j < reg.cols; ++j) {
      const int64_t ya = (luma_numerator(sr + j * sw, sc, v.c) + 127500) / 255000;
      const int64_t yb = (luma_numerator(hr + j * hw, hc, v.c) + 127500) / 255000;
      acc += (ya - yb) * (ya - yb);
    }
    return static_cast<double>(acc);
  }
  // Unrounded luma: the numerator difference is an exact integer below 2^26, its square below 2^53.
  double acc = 0.0;
  for (int64_t j = 0; j < reg.cols; ++j) {
    const double d = static_cast<double>(luma_numerator(sr + j * sw, sc, v.c) -
                                         luma_numerator(hr + j * hw, hc, v.c));
    acc += d * d;
  }
  return acc / (metric::kLumaDen * metric::kLumaDen);
}

template <typename T>
void all_rows(const ImagePairView& v, const MetricProtocol& p, double* row_partials) {
  const MetricRegion reg = metric_region(v, p);
  const T* sr = static_cast<const T*>(v.sr);
  const T* hr = static_cast<const T*>(v.hr);
  const int64_t tasks = v.n * reg.rows;
  const int64_t work = tasks * reg.cols * reg.planes;
#pragma omp parallel for schedule(static) if (work > 32768)
  for (int64_t t = 0; t < tasks; ++t) {
    const Row o = row_offsets(v, p, t / reg.rows, t % reg.rows);
    if constexpr (std::is_same_v<T, uint8_t>) {
      row_partials[t] = row_sse_u8(sr + o.offset_sr, hr + o.offset_hr, v, p, reg);
    } else {
      row_partials[t] = row_sse(sr + o.offset_sr, hr + o.offset_hr, v, p, reg);
    }
  }
}

}  // namespace

Status psnr_mse_cpu(const ImagePairView& pair, const MetricProtocol& protocol, double* row_partials,
                    double* out) {
  const MetricRegion reg = metric_region(pair, protocol);
  if (pair.n < 0 || reg.rows <= 0 || reg.cols <= 0 || reg.planes <= 0) {
    return Status::kInvalidArgument;
  }
  if (pair.n == 0) return Status::kOk;
  switch (pair.dtype) {
    case MetricDType::kUInt8:
      all_rows<uint8_t>(pair, protocol, row_partials);
      break;
    case MetricDType::kFloat16:
      all_rows<metric::Half>(pair, protocol, row_partials);
      break;
    case MetricDType::kBFloat16:
      all_rows<metric::BFloat16>(pair, protocol, row_partials);
      break;
    case MetricDType::kFloat32:
      all_rows<float>(pair, protocol, row_partials);
      break;
    case MetricDType::kFloat64:
      all_rows<double>(pair, protocol, row_partials);
      break;
    default:
      return Status::kInvalidArgument;
  }
  const double count = static_cast<double>(reg.planes * reg.rows * reg.cols);
  for (int64_t n = 0; n < pair.n; ++n) {
    double sum = 0.0;
    for (int64_t r = 0; r < reg.rows; ++r) sum += row_partials[n * reg.rows + r];
    out[n] = sum / count;
  }
  return Status::kOk;
}

Status psnr_cpu(const ImagePairView& pair, const MetricProtocol& protocol, double* row_partials,
                double* out) {
  const Status status = psnr_mse_cpu(pair, protocol, row_partials, out);
  if (status != Status::kOk) return status;
  for (int64_t n = 0; n < pair.n; ++n) out[n] = metric::psnr_db(out[n]);
  return Status::kOk;
}

}  // namespace sr
