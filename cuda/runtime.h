// The CUDA runtime as gradstack uses it: status checks that turn every CUDA and cuBLAS error into a
// gradstack::Error naming the call, device queries, a guard that makes a device current for a
// scope, and one stream per device that every kernel and copy of that device is queued on (in
// order, so kernels never need to wait for each other explicitly).
// Read next: allocator.h (device memory), launch.h (how a Tensor becomes kernel arguments).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>
#include <string_view>

#include "tensor/device.h"

namespace gradstack::cuda {

// Throws gradstack::Error "[cuda] cudaMalloc(2.00 GiB) failed: out of memory
// (cudaErrorMemoryAllocation)" when status is not cudaSuccess; `call` names the call and `context`
// adds what it was doing (shapes, sizes). The sticky error state of the runtime is cleared, so the
// process stays usable after an error that is not fatal to the context (out of memory, a bad launch
// configuration).
void check_cuda(cudaError_t status, std::string_view call, std::string_view context = {});
void check_cublas(cublasStatus_t status, std::string_view call, std::string_view context = {});
// Checks the last kernel launch (cudaGetLastError), naming the kernel.
void check_launch(std::string_view kernel, std::string_view context = {});

// Devices the runtime sees; 0 when there is no driver or no device (never throws).
int device_count();
// Why device_count() is 0: the runtime's message ("CUDA driver version is insufficient...").
std::string why_no_device();
// "NVIDIA H200, 139.8 GiB, sm_90".
std::string describe(int index);
// Throws the error of tensor/backend.h's check_device unless cuda:index exists.
void require_device(int index, std::string_view where);

// Makes `index` the current device for a scope, and restores the previous one.
class DeviceGuard {
  public:
    explicit DeviceGuard(int index);
    ~DeviceGuard();
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

  private:
    int previous_ = -1;
};

// The stream every gradstack operation on device `index` is queued on (created on first use, a
// non-blocking stream, so it never waits on the legacy default stream).
cudaStream_t stream(int index);
// Waits for the stream of device `index` (what tensor/backend.h's synchronize calls).
void synchronize(int index);
// The cuBLAS handle of device `index`, bound to its stream, created on first use.
cublasHandle_t cublas_handle(int index);

}  // namespace gradstack::cuda
