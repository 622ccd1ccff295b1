// The process-wide kernel-set switch of dispatch.h: GRADSTACK_KERNELS, read once, and its setter.
// Read next: reference/README section of tensor/README.md, reference/*.cpp.
#include "tensor/dispatch.h"

#include <cstdlib>

namespace gradstack {

const char* kernel_set_name(KernelSet set) {
    return set == KernelSet::reference ? "reference" : "fast";
}

KernelSet parse_kernel_set(std::string_view value, std::string_view where) {
    if (value == "reference") return KernelSet::reference;
    if (value == "fast") return KernelSet::fast;
    fail("{}: '{}' is not a kernel set; use reference (plain float64 loops, tensor/reference/) or "
         "fast (the optimised kernels, tensor/cpu/)",
         where, value);
}

namespace detail {
int read_kernel_set_from_env() {
    const char* v = std::getenv("GRADSTACK_KERNELS");
    const KernelSet set =
        v == nullptr || *v == '\0' ? KernelSet::fast : parse_kernel_set(v, "GRADSTACK_KERNELS");
    // A set_kernel_set that ran meanwhile wins.
    int expected = -1;
    current_kernel_set.compare_exchange_strong(expected, static_cast<int>(set));
    return current_kernel_set.load();
}
}  // namespace detail

void set_kernel_set(KernelSet set) {
    detail::current_kernel_set.store(static_cast<int>(set));
}

KernelSetGuard::KernelSetGuard(KernelSet set) : previous_(detail::current_kernel_set.load()) {
    set_kernel_set(set);
}

KernelSetGuard::~KernelSetGuard() {
    detail::current_kernel_set.store(previous_);
}

}  // namespace gradstack
