// ssim_mean: the per-image mean SSIM of the SR protocol (metric_types.h): Gaussian window 11 x 11,
// sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering (the map is (rows-10) x (cols-10)),
// no downsampling, mean over the map and the planes. One float64 value per image.
//
// Numerics: the separable filter runs in fp32 on values shifted by a per-tile constant (the
// variances are shift-invariant, so flat regions do not cancel catastrophically); each thread
// sums the SSIM values of its column of a tile (at most one tile height of them) in fp32, at most
// a few 1e-6 relative for values in [-1, 1]; those sums are added in double in a fixed order
// (deterministic).
#pragma once

#include <cstdint>

#include "sr_kernels/metric_types.h"
#include "sr_kernels/status.h"

#ifdef SR_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace sr {

// Bytes of caller-owned scratch ssim_mean_cpu needs with `num_threads` OpenMP threads.
int64_t ssim_mean_cpu_workspace_bytes(const ImagePairView& pair, const MetricProtocol& protocol,
                                      int num_threads);

// CPU (OpenMP, `num_threads` threads). `workspace` is 16-byte aligned scratch of the size above.
Status ssim_mean_cpu(const ImagePairView& pair, const MetricProtocol& protocol, int num_threads,
                     void* workspace, double* out);

#ifdef SR_WITH_CUDA
// Number of doubles of caller-owned scratch launch_ssim_mean needs.
int64_t ssim_mean_cuda_workspace(const ImagePairView& pair, const MetricProtocol& protocol);

// Two launches on `stream`: the fused separable SSIM (no full-size intermediates; each block
// writes one partial sum) and a fixed-order per-image reduction into `out` (N doubles).
Status launch_ssim_mean(const ImagePairView& pair, const MetricProtocol& protocol,
                        double* workspace, double* out, cudaStream_t stream);
#endif

}  // namespace sr
