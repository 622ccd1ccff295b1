// Differentiable reductions. Each reduces into the keepdim shape, so the backward can broadcast
// the gradient straight back over the reduced dims; `finish` drops those dims afterwards unless
// keepdim. max/min, logsumexp and cumsum have kernels of their own; mean, var and stddev are
// composed from sum and elementwise ops, which gives them their gradients.
#include "autograd/ops/reduce.h"

#include <algorithm>

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/view.h"
#include "tensor/kernels/reduce.h"

namespace gradstack {

namespace {

// The dims to reduce, normalised and sorted (empty = all). A 0-d tensor accepts dim 0 or -1 like
// PyTorch, but has no dim to reduce, so the list comes back empty.
Dims reduce_dims(const Tensor& x, const Dims& dims, const char* op) {
    Dims d = normalize_dims(dims, x.dim(), op);
    if (x.dim() == 0) d.clear();
    return d;
}

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

int64_t reduced_count(const Tensor& x, const Dims& dims) {
    int64_t n = 1;
    for (int64_t k : dims) n *= x.shape()[k];
    return n;
}

}  // namespace

// y = sum x over dims; dy/dx = 1, so the gradient is gy broadcast back to x's shape.
const Op op_sum{"sum"};
Tensor sum(const Tensor& x, const Dims& dims, bool keepdim) {
    Dims d = reduce_dims(x, dims, "sum");
    Tensor y = kernels::sum_keepdim(x, d);
    Shape in = x.shape();
    y = record(op_sum, {x}, y, [in](const Tensor& gy) { return grads{expand(gy, in)}; });
    return finish(y, d, keepdim);
}

Tensor mean(const Tensor& x, const Dims& dims, bool keepdim) {
    Dims d = reduce_dims(x, dims, "mean");
    check(is_floating(x.dtype()), "[mean] needs a float tensor, got {}", x.dtype());
    return sum(x, d, keepdim) / static_cast<double>(reduced_count(x, d));
}

namespace {
// The backward of max and min (PyTorch's amax rule): the gradient of each output is split evenly
// between the k positions of its block that equal it, gx = [x == y] * gy / k. With one extreme
// (the usual case) it all goes to the argmax; with ties the split matches the mean of the one-sided
// derivatives for two ties, which is what a central difference measures.
BackwardFn extreme_backward(const Tensor& x, const Tensor& y, const Dims& dims) {
    return [x, y, dims](const Tensor& gy) {
        Tensor hit = to_dtype(eq(x, y), gy.dtype());  // 1 where x is the extreme of its block
        Tensor count = sum(hit, dims, true);          // k per block, >= 1 (keepdim shape)
        return grads{hit * (gy / count)};
    };
}
}  // namespace

// y = max x over dims; dy/dx = 1/k at the k positions equal to y, else 0.
const Op op_max{"max"};
Tensor max(const Tensor& x, const Dims& dims, bool keepdim) {
    Dims d = reduce_dims(x, dims, "max");
    Tensor y = kernels::reduce_keepdim(kernels::amax, x, d);
    y = record(op_max, {x}, y, extreme_backward(x, y, d));
    return finish(y, d, keepdim);
}

// y = min x over dims; dy/dx = 1/k at the k positions equal to y, else 0.
const Op op_min{"min"};
Tensor min(const Tensor& x, const Dims& dims, bool keepdim) {
    Dims d = reduce_dims(x, dims, "min");
    Tensor y = kernels::reduce_keepdim(kernels::amin, x, d);
    y = record(op_min, {x}, y, extreme_backward(x, y, d));
    return finish(y, d, keepdim);
}

namespace {
Tensor arg_extreme(const kernels::DimKernel& kernel, const Tensor& x, int64_t dim, bool keepdim) {
    int64_t d = normalize_dim(dim, x.dim(), kernel.name());
    if (x.dim() == 0) return zeros({}, DType::i64, x.device());  // the only index is 0
    Tensor y = empty(kernels::reduced_shape(x.shape(), {d}), DType::i64, x.device());
    kernel(y, x, d);
    return finish(y, {d}, keepdim);
}
}  // namespace

// Index ops have no gradient (piecewise constant), so they record nothing.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
    return arg_extreme(kernels::argmax, x, dim, keepdim);
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
    return arg_extreme(kernels::argmin, x, dim, keepdim);
}
Tensor argmax(const Tensor& x) {
    return arg_extreme(kernels::argmax, reshape(x.detach(), {-1}), 0, false);
}
Tensor argmin(const Tensor& x) {
    return arg_extreme(kernels::argmin, reshape(x.detach(), {-1}), 0, false);
}

