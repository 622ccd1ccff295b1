// A device backend's entry points besides its kernels: how many devices it sees, what they are,
// how to wait for them and how to move data to and from them. The CUDA backend (cuda/) registers
// one Backend when its library loads, which find_backend does the first time a CUDA device is
// asked for (a CPU-only run never loads the CUDA libraries); a build without it has none, and
// every question about a CUDA device gets an error that says so. Also `parse_device`, the one
// reader of `--device cpu|cuda[:N]`. Read next: kernels/copy.h (to_device), cuda/README.md.
#pragma once

#include <string>
#include <string_view>

#include "tensor/device.h"

namespace gradstack {

class Tensor;

struct Backend {
    const char* name = "";            // "CUDA"
    int (*device_count)() = nullptr;  // 0 when no device or no driver is present
    // Why device_count() is 0, for error messages ("no CUDA driver found (cudaGetDeviceCount:
    // CUDA driver version is insufficient ...)").
    std::string (*why_no_device)() = nullptr;
    std::string (*describe)(int index) = nullptr;  // "NVIDIA H200, 139.8 GiB, sm_90"
    void (*synchronize)(int index) = nullptr;      // waits until the device's queued work is done
    // dst = src (src broadcast to dst's shape, converted to dst's dtype) where the two live on
    // different devices, one of them this backend's.
    void (*transfer)(const Tensor& dst, const Tensor& src) = nullptr;
};

// Installs the backend of a device type; returns true, for namespace-scope registration.
bool register_backend(DeviceType type, Backend backend);
// The registered backend, or nullptr (the CPU has none: it needs no hooks).
const Backend* find_backend(DeviceType type);

// "cpu", "cuda" (= cuda:0) or "cuda:N". Throws "<where>: 'gpu' is not a device; use cpu, cuda or
// cuda:N". It does not check that the device exists (check_device does).
Device parse_device(std::string_view text, std::string_view where);
// Throws unless `device` can be used now: "<where>: cuda:1 is not available: this machine has 1
// CUDA device (cuda:0)", or "...: this build of gradstack has no CUDA backend (configure with
// -DGRADSTACK_CUDA=ON where the CUDA toolkit is installed)", or "...: no CUDA device: <why>".
void check_device(Device device, std::string_view where);
// How many devices of the type are usable (the CPU: 1; a backend that is not built: 0).
int device_count(DeviceType type);
// One line naming the device ("cpu", "cuda:0 (NVIDIA H200, 139.8 GiB, sm_90)").
std::string describe_device(Device device);
// Waits for the device's queued work (no-op on the CPU). Timings of GPU work need it.
void synchronize(Device device);

}  // namespace gradstack
