// Status checks, device queries, guards and per-device streams (see runtime.h).
#include "cuda/runtime.h"

#include <array>
#include <atomic>
#include <mutex>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace gradstack::cuda {

namespace {
constexpr int kMaxDevices = 64;

std::string suffix(std::string_view context) {
    return context.empty() ? std::string() : fmt::format(" ({})", context);
}

const char* cublas_status_name(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_SUCCESS:
            return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED:
            return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED:
            return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE:
            return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH:
            return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR:
            return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR:
            return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED:
            return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR:
            return "CUBLAS_STATUS_LICENSE_ERROR";
    }
    return "unknown cuBLAS status";
}

}  // namespace

void check_cuda(cudaError_t status, std::string_view call, std::string_view context) {
    if (status == cudaSuccess) return;
    cudaGetLastError();  // clears the error if it is not sticky
    fail("[cuda] {} failed: {} ({}){}", call, cudaGetErrorString(status), cudaGetErrorName(status),
         suffix(context));
}

void check_cublas(cublasStatus_t status, std::string_view call, std::string_view context) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    fail("[cublas] {} failed: {}{}", call, cublas_status_name(status), suffix(context));
}

void check_launch(std::string_view kernel, std::string_view context) {
    const cudaError_t status = cudaGetLastError();
    if (status == cudaSuccess) return;
    fail("[cuda] launch of kernel {} failed: {} ({}){}", kernel, cudaGetErrorString(status),
         cudaGetErrorName(status), suffix(context));
}

int device_count() {
    static const int count = [] {
        int n = 0;
        if (cudaGetDeviceCount(&n) != cudaSuccess) {
            cudaGetLastError();
            return 0;
        }
        return n;
    }();
    return count;
}

std::string why_no_device() {
    int n = 0;
    const cudaError_t status = cudaGetDeviceCount(&n);
    cudaGetLastError();
    if (status == cudaSuccess && n == 0) return "the CUDA runtime found no device";
    if (status == cudaSuccess) return fmt::format("{} device(s) found", n);
    return fmt::format("cudaGetDeviceCount says: {} ({})", cudaGetErrorString(status),
                       cudaGetErrorName(status));
}

std::string describe(int index) {
    require_device(index, "[cuda]");
    cudaDeviceProp p{};
    check_cuda(cudaGetDeviceProperties(&p, index), "cudaGetDeviceProperties");
    return fmt::format("{}, {:.1f} GiB, sm_{}{}", p.name,
                       static_cast<double>(p.totalGlobalMem) / (1 << 30), p.major, p.minor);
}

void require_device(int index, std::string_view where) {
    gradstack::check_device(Device::cuda(index), where);
}

DeviceGuard::DeviceGuard(int index) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != index)
        check_cuda(cudaSetDevice(index), "cudaSetDevice", fmt::format("cuda:{}", index));
}

DeviceGuard::~DeviceGuard() {
    int now = -1;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
}

cudaStream_t stream(int index) {
    static std::array<std::once_flag, kMaxDevices> once;
    static std::array<cudaStream_t, kMaxDevices> streams{};
    check(index >= 0 && index < kMaxDevices, "[cuda] device index {} out of range", index);
    std::call_once(once[index], [index] {
        require_device(index, "[cuda]");
        DeviceGuard guard(index);
        check_cuda(cudaStreamCreateWithFlags(&streams[index], cudaStreamNonBlocking),
                   "cudaStreamCreateWithFlags", fmt::format("cuda:{}", index));
    });
    return streams[index];
}

void synchronize(int index) {
    DeviceGuard guard(index);
    check_cuda(cudaStreamSynchronize(stream(index)), "cudaStreamSynchronize",
               fmt::format("cuda:{}", index));
}

cublasHandle_t cublas_handle(int index) {
    static std::array<std::once_flag, kMaxDevices> once;
    static std::array<cublasHandle_t, kMaxDevices> handles{};
    check(index >= 0 && index < kMaxDevices, "[cuda] device index {} out of range", index);
    std::call_once(once[index], [index] {
        DeviceGuard guard(index);
        check_cublas(cublasCreate(&handles[index]), "cublasCreate", fmt::format("cuda:{}", index));
        check_cublas(cublasSetStream(handles[index], stream(index)), "cublasSetStream");
    });
    return handles[index];
}

}  // namespace gradstack::cuda
