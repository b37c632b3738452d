// CUDA imresize: the two table-driven passes of sr_kernels/imresize.h.
//
// Work decomposition: one thread per output element of a pass, threads ordered by the output's
// memory layout (NCHW: along W; NHWC: along C then W), so stores are coalesced. A thread reads
// its `taps` table entries (the same row for every thread of a warp in the rows pass, neighbouring
// rows in the cols pass: L1-resident) and gathers `taps` input elements; in the rows pass a warp
// reads contiguous input runs, in the cols pass a window of about 32/scale + taps neighbouring
// elements, served by L1.
// Bytes per output element: sizeof(out) written + about sizeof(in) * max(1, 1/scale) read from
// DRAM (re-reads hit L1/L2); FLOPs: 2 * taps. Both passes are memory-bound on an H100 for the x4
// cases (18 FMA per output downscaling, 4 upscaling), so the roofline is
// (bytes read + bytes written) / copy bandwidth, intermediate included.
// Accumulation: float64 for uint8 (exact MATLAB rounding: round half away from zero, clamp) and
// float64, without FMA contraction (bit-identical to the reference); float32 with FMA for
// float32, float16, bfloat16 (float32 weights).
// Index arithmetic in 32-bit when every offset fits, 64-bit otherwise.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "sr_kernels/imresize.h"

namespace sr {
namespace {

constexpr int kThreads = 256;

template <typename Index>
struct PassMap {
  Index size[4];        // output dims, outermost first (output memory order)
  Index dst_stride[4];  // in elements
  Index src_stride[4];  // for the resized dim: stride of the table's input index
};

__device__ __forceinline__ double to_acc(uint8_t v, double) { return static_cast<double>(v); }
__device__ __forceinline__ double to_acc(double v, double) { return v; }
__device__ __forceinline__ float to_acc(float v, float) { return v; }
__device__ __forceinline__ float to_acc(__half v, float) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v, float) { return __bfloat162float(v); }

__device__ __forceinline__ void store(uint8_t* p, double v) {
  v = fmin(fmax(v, 0.0), 255.0);
  const int whole = static_cast<int>(v);
  *p = static_cast<uint8_t>(whole + (v - static_cast<double>(whole) >= 0.5 ? 1 : 0));
}
__device__ __forceinline__ void store(double* p, double v) { *p = v; }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

// float64: product and sum rounded separately (no FMA contraction), in tap order, as the
// reference computes them, so uint8 results match it even on exact .5 ties.
__device__ __forceinline__ double multiply_add(double acc, double w, double v) {
  return __dadd_rn(acc, __dmul_rn(w, v));
}
__device__ __forceinline__ float multiply_add(float acc, float w, float v) {
  return fmaf(w, v, acc);
}

template <typename In, typename Out, typename Acc, typename Index, int kAxis>
__global__ void __launch_bounds__(kThreads)
    imresize_kernel(const In* __restrict__ src, Out* __restrict__ dst, PassMap<Index> map,
                    const int32_t* __restrict__ index, const Acc* __restrict__ weight, int taps,
                    Index total) {
  const Index linear = static_cast<Index>(blockIdx.x) * kThreads + threadIdx.x;
  if (linear >= total) return;
  Index rest = linear;
  Index dst_offset = 0, src_offset = 0, position = 0;
#pragma unroll
  for (int d = 3; d >= 0; --d) {
    const Index coordinate = rest % map.size[d];
    rest /= map.size[d];
    dst_offset += coordinate * map.dst_stride[d];
    if (d == kAxis) {
      position = coordinate;
    } else {
      src_offset += coordinate * map.src_stride[d];
    }
  }
  const int32_t* row_index = index + static_cast<int64_t>(position) * taps;
  const Acc* row_weight = weight + static_cast<int64_t>(position) * taps;
  const Index step = map.src_stride[kAxis];
  Acc acc = Acc(0);
  for (int k = 0; k < taps; ++k) {
    const Index at = src_offset + static_cast<Index>(__ldg(row_index + k)) * step;
    acc = multiply_add(acc, __ldg(row_weight + k), to_acc(src[at], Acc(0)));
  }
  store(dst + dst_offset, acc);
}

template <typename Acc>
const Acc* weights_of(const ResizeTable& t);
template <>
const double* weights_of<double>(const ResizeTable& t) {
  return t.weight;
}
template <>
const float* weights_of<float>(const ResizeTable& t) {
  return t.weight_f32;
}

// Orders the four dims by decreasing output stride (output memory order, outermost first).
void memory_order(const Tensor4d& dst, int order[4]) {
  for (int d = 0; d < 4; ++d) order[d] = d;
  std::stable_sort(order, order + 4, [&](int a, int b) { return dst.stride[a] > dst.stride[b]; });
}

template <typename Index>
bool fits(const Tensor4d& src, const Tensor4d& dst, int64_t total) {
  const int64_t limit = static_cast<int64_t>(std::numeric_limits<Index>::max()) / 2;
  int64_t src_extent = 0, dst_extent = 0;
  for (int d = 0; d < 4; ++d) {
    src_extent += (src.size[d] - 1) * src.stride[d];
    dst_extent += (dst.size[d] - 1) * dst.stride[d];
  }
  return total < limit && src_extent < limit && dst_extent < limit;
}

template <typename In, typename Out, typename Acc, typename Index>
Status launch_pass(const In* src, const Tensor4d& sd, Out* dst, const Tensor4d& dd,
                   const ResizeTable& t, int axis, cudaStream_t stream) {
  int order[4];
  memory_order(dd, order);
  PassMap<Index> map;
  int position = 0;
  int64_t total = 1;
  for (int i = 0; i < 4; ++i) {
    const int d = order[i];
    map.size[i] = static_cast<Index>(dd.size[d]);
    map.dst_stride[i] = static_cast<Index>(dd.stride[d]);
    map.src_stride[i] = static_cast<Index>(sd.stride[d]);
    if (d == axis) position = i;
    total *= dd.size[d];
  }
  if (total == 0) return Status::kOk;
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffffLL) return Status::kInvalidArgument;
  const Acc* weight = weights_of<Acc>(t);
  const int taps = static_cast<int>(t.taps);
  const auto grid = static_cast<unsigned>(blocks);
  const Index count = static_cast<Index>(total);
  switch (position) {
    case 0:
      imresize_kernel<In, Out, Acc, Index, 0>
          <<<grid, kThreads, 0, stream>>>(src, dst, map, t.index, weight, taps, count);
      break;
    case 1:
      imresize_kernel<In, Out, Acc, Index, 1>
          <<<grid, kThreads, 0, stream>>>(src, dst, map, t.index, weight, taps, count);
      break;
    case 2:
      imresize_kernel<In, Out, Acc, Index, 2>
          <<<grid, kThreads, 0, stream>>>(src, dst, map, t.index, weight, taps, count);
      break;
    default:
      imresize_kernel<In, Out, Acc, Index, 3>
          <<<grid, kThreads, 0, stream>>>(src, dst, map, t.index, weight, taps, count);
      break;
  }
  return cudaGetLastError() == cudaSuccess ? Status::kOk : Status::kLaunchFailed;
}

