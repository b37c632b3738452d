// Status codes returned by every launcher: csrc never throws and never touches torch.
#pragma once

namespace sr {

enum class Status : int {
  kOk = 0,
  kInvalidArgument = 1,  // a size or stride the kernel cannot handle
  kLaunchFailed = 2,     // the CUDA runtime reported an error at launch
};

inline const char* status_message(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kInvalidArgument:
      return "invalid argument";
    case Status::kLaunchFailed:
      return "CUDA kernel launch failed";
  }
  return "unknown status";
}

}  // namespace sr
