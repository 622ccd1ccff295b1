// Differentiable reductions. Each reduces into the keepdim shape, so the backward can broadcast
// the gradient straight back over the reduced dims.
#include "autograd/ops/reduce.h"

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/view.h"
#include "tensor/kernels/reduce.h"

namespace gradstack {

namespace {
// Drops the reduced (size-1) dims unless keepdim.
Tensor finish(const Tensor& y, const Dims& dims, bool keepdim) {
    if (keepdim) return y;
    Shape s;
    for (int64_t d = 0, k = 0; d < y.dim(); ++d) {
        if (k < static_cast<int64_t>(dims.size()) && dims[k] == d) {
            ++k;
            continue;
        }
        s.push_back(y.shape()[d]);
    }
    return reshape(y, s);
}
}  // namespace

// y = sum x over dims; dy/dx = 1, so the gradient is gy broadcast back to x's shape.
const Op op_sum{"sum"};
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
    Dims d = normalize_dims(dims, x.dim(), "sum");
    Tensor y = kernels::sum_keepdim(x, d);
    Shape in = x.shape();
    y = record(op_sum, {x}, y, [in](const Tensor& gy) { return grads{expand(gy, in)}; });
    return finish(y, d, keepdim);
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
    Dims d = normalize_dims(dims, x.dim(), "mean");
    check(is_floating(x.dtype()), "[mean] needs a float tensor, got {}", x.dtype());
    int64_t n = 1;
    for (int64_t k : d) n *= x.shape()[k];
    return sum(x, d, keepdim) / static_cast<double>(n);
}

}  // namespace gradstack
