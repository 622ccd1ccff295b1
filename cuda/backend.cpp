// Registers the CUDA Backend of tensor/backend.h: device count, descriptions, synchronisation and
// host <-> device transfers. With this library loaded, `Device::cuda(N)` tensors can be made,
// moved and computed on; without it, tensor/ says that the build has no CUDA backend.
#include "tensor/backend.h"

#include "cuda/runtime.h"
#include "cuda/transfer.h"

namespace gradstack::cuda {

namespace {
[[maybe_unused]] const bool registered = register_backend(
    DeviceType::cuda,
    Backend{"CUDA", &device_count, &why_no_device, &describe, &synchronize, &transfer});
}  // namespace

}  // namespace gradstack::cuda
