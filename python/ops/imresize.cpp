// Host functions for imresize / imresize_backward / imresize_weights: checks -> device guard ->
// tables -> allocate (output + intermediate) -> launch -> check.
//
// The per-axis tables are built once per (in, out, scale, antialias, edge, direction) on the
// host in float64 by common/cubic.h and cached (the CUDA path also caches one device copy per
// device, uploaded on first use: warm up before capturing a CUDA graph).
#include "sr_kernels/imresize.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/util/string_view.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "checks.h"
#include "common/cubic.h"
#include "common/resize_table.h"
#include "env_knob.h"
#include "layout.h"

#ifdef SR_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

using HostTable = sr::HostResizeTable;

// (in_len, out_len, scale bits, antialias, edge, transposed)
using TableKey = std::tuple<int64_t, int64_t, uint64_t, bool, int, bool>;

uint64_t double_bits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

sr::ResizeEdge parse_edge(c10::string_view edge) {
  if (edge == "mirror") return sr::ResizeEdge::kMirror;
  if (edge == "clamp") return sr::ResizeEdge::kClamp;
  SR_CHECK_ARG(false, "edge", "expected 'mirror' or 'clamp', got '", std::string(edge), "'");
  return sr::ResizeEdge::kMirror;
}

// The limits of sr_kernels/ops/imresize.py (MAX_AXIS_LENGTH, MAX_TABLE_ENTRIES), for direct op
// calls: int32 indices along an axis, and a table of out_len x taps entries (taps ~ 4 / scale
// when downscaling with antialias: a scale of 1e-9 asked for 32 GB, 4 / 2^-60 overflowed).
// Also table_limit there: at most max(2^20, 8 (in + out) + 64) entries, which only an
// antialiased downscale to one pixel by far less than 1 / in_len exceeds.
constexpr int64_t kMaxAxisLength = (int64_t{1} << 31) - 1;
constexpr double kMaxTableEntries = static_cast<double>(int64_t{1} << 28);
constexpr double kSmallTableEntries = static_cast<double>(int64_t{1} << 20);

void check_table_size(int64_t in_len, int64_t out_len, double scale, bool antialias) {
  SR_CHECK_ARG(in_len <= kMaxAxisLength && out_len <= kMaxAxisLength, "size",
               "imresize takes and makes at most 2^31 - 1 pixels per axis, got ", in_len, " -> ",
               out_len);
  const double taps = std::ceil(sr::resize_kernel_width(scale, antialias)) + 2.0;
  const double relative = 8.0 * static_cast<double>(in_len + out_len) + 64.0;
  const double limit = std::min(kMaxTableEntries, std::max(kSmallTableEntries, relative));
  SR_CHECK_ARG(taps * static_cast<double>(out_len) <= limit, "scale", "resizing ", in_len, " -> ",
               out_len, " (scale ", scale, ") needs a weight table of ",
               static_cast<int64_t>(taps * static_cast<double>(out_len)),
               " entries; the limit for this axis is ", static_cast<int64_t>(limit),
               " (min(2^28, max(2^20, 8 (in + out) + 64)))");
}

// The table of the forward resize in_len -> out_len, or (transposed) of its adjoint
// out_len -> in_len.
std::shared_ptr<const HostTable> host_table(int64_t in_len, int64_t out_len, double scale,
                                            bool antialias, sr::ResizeEdge edge, bool transposed) {
  check_table_size(in_len, out_len, scale, antialias);
  static std::mutex mutex;
  static auto* cache = new std::map<TableKey, std::shared_ptr<const HostTable>>();  // never freed
  const TableKey key{in_len,    out_len, double_bits(scale), antialias, static_cast<int>(edge),
                     transposed};
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache->find(key);
    if (found != cache->end()) return found->second;
  }
  auto table = std::make_shared<HostTable>(
      sr::make_resize_table(in_len, out_len, scale, antialias, edge, transposed));
  std::lock_guard<std::mutex> lock(mutex);
  if (cache->size() >= 1024) cache->clear();  // shared_ptr keeps tables in use alive
  return cache->emplace(key, std::move(table)).first->second;
}

