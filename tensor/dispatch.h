// The kernel table. Every raw op (kernels::exp, kernels::matmul, ...) is a Dispatcher: a name plus
// one function pointer per device type. A backend fills its slot from the file that defines the
// kernel, with one line:
//
//     const bool exp_on_cpu = kernels::exp.set(DeviceType::cpu, &exp_cpu);
//
// and calling kernels::exp(x) runs the kernel for x's device, or throws "[exp] no kernel for cuda".
// There is no central enum of ops: a new op is a new Dispatcher.
//
// Two CPU kernel sets. Beside its fast CPU kernel (cpu/) a Dispatcher may hold a reference one
// (reference/: the formula as plain loops in float64, registered with set_reference), and one
// process-wide switch picks which runs: GRADSTACK_KERNELS=reference|fast (read once, on first
// use; unset means fast), `gradstack --kernels reference|fast`, or set_kernel_set /
// KernelSetGuard in code. Under `reference` an op with no reference kernel runs its fast one;
// that is only so for kernels that are plain loops already (tensor/README.md lists them).
// Read next: kernels/*.h, cpu/, reference/.
#pragma once

#include <atomic>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tensor/tensor.h"

namespace gradstack {

// --- which CPU kernel set runs.
enum class KernelSet : int { fast = 0, reference = 1 };

// "fast" / "reference".
const char* kernel_set_name(KernelSet set);
// "reference" -> KernelSet::reference, "fast" -> KernelSet::fast; anything else throws
// "<where>: 'x' is not a kernel set; use reference or fast" (where names the flag or variable).
KernelSet parse_kernel_set(std::string_view value, std::string_view where);

namespace detail {
// -1 until the first kernel_set() call reads GRADSTACK_KERNELS (or set_kernel_set runs).
inline constinit std::atomic<int> current_kernel_set{-1};
int read_kernel_set_from_env();  // dispatch.cpp; throws for a bad GRADSTACK_KERNELS
}  // namespace detail

// The kernel set CPU dispatch uses now. The first call reads GRADSTACK_KERNELS and throws
// gradstack::Error for a value other than reference or fast (every later call throws the same,
// until set_kernel_set decides).
inline KernelSet kernel_set() {
    int s = detail::current_kernel_set.load(std::memory_order_relaxed);
    if (s < 0) s = detail::read_kernel_set_from_env();
    return static_cast<KernelSet>(s);
}
// Chooses the kernel set for the whole process (GRADSTACK_KERNELS is then no longer read).
void set_kernel_set(KernelSet set);

// Runs a scope on one kernel set and restores the previous choice when it ends (tests).
class KernelSetGuard {
public:
    explicit KernelSetGuard(KernelSet set);
    ~KernelSetGuard();
    KernelSetGuard(const KernelSetGuard&) = delete;
    KernelSetGuard& operator=(const KernelSetGuard&) = delete;

private:
    int previous_;
};

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
    // Installs the CPU reference kernel (reference/*.cpp), run instead of the CPU kernel when
    // kernel_set() is KernelSet::reference. Returns true, for namespace-scope registration.
    bool set_reference(Fn fn) {
        reference_ = fn;
        return true;
    }

    bool has(DeviceType type) const { return table_[static_cast<int>(type)] != nullptr; }
    bool has_reference() const { return reference_ != nullptr; }
    const char* name() const { return name_; }

    R operator()(First first, Rest... rest) const {
        Device device = dispatch_device(first);
        Fn fn = table_[static_cast<int>(device.type)];
        if (device.type == DeviceType::cpu && reference_ != nullptr &&
            kernel_set() == KernelSet::reference)
            fn = reference_;
        if (fn == nullptr) fail("[{}] no kernel for {}", name_, device);
        return fn(std::forward<First>(first), std::forward<Rest>(rest)...);
    }

private:
    const char* name_;
    Fn table_[kNumDeviceTypes] = {};
    Fn reference_ = nullptr;  // CPU only
};

}  // namespace gradstack
