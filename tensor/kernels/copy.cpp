// Device-independent wrappers of the copy kernels (see copy.h).
#include "tensor/kernels/copy.h"

#include "tensor/backend.h"

namespace gradstack::kernels {

void fill_(const Tensor& dst, double value) {
    fill(dst, value);
    dst.storage()->bump_version();
}

void copy_(const Tensor& dst, const Tensor& src) {
    Shape b = broadcast_shapes(dst.shape(), src.shape(), "copy_");
    check(b == dst.shape(), "[copy_] source of shape {} does not broadcast to destination {}",
          shape_str(src.shape()), shape_str(dst.shape()));
    if (dst.device() == src.device()) {
        copy(dst, src);
    } else {
        // Between devices: the backend of the side that is not the CPU moves the data.
        const Device other = dst.device().type != DeviceType::cpu ? dst.device() : src.device();
        check_device(other, "[copy_]");
        find_backend(other.type)->transfer(dst, src);
    }
    dst.storage()->bump_version();
}

Tensor clone(const Tensor& t) {
    Tensor out = empty(t.shape(), t.dtype(), t.device());
    copy(out, t);
    return out;
}

Tensor contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone(t); }

Tensor to_device(const Tensor& t, Device device) {
    if (t.device() == device) return t;
    Tensor out = empty(t.shape(), t.dtype(), device);
    copy_(out, t);
    return out;
}

Tensor to_dtype(const Tensor& t, DType dtype) {
    if (t.dtype() == dtype) return t;
    Tensor out = empty(t.shape(), dtype, t.device());
    copy(out, t);
    return out;
}

}  // namespace gradstack::kernels