sr::Tensor4d describe(const at::Tensor& t) {
  sr::Tensor4d d;
  for (int i = 0; i < 4; ++i) {
    d.size[i] = t.size(i);
    d.stride[i] = t.stride(i);
  }
  return d;
}

sr::ImresizeDtype kernel_dtype(const at::Tensor& x, const char* name, bool allow_uint8) {
  switch (x.scalar_type()) {
    case at::kByte:
      SR_CHECK_TYPE(allow_uint8, name, "uint8 is not differentiable; expected a float dtype");
      return sr::ImresizeDtype::kUInt8;
    case at::kHalf:
      return sr::ImresizeDtype::kFloat16;
    case at::kBFloat16:
      return sr::ImresizeDtype::kBFloat16;
    case at::kFloat:
      return sr::ImresizeDtype::kFloat32;
    case at::kDouble:
      return sr::ImresizeDtype::kFloat64;
    default:
      SR_CHECK_TYPE(false, name, "expected uint8, float16, bfloat16, float32 or float64, got ",
                    x.scalar_type());
  }
  return sr::ImresizeDtype::kFloat32;
}

at::ScalarType mid_type(at::ScalarType t) {
  if (t == at::kByte || t == at::kDouble) return t;
  return at::kFloat;
}

void check_args(const at::Tensor& x, const char* name, int64_t h, int64_t w, double scale_h,
                double scale_w) {
  SR_CHECK_DIM(x, name, 4);
  SR_CHECK_ARG(x.size(2) >= 1 && x.size(3) >= 1, name, "height and width must be >= 1, got ",
               x.sizes());
  SR_CHECK_ARG(h >= 1 && w >= 1, "size", "expected a positive size, got (", h, ", ", w, ")");
  SR_CHECK_ARG(scale_h > 0.0 && scale_w > 0.0 && std::isfinite(scale_h) && std::isfinite(scale_w),
               "scale", "expected positive finite scales, got (", scale_h, ", ", scale_w, ")");
}

// Shared by forward and backward: `x` (N, C, H, W) -> (N, C, rows.out_len, cols.out_len).
struct Plan {
  std::shared_ptr<const HostTable> rows, cols;
};

Plan make_plan(const at::Tensor& x, int64_t h, int64_t w, double scale_h, double scale_w,
               bool antialias, sr::ResizeEdge edge, bool backward) {
  Plan plan;
  if (backward) {  // x is the gradient (N, C, OH, OW); (h, w) the input size
    plan.rows = host_table(h, x.size(2), scale_h, antialias, edge, true);
    plan.cols = host_table(w, x.size(3), scale_w, antialias, edge, true);
  } else {
    plan.rows = host_table(x.size(2), h, scale_h, antialias, edge, false);
    plan.cols = host_table(x.size(3), w, scale_w, antialias, edge, false);
  }
  return plan;
}

std::pair<at::Tensor, at::Tensor> allocate(const at::Tensor& x, const Plan& plan) {
  const at::MemoryFormat format = output_format(x);
  at::Tensor out = at::empty({x.size(0), x.size(1), plan.rows->out_len, plan.cols->out_len},
                             x.options().memory_format(format));
  at::Tensor mid = at::empty({x.size(0), x.size(1), plan.rows->out_len, x.size(3)},
                             x.options().dtype(mid_type(x.scalar_type())).memory_format(format));
  return {out, mid};
}

