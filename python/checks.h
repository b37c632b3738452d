// SR_CHECK_* helpers for the binding layer: every message names the offending argument.
// The public Python ops validate first; these guard direct torch.ops.sr_kernels.* calls.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include "sr_kernels/status.h"

#define SR_CHECK_ARG(cond, name, ...) \
  TORCH_CHECK_VALUE(cond, "sr_kernels: argument '", name, "': ", __VA_ARGS__)
#define SR_CHECK_TYPE(cond, name, ...) \
  TORCH_CHECK_TYPE(cond, "sr_kernels: argument '", name, "': ", __VA_ARGS__)

#define SR_CHECK_DIM(tensor, name, ndim)                                               \
  SR_CHECK_ARG((tensor).dim() == (ndim), name, "expected a ", ndim, "-D tensor, got ", \
               (tensor).dim(), "-D")

#define SR_CHECK_STATUS(status, what)                            \
  TORCH_CHECK((status) == sr::Status::kOk, "sr_kernels: ", what, \
              " failed: ", sr::status_message(status))
