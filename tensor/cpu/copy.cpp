// CPU fill and copy kernels: one `map` each, with dtype conversion on copy.
#include "tensor/cpu/loops.h"
#include "tensor/kernels/copy.h"

namespace gradstack::cpu {
namespace {

void fill_cpu(const Tensor& dst, double value) {
    visit_dtype(dst.dtype(), [&]<class T>() {
        const T v = static_cast<T>(value);
        map<T>(dst, [v]() { return v; });
    });
}

void copy_cpu(const Tensor& dst, const Tensor& src) {
    visit_dtype(dst.dtype(), [&]<class D>() {
        visit_dtype(src.dtype(), [&]<class S>() {
            map<D, S>(dst, [](S v) { return static_cast<D>(v); }, src);
        });
    });
}

}  // namespace

const bool fill_on_cpu = kernels::fill.set(DeviceType::cpu, &fill_cpu);
const bool copy_on_cpu = kernels::copy.set(DeviceType::cpu, &copy_cpu);

}  // namespace gradstack::cpu
