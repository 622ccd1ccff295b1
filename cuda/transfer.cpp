// Copies between the host and a device, and between two devices: the `transfer` of the CUDA
// Backend (backend.cpp), which kernels::copy_ calls when its operands live on different devices.
// Host memory is staged through one pinned (page-locked) buffer per device, in chunks: the DMA
// engine reads pinned memory directly, where a pageable source would be copied by the driver
// through its own staging first. Layout and dtype changes happen on whichever side holds the
// data in its strided form: the device copy kernel on the GPU, the CPU copy kernel on the host,
// so only contiguous bytes cross the bus.
// Read next: backend.cpp.
#include "cuda/transfer.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "cuda/launch.h"
#include "tensor/kernels/copy.h"

namespace gradstack::cuda {

namespace {

constexpr size_t kChunk = size_t{32} << 20;  // 32 MiB of pinned staging per device

struct Staging {
    std::mutex mutex;
    void* buffer = nullptr;
};

Staging& staging(int index) {
    static Staging* table = new Staging[64];
    return table[index];
}

// The device's pinned buffer, allocated on first use (the caller holds s.mutex).
void* pinned_buffer(Staging& s) {
    if (s.buffer == nullptr)
        check_cuda(cudaMallocHost(&s.buffer, kChunk), "cudaMallocHost", "32 MiB of staging");
    return s.buffer;
}

// Host bytes -> device bytes (both contiguous), in chunks through the pinned buffer.
void host_to_device(void* dst, const void* src, size_t nbytes, int index) {
    Staging& s = staging(index);
    std::lock_guard<std::mutex> lock(s.mutex);
    DeviceGuard guard(index);
    cudaStream_t st = stream(index);
    void* buffer = pinned_buffer(s);
    for (size_t done = 0; done < nbytes; done += kChunk) {
        const size_t n = std::min(kChunk, nbytes - done);
        std::memcpy(buffer, static_cast<const char*>(src) + done, n);
        check_cuda(
            cudaMemcpyAsync(static_cast<char*>(dst) + done, buffer, n, cudaMemcpyHostToDevice, st),
            "cudaMemcpyAsync(host to device)", fmt::format("{} bytes", n));
        // The buffer is refilled next: wait until the DMA has read it.
        check_cuda(cudaStreamSynchronize(st), "cudaStreamSynchronize", "host to device copy");
    }
}

// Device bytes -> host bytes (both contiguous), after the device's queued work.
void device_to_host(void* dst, const void* src, size_t nbytes, int index) {
    Staging& s = staging(index);
    std::lock_guard<std::mutex> lock(s.mutex);
    DeviceGuard guard(index);
    cudaStream_t st = stream(index);
    void* buffer = pinned_buffer(s);
    for (size_t done = 0; done < nbytes; done += kChunk) {
        const size_t n = std::min(kChunk, nbytes - done);
        check_cuda(cudaMemcpyAsync(buffer, static_cast<const char*>(src) + done, n,
                                   cudaMemcpyDeviceToHost, st),
                   "cudaMemcpyAsync(device to host)", fmt::format("{} bytes", n));
        check_cuda(cudaStreamSynchronize(st), "cudaStreamSynchronize", "device to host copy");
        std::memcpy(static_cast<char*>(dst) + done, buffer, n);
    }
}

size_t nbytes_of(const Tensor& t) {
    return static_cast<size_t>(t.numel()) * itemsize(t.dtype());
}

}  // namespace

void transfer(const Tensor& dst, const Tensor& src) {
    const Device from = src.device(), to = dst.device();
    if (dst.numel() == 0) return;
    if (from.type == DeviceType::cpu) {
        require_device(to.index, "[copy_]");
        // On the host: src broadcast to dst's shape and converted to its dtype, contiguous.
        Tensor host = empty(dst.shape(), dst.dtype(), Device::cpu());
        kernels::copy(host, src);
        Tensor target = dst.is_contiguous() ? dst : empty(dst.shape(), dst.dtype(), to);
        host_to_device(target.raw_data(), host.raw_data(), nbytes_of(host), to.index);
        if (!target.is_same(dst)) kernels::copy(dst, target);
        return;
    }
    require_device(from.index, "[copy_]");
    // On the source device: broadcast, convert and make contiguous there.
    Tensor packed = empty(dst.shape(), dst.dtype(), from);
    kernels::copy(packed, src);
    if (to.type == DeviceType::cpu) {
        Tensor target = dst.is_contiguous() ? dst : empty(dst.shape(), dst.dtype(), Device::cpu());
        device_to_host(target.raw_data(), packed.raw_data(), nbytes_of(packed), from.index);
        if (!target.is_same(dst)) kernels::copy(dst, target);
        return;
    }
    // Device to device: the source's work must be done before the peer copy reads it.
    require_device(to.index, "[copy_]");
    synchronize(from.index);
    Tensor target = dst.is_contiguous() ? dst : empty(dst.shape(), dst.dtype(), to);
    {
        DeviceGuard guard(to.index);
        check_cuda(cudaMemcpyPeerAsync(target.raw_data(), to.index, packed.raw_data(), from.index,
                                       nbytes_of(packed), stream(to.index)),
                   "cudaMemcpyPeerAsync", fmt::format("{} to {}", from, to));
    }
    if (!target.is_same(dst)) kernels::copy(dst, target);
    // `packed` is freed when this returns; its pool is on the source's stream, which the copy
    // (queued on the destination's stream) does not order against: wait for it.
    synchronize(to.index);
}

}  // namespace gradstack::cuda
