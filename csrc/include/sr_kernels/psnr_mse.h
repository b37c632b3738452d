// psnr_mse: the per-image mean squared error of the SR protocol (metric_types.h), the quantity
// behind PSNR = 10 log10(255^2 / mse). One float64 value per image. The psnr variants run the
// same kernels and write that PSNR in dB instead (metric::psnr_db: +inf for identical images),
// which saves the elementwise launches a conversion after the op would cost.
//
// Numerics: per-pixel values are formed in double (uint8 inputs in exact integer arithmetic),
// squared errors are accumulated in double, and per-block partial sums are reduced in a fixed
// order, so results are deterministic and match a float64 reference to ~1e-15 relative.
#pragma once

#include <cstdint>

#include "sr_kernels/metric_types.h"
#include "sr_kernels/status.h"

#ifdef SR_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace sr {

// CPU (OpenMP). `row_partials` is caller-owned scratch of N * rows doubles (metric_region);
// `out` receives N doubles.
Status psnr_mse_cpu(const ImagePairView& pair, const MetricProtocol& protocol, double* row_partials,
                    double* out);
Status psnr_cpu(const ImagePairView& pair, const MetricProtocol& protocol, double* row_partials,
                double* out);

#ifdef SR_WITH_CUDA
// Number of doubles of caller-owned scratch launch_psnr_mse needs.
int64_t psnr_mse_cuda_workspace(const ImagePairView& pair, const MetricProtocol& protocol);

// Two launches on `stream`: the fused pass (each image read once) writing per-block partial sums
// into `workspace`, then one block per image reducing them in a fixed order into `out` (N doubles).
Status launch_psnr_mse(const ImagePairView& pair, const MetricProtocol& protocol, double* workspace,
                       double* out, cudaStream_t stream);
// The same two launches; the second writes the PSNR in dB. Workspace: psnr_mse_cuda_workspace.
Status launch_psnr(const ImagePairView& pair, const MetricProtocol& protocol, double* workspace,
                   double* out, cudaStream_t stream);
#endif

}  // namespace sr