at::Tensor resize_cpu(const at::Tensor& x, int64_t h, int64_t w, double scale_h, double scale_w,
                      bool antialias, c10::string_view edge_name, bool backward) {
  const char* name = backward ? "grad" : "x";
  check_args(x, name, h, w, scale_h, scale_w);
  const sr::ImresizeDtype dtype = kernel_dtype(x, name, !backward);
  const sr::ResizeEdge edge = parse_edge(edge_name);
  const Plan plan = make_plan(x, h, w, scale_h, scale_w, antialias, edge, backward);
  auto [out, mid] = allocate(x, plan);
  if (out.numel() == 0) return out;
  SR_CHECK_STATUS(sr::imresize_cpu(dtype, x.const_data_ptr(), describe(x), mid.mutable_data_ptr(),
                                   describe(mid), out.mutable_data_ptr(), describe(out),
                                   plan.rows->view(), plan.cols->view()),
                  backward ? "imresize_backward" : "imresize");
  return out;
}

at::Tensor imresize_cpu(const at::Tensor& x, int64_t out_h, int64_t out_w, double scale_h,
                        double scale_w, bool antialias, c10::string_view edge) {
  return resize_cpu(x, out_h, out_w, scale_h, scale_w, antialias, edge, false);
}

at::Tensor imresize_backward_cpu(const at::Tensor& grad, int64_t in_h, int64_t in_w, double scale_h,
                                 double scale_w, bool antialias, c10::string_view edge) {
  return resize_cpu(grad, in_h, in_w, scale_h, scale_w, antialias, edge, true);
}

// The forward table of one axis as CPU tensors (index int32, weight float64), for tests and
// the Python backward.
std::tuple<at::Tensor, at::Tensor> imresize_weights(int64_t in_len, int64_t out_len, double scale,
                                                    bool antialias, c10::string_view edge) {
  SR_CHECK_ARG(in_len >= 1 && out_len >= 0, "in_len", "expected in_len >= 1 and out_len >= 0");
  SR_CHECK_ARG(scale > 0.0 && std::isfinite(scale), "scale", "expected a positive scale");
  const auto table = host_table(in_len, out_len, scale, antialias, parse_edge(edge), false);
  at::Tensor index = at::empty({out_len, table->taps}, at::TensorOptions().dtype(at::kInt));
  at::Tensor weight = at::empty({out_len, table->taps}, at::TensorOptions().dtype(at::kDouble));
  std::memcpy(index.mutable_data_ptr(), table->index.data(), table->index.size() * 4);
  std::memcpy(weight.mutable_data_ptr(), table->weight.data(), table->weight.size() * 8);
  return {index, weight};
}

#ifdef SR_WITH_CUDA
struct DeviceTable {
  at::Tensor index, weight, weight_f32;
  sr::ResizeTable view;
};

std::shared_ptr<const DeviceTable> device_table(const std::shared_ptr<const HostTable>& host,
                                                const at::Device& device) {
  static std::mutex mutex;
  // Keyed by the host table's address (alive as long as the entry holds it) and the device.
  using Key = std::pair<const HostTable*, int>;
  static auto* cache =
      new std::map<Key, std::pair<std::shared_ptr<const HostTable>,
                                  std::shared_ptr<const DeviceTable>>>();  // never freed
  const Key key{host.get(), device.index()};
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto found = cache->find(key);
    if (found != cache->end()) return found->second.second;
  }
  auto table = std::make_shared<DeviceTable>();
  const int64_t numel = host->out_len * host->taps;
  auto cpu = at::TensorOptions().device(at::kCPU);
  table->index =
      at::from_blob(const_cast<int32_t*>(host->index.data()), {numel}, cpu.dtype(at::kInt))
          .to(device);
  table->weight =
      at::from_blob(const_cast<double*>(host->weight.data()), {numel}, cpu.dtype(at::kDouble))
          .to(device);
  table->weight_f32 =
      at::from_blob(const_cast<float*>(host->weight_f32.data()), {numel}, cpu.dtype(at::kFloat))
          .to(device);
  table->view = sr::ResizeTable{host->in_len,
                                host->out_len,
                                host->taps,
                                table->index.const_data_ptr<int32_t>(),
                                table->weight.const_data_ptr<double>(),
                                table->weight_f32.const_data_ptr<float>(),
                                host->tie_margin,
                                host->tile_span,
                                host->run.step,
                                host->run.begin,
                                host->run.end,
                                host->quads.begin,
                                host->quads.end,
                                host->quad_offsets,
                                host->run_exact ? 1 : 0};
  std::lock_guard<std::mutex> lock(mutex);
  if (cache->size() >= 1024) cache->clear();
  return cache->emplace(key, std::make_pair(host, std::shared_ptr<const DeviceTable>(table)))
      .first->second.second;
}

