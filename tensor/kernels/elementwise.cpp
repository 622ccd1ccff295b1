// Device-independent checks and output allocation for the elementwise kernels (see header).
#include "tensor/kernels/elementwise.h"

namespace gradstack::kernels {

Tensor binary_output(const Tensor& a, const Tensor& b, std::string_view op) {
    check(a.dtype() == b.dtype(), "[{}] dtype mismatch: {} {} and {} {}", op, a.dtype(),
          shape_str(a.shape()), b.dtype(), shape_str(b.shape()));
    check(a.device() == b.device(), "[{}] device mismatch: {} and {}", op, a.device(), b.device());
    return empty(broadcast_shapes(a.shape(), b.shape(), op), a.dtype(), a.device());
}

Tensor comparison_output(const Tensor& a, const Tensor& b, std::string_view op) {
    check(a.dtype() == b.dtype(), "[{}] dtype mismatch: {} {} and {} {}", op, a.dtype(),
          shape_str(a.shape()), b.dtype(), shape_str(b.shape()));
    return empty(broadcast_shapes(a.shape(), b.shape(), op), DType::b8, a.device());
}

Tensor unary(const UnaryKernel& kernel, const Tensor& x) {
    Tensor y = empty(x.shape(), x.dtype(), x.device());
    kernel(y, x);
    return y;
}

Tensor binary(const BinaryKernel& kernel, const Tensor& a, const Tensor& b) {
    Tensor y = binary_output(a, b, kernel.name());
    kernel(y, a, b);
    return y;
}

}  // namespace gradstack::kernels
