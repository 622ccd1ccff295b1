// The kernel table. Every raw op (kernels::exp, kernels::matmul, ...) is a Dispatcher: a name plus
// one function pointer per device type. A backend fills its slot from the file that defines the
// kernel, with one line:
//
//     const bool exp_on_cpu = kernels::exp.set(DeviceType::cpu, &exp_cpu);
//
// and calling kernels::exp(x) runs the kernel for x's device, or throws "[exp] no kernel for cuda".
// There is no central enum of ops: a new op is a new Dispatcher. Read next: kernels/*.h, cpu/.
#pragma once

#include <span>
#include <type_traits>
#include <vector>

#include "tensor/tensor.h"

namespace gradstack {

// The device an argument lives on, for dispatch: the first tensor argument decides.
inline Device dispatch_device(const Tensor& t) { return t.device(); }
inline Device dispatch_device(const std::vector<Tensor>& ts) {
    check(!ts.empty(), "[dispatch] empty tensor list");
    return ts.front().device();
}

template <class Signature>
class Dispatcher;

template <class R, class First, class... Rest>
class Dispatcher<R(First, Rest...)> {
public:
    using Fn = R (*)(First, Rest...);

    // constexpr so that every Dispatcher is built before any registration runs (constant
    // initialisation happens before dynamic initialisation, across all translation units).
    constexpr explicit Dispatcher(const char* name) : name_(name) {}

    // Installs the kernel for a device type. Returns true, for namespace-scope registration.
    bool set(DeviceType type, Fn fn) {
        table_[static_cast<int>(type)] = fn;
        return true;
    }

    bool has(DeviceType type) const { return table_[static_cast<int>(type)] != nullptr; }
    const char* name() const { return name_; }

    R operator()(First first, Rest... rest) const {
        Device device = dispatch_device(first);
        Fn fn = table_[static_cast<int>(device.type)];
        if (fn == nullptr) fail("[{}] no kernel for {}", name_, device);
        return fn(std::forward<First>(first), std::forward<Rest>(rest)...);
    }

private:
    const char* name_;
    Fn table_[kNumDeviceTypes] = {};
};

}  // namespace gradstack
