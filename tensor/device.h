// Where a tensor's memory lives. A Device is a plain value on the tensor; kernels are looked up by
// (op, device type) in dispatch.h, so adding a backend never touches op code.
// Read next: storage.h.
#pragma once

#include <fmt/format.h>

#include <cstdint>

namespace gradstack {

enum class DeviceType : uint8_t { cpu, cuda };
constexpr int kNumDeviceTypes = 2;

struct Device {
    DeviceType type = DeviceType::cpu;
    int index = 0;

    static constexpr Device cpu() { return {DeviceType::cpu, 0}; }
    static constexpr Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
    bool operator==(const Device&) const = default;
};

}  // namespace gradstack

template <>
struct fmt::formatter<gradstack::Device> : fmt::formatter<std::string_view> {
    auto format(gradstack::Device d, format_context& ctx) const {
        if (d.type == gradstack::DeviceType::cpu) return fmt::format_to(ctx.out(), "cpu");
        return fmt::format_to(ctx.out(), "cuda:{}", d.index);
    }
};
