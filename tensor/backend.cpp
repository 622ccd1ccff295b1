// The backend table of backend.h and the device-string parser.
#include "tensor/backend.h"

#include <dlfcn.h>

#include <charconv>
#include <filesystem>
#include <mutex>

#include "tensor/error.h"

namespace gradstack {

namespace {
Backend* backend_slot(DeviceType type) {
    static Backend table[kNumDeviceTypes];
    return &table[static_cast<int>(type)];
}

// The CUDA backend is a library of its own, libgradstack_cuda.so beside this one, loaded the first
// time a CUDA device is asked for; its kernels, allocator and Backend register themselves as it
// loads. So a run on the CPU never maps the CUDA runtime and cuBLAS (over half a gigabyte of
// libraries: 0.15 s and 230 MB of resident memory more per process start, measured). A program
// that links libgradstack_cuda.so itself (tests/cuda) has it registered from the start.
// Returns why loading failed ("" when it loaded or was never needed).
const std::string& load_cuda_backend() {
    static std::once_flag once;
    static std::string error;
    std::call_once(once, [] {
        Dl_info self{};
        if (dladdr(reinterpret_cast<void*>(&register_backend), &self) == 0 || !self.dli_fname) {
            error = "cannot locate libgradstack_tensor.so";
            return;
        }
        const std::filesystem::path lib =
            std::filesystem::path(self.dli_fname).parent_path() / "libgradstack_cuda.so";
        std::error_code ec;
        if (!std::filesystem::exists(lib, ec)) {
            error = "not built";
            return;
        }
        if (dlopen(lib.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
            const char* why = dlerror();
            error = fmt::format("{} does not load: {}", lib.string(), why ? why : "unknown error");
        }
    });
    return error;
}
}  // namespace

bool register_backend(DeviceType type, Backend backend) {
    *backend_slot(type) = backend;
    return true;
}

const Backend* find_backend(DeviceType type) {
    const Backend* b = backend_slot(type);
    if (b->device_count == nullptr && type == DeviceType::cuda) load_cuda_backend();
    return b->device_count == nullptr ? nullptr : b;
}

Device parse_device(std::string_view text, std::string_view where) {
    if (text == "cpu") return Device::cpu();
    if (text == "cuda") return Device::cuda(0);
    if (text.substr(0, 5) == "cuda:" && text.size() > 5) {
        int index = -1;
        const char* first = text.data() + 5;
        const char* last = text.data() + text.size();
        auto [end, ec] = std::from_chars(first, last, index);
        if (ec == std::errc() && end == last && index >= 0) return Device::cuda(index);
    }
    fail("{}: '{}' is not a device; use cpu, cuda or cuda:N (N = 0, 1, ...)", where, text);
}

int device_count(DeviceType type) {
    if (type == DeviceType::cpu) return 1;
    const Backend* b = find_backend(type);
    return b == nullptr ? 0 : b->device_count();
}

void check_device(Device device, std::string_view where) {
    if (device.type == DeviceType::cpu) return;
    const Backend* b = find_backend(device.type);
    if (b == nullptr) {
        const std::string& why = load_cuda_backend();
        check(why != "not built",
              "{}: {} is not available: this build of gradstack has no CUDA backend (configure "
              "with -DGRADSTACK_CUDA=ON where the CUDA toolkit is installed)",
              where, device);
        fail("{}: {} is not available: the CUDA backend {}", where, device, why);
    }
    const int n = b->device_count();
    check(n > 0, "{}: {} is not available: no {} device: {}", where, device, b->name,
          b->why_no_device());
    check(device.index < n, "{}: {} is not available: this machine has {} {} device{} (cuda:0{})",
          where, device, n, b->name, n == 1 ? "" : "s",
          n == 1 ? "" : fmt::format("..cuda:{}", n - 1));
}

std::string describe_device(Device device) {
    if (device.type == DeviceType::cpu) return "cpu";
    check_device(device, "[describe_device]");
    return fmt::format("{} ({})", device, find_backend(device.type)->describe(device.index));
}

void synchronize(Device device) {
    if (device.type == DeviceType::cpu) return;
    check_device(device, "[synchronize]");
    find_backend(device.type)->synchronize(device.index);
}

}  // namespace gradstack