template <typename In, typename Out, typename Acc>
Status pass(const void* src, const Tensor4d& sd, void* dst, const Tensor4d& dd,
            const ResizeTable& t, int axis, cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < 4; ++d) total *= dd.size[d];
  const auto* s = static_cast<const In*>(src);
  auto* o = static_cast<Out*>(dst);
  if (fits<int32_t>(sd, dd, total)) {
    return launch_pass<In, Out, Acc, uint32_t>(s, sd, o, dd, t, axis, stream);
  }
  return launch_pass<In, Out, Acc, int64_t>(s, sd, o, dd, t, axis, stream);
}

template <typename T, typename Mid, typename Acc>
Status run(const void* src, const Tensor4d& sd, void* mid, const Tensor4d& md, void* dst,
           const Tensor4d& dd, const ResizeTable& rows, const ResizeTable& cols,
           cudaStream_t stream) {
  const Status first = pass<T, Mid, Acc>(src, sd, mid, md, rows, 2, stream);
  if (first != Status::kOk) return first;
  return pass<Mid, T, Acc>(mid, md, dst, dd, cols, 3, stream);
}

}  // namespace

Status launch_imresize(ImresizeDtype dtype, const void* src, const Tensor4d& src_desc, void* mid,
                       const Tensor4d& mid_desc, void* dst, const Tensor4d& dst_desc,
                       const ResizeTable& rows, const ResizeTable& cols, cudaStream_t stream) {
  for (int d = 0; d < 4; ++d) {
    if (src_desc.size[d] < 0 || mid_desc.size[d] < 0 || dst_desc.size[d] < 0) {
      return Status::kInvalidArgument;
    }
    if (src_desc.stride[d] < 0 || mid_desc.stride[d] < 0 || dst_desc.stride[d] < 0) {
      return Status::kInvalidArgument;
    }
  }
  if (rows.taps < 1 || cols.taps < 1 || rows.in_len != src_desc.size[2] ||
      rows.out_len != mid_desc.size[2] || cols.in_len != mid_desc.size[3] ||
      cols.out_len != dst_desc.size[3]) {
    return Status::kInvalidArgument;
  }
  switch (dtype) {
    case ImresizeDtype::kUInt8:
      return run<uint8_t, uint8_t, double>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols,
                                           stream);
    case ImresizeDtype::kFloat32:
      return run<float, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols,
                                      stream);
    case ImresizeDtype::kFloat64:
      return run<double, double, double>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols,
                                         stream);
    case ImresizeDtype::kFloat16:
      return run<__half, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols,
                                       stream);
    case ImresizeDtype::kBFloat16:
      return run<__nv_bfloat16, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows,
                                              cols, stream);
  }
  return Status::kInvalidArgument;
}

}  // namespace sr