// The fused CUDA kernel (both passes in one launch) is the default since the first H200 run
// (2026-11-29): every cuda imresize test passed with it (exact on uint8), and it measured 1.3x to
// 4x faster than the two passes (bench/results/2026-11-29-nvidia-h200.md).
// SR_KERNELS_IMRESIZE_FUSED=0 selects the two-pass kernels (for comparison; read at each call).
bool fused_kernel_enabled() { return !env_is("SR_KERNELS_IMRESIZE_FUSED", "0"); }
// The fused kernel's integer-scale paths (csrc/cuda/imresize.cu: row and column runs of x2, x3
// and x4 downscales, the columns in NCHW planes and RGB NHWC; width quads of x2 and x4
// upscales) are on unless SR_KERNELS_IMRESIZE_RUNS=0 (for comparison; read at each call; same
// results).
bool run_walk_enabled() { return !env_is("SR_KERNELS_IMRESIZE_RUNS", "0"); }

at::Tensor resize_cuda(const at::Tensor& x, int64_t h, int64_t w, double scale_h, double scale_w,
                       bool antialias, c10::string_view edge_name, bool backward) {
  const char* name = backward ? "grad" : "x";
  check_args(x, name, h, w, scale_h, scale_w);
  const sr::ImresizeDtype dtype = kernel_dtype(x, name, !backward);
  const sr::ResizeEdge edge = parse_edge(edge_name);
  const c10::cuda::CUDAGuard guard(x.device());
  const Plan plan = make_plan(x, h, w, scale_h, scale_w, antialias, edge, backward);
  auto [out, mid] = allocate(x, plan);
  if (out.numel() == 0) return out;
  const auto rows = device_table(plan.rows, x.device());
  const auto cols = device_table(plan.cols, x.device());
  SR_CHECK_STATUS(
      sr::launch_imresize(dtype, x.const_data_ptr(), describe(x), mid.mutable_data_ptr(),
                          describe(mid), out.mutable_data_ptr(), describe(out), rows->view,
                          cols->view, c10::cuda::getCurrentCUDAStream().stream(),
                          fused_kernel_enabled(), run_walk_enabled()),
      backward ? "imresize_backward" : "imresize");
  return out;
}

at::Tensor imresize_cuda(const at::Tensor& x, int64_t out_h, int64_t out_w, double scale_h,
                         double scale_w, bool antialias, c10::string_view edge) {
  return resize_cuda(x, out_h, out_w, scale_h, scale_w, antialias, edge, false);
}

at::Tensor imresize_backward_cuda(const at::Tensor& grad, int64_t in_h, int64_t in_w,
                                  double scale_h, double scale_w, bool antialias,
                                  c10::string_view edge) {
  return resize_cuda(grad, in_h, in_w, scale_h, scale_w, antialias, edge, true);
}
#endif

}  // namespace

TORCH_LIBRARY_IMPL(sr_kernels, CPU, m) {
  m.impl("imresize", &imresize_cpu);
  m.impl("imresize_backward", &imresize_backward_cpu);
}

TORCH_LIBRARY_IMPL(sr_kernels, CompositeExplicitAutograd, m) {
  m.impl("imresize_weights", &imresize_weights);
}

#ifdef SR_WITH_CUDA
TORCH_LIBRARY_IMPL(sr_kernels, CUDA, m) {
  m.impl("imresize", &imresize_cuda);
  m.impl("imresize_backward", &imresize_backward_cuda);
}
#endif