// var = sum((x - mean)^2) / (N - correction). Subtracting the mean first (two passes) keeps the
// squares small; the one-pass E[x^2] - E[x]^2 loses every digit when |mean| >> std. The gradient
// comes from the composition: 2 (x - mean) / (N - correction) (the path through mean adds
// sum(x - mean) = 0).
Tensor var(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
    check(is_floating(x.dtype()), "[var] needs a float tensor, got {}", x.dtype());
    check(correction >= 0, "[var] correction must be >= 0, got {}", correction);
    Dims d = reduce_dims(x, dims, "var");
    const int64_t n = reduced_count(x, d);
    Tensor dev = x - mean(x, d, true);
    return sum(dev * dev, d, keepdim) / static_cast<double>(std::max<int64_t>(n - correction, 0));
}

Tensor stddev(const Tensor& x, const Dims& dims, int64_t correction, bool keepdim) {
    return sqrt(var(x, dims, correction, keepdim));
}

// y = log sum exp(x) over dims (the kernel subtracts the max first);
// dy/dx = exp(x) / sum exp(x) = exp(x - y), the softmax of x over the dims.
const Op op_logsumexp{"logsumexp"};
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim) {
    Dims d = reduce_dims(x, dims, "logsumexp");
    Tensor y = kernels::reduce_keepdim(kernels::logsumexp, x, d);
    y = record(op_logsumexp, {x}, y, [x, y](const Tensor& gy) { return grads{gy * exp(x - y)}; });
    return finish(y, d, keepdim);
}

namespace {
// y_i = sum_{j <= i} x_j (or j >= i when reverse). Each x_j feeds every y_i with i >= j, so
// dL/dx_j = sum_{i >= j} gy_i: the running sum of gy in the other direction.
const Op op_cumsum{"cumsum"};
Tensor running_sum(const Tensor& x, int64_t dim, bool reverse) {
    int64_t d = normalize_dim(dim, x.dim(), "cumsum");
    if (x.dim() == 0) return reshape(running_sum(reshape(x, {1}), 0, reverse), {});
    Tensor y = empty(x.shape(), x.dtype() == DType::b8 ? DType::i64 : x.dtype(), x.device());
    kernels::cumsum(y, x, d, reverse);
    if (!is_floating(x.dtype())) return y;  // integer counts: no gradient
    return record(op_cumsum, {x}, y,
                  [d, reverse](const Tensor& gy) { return grads{running_sum(gy, d, !reverse)}; });
}
}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) {
    return running_sum(x, dim, false);
}

namespace {
Tensor bool_reduce(const kernels::ReduceKernel& kernel, const Tensor& b, const Dims& dims,
                   bool keepdim) {
    check(b.dtype() == DType::b8, "[{}] expects a bool tensor, got {} {}; compare first (x != 0)",
          kernel.name(), b.dtype(), shape_str(b.shape()));
    Dims d = reduce_dims(b, dims, kernel.name());
    return finish(kernels::reduce_keepdim(kernel, b, d), d, keepdim);
}
}  // namespace

Tensor all(const Tensor& b, const Dims& dims, bool keepdim) {
    return bool_reduce(kernels::all, b, dims, keepdim);
}
Tensor any(const Tensor& b, const Dims& dims, bool keepdim) {
    return bool_reduce(kernels::any, b, dims, keepdim);
}

}  // namespace gradstack
