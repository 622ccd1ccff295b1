// Differentiable views. The backward of a view hands the gradient back in the input's shape:
// permute back, reshape back, or (for slice/select) place it into zeros at the viewed positions.
// expand needs no code: its gradient has the expanded shape and the engine sums it back.
#include "autograd/ops/view.h"

#include "autograd/node.h"
#include "tensor/kernels/copy.h"
#include "tensor/view.h"

namespace gradstack {

namespace {

// g placed into zeros of `shape` through the same view that produced it: this is the backward
// of every "pick some elements" view (slice, select, as_strided-like).
template <class MakeView>
Tensor scatter_into_zeros(const Tensor& g, const Shape& shape, MakeView make_view) {
    Tensor z = zeros(shape, g.dtype(), g.device());
    kernels::copy_(make_view(z), g);
    return z;
}

}  // namespace

// view: same elements, new shape; the gradient is reshaped back.
const Op op_view{"view"};
Tensor view(const Tensor& x, const Shape& shape) {
    Shape s = views::infer_shape(shape, x.numel(), "view");
    auto v = views::try_view(x, s);
    check(v.has_value(),
          "[view] cannot view shape {} with strides {} as {} without a copy; use reshape",
          shape_str(x.shape()), shape_str(x.strides()), shape_str(s));
    Shape in = x.shape();
    return record(op_view, {x}, *v, [in](const Tensor& gy) { return grads{reshape(gy, in)}; });
}

Tensor reshape(const Tensor& x, const Shape& shape) {
    Shape s = views::infer_shape(shape, x.numel(), "reshape");
    if (views::try_view(x, s)) return view(x, s);
    return view(contiguous(x), s);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
    if (x.dim() == 0) return reshape(x, {1});
    int64_t a = normalize_dim(start_dim, x.dim(), "flatten");
    int64_t b = normalize_dim(end_dim, x.dim(), "flatten");
    check(a <= b, "[flatten] start_dim {} is after end_dim {}", start_dim, end_dim);
    Shape s(x.shape().begin(), x.shape().begin() + a);
    int64_t n = 1;
    for (int64_t d = a; d <= b; ++d) n *= x.shape()[d];
    s.push_back(n);
    s.insert(s.end(), x.shape().begin() + b + 1, x.shape().end());
    return reshape(x, s);
}

// permute: the gradient is permuted by the inverse permutation.
const Op op_permute{"permute"};
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
    Tensor y = views::permute(x, dims);
    std::vector<int64_t> inverse(dims.size());
    for (size_t i = 0; i < dims.size(); ++i)
        inverse[normalize_dim(dims[i], x.dim(), "permute")] = static_cast<int64_t>(i);
    return record(op_permute, {x}, y,
                  [inverse](const Tensor& gy) { return grads{permute(gy, inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
    std::vector<int64_t> dims(x.dim());
    for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
    if (x.dim() > 0)
        std::swap(dims[normalize_dim(dim0, x.dim(), "transpose")],
                  dims[normalize_dim(dim1, x.dim(), "transpose")]);
    return permute(x, dims);
}

// slice: the gradient lands in the sliced positions of a zero tensor.
const Op op_slice{"slice"};
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
    Tensor y = views::slice(x, dim, start, end, step);
    Shape in = x.shape();
    return record(op_slice, {x}, y, [in, dim, start, end, step](const Tensor& gy) {
        return grads{scatter_into_zeros(
            gy, in, [&](const Tensor& z) { return views::slice(z, dim, start, end, step); })};
    });
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
    int64_t d = normalize_dim(dim, x.dim(), "narrow");
    check(start >= 0 && length >= 0 && start + length <= x.shape()[d],
          "[narrow] start {} + length {} exceeds dim {} of size {}", start, length, d,
          x.shape()[d]);
    return slice(x, d, start, start + length);
}

// select: like slice, at one index with the dim removed.
const Op op_select{"select"};
Tensor select(const Tensor& x, int64_t dim, int64_t index) {
    Tensor y = views::select(x, dim, index);
    Shape in = x.shape();
    return record(op_select, {x}, y, [in, dim, index](const Tensor& gy) {
        return grads{scatter_into_zeros(
            gy, in, [&](const Tensor& z) { return views::select(z, dim, index); })};
    });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
    Shape s = x.shape();
    s.insert(s.begin() + normalize_dim(dim, x.dim() + 1, "unsqueeze"), 1);
    return view(x, s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
    int64_t d = normalize_dim(dim, x.dim(), "squeeze");
    check(x.shape()[d] == 1, "[squeeze] dim {} has size {}, not 1, in shape {}", dim, x.shape()[d],
          shape_str(x.shape()));
    Shape s = x.shape();
    s.erase(s.begin() + d);
    return view(x, s);
}

Tensor squeeze(const Tensor& x) {
    Shape s;
    for (int64_t v : x.shape())
        if (v != 1) s.push_back(v);
    return view(x, s);
}

// expand: a stride-0 view; the engine sums the gradient back to x's shape.
const Op op_expand{"expand"};
Tensor expand(const Tensor& x, const Shape& shape) {
    Tensor y = views::expand(x, shape);
    return record(op_expand, {x}, y, [](const Tensor& gy) { return grads{gy}; });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) { return expand(x, shape); }

// contiguous / clone: copies; the gradient passes through unchanged.
const Op op_contiguous{"contiguous"};
Tensor contiguous(const Tensor& x) {
    if (x.is_contiguous()) return x;
    return record(op_contiguous, {x}, kernels::clone(x),
                  [](const Tensor& gy) { return grads{gy}; });
}

const Op op_clone{"clone"};
Tensor clone(const Tensor& x) {
    return record(op_clone, {x}, kernels::clone(x), [](const Tensor& gy) { return grads{gy}; });
}

// to_dtype: the gradient is converted back to the input's dtype.
const Op op_to_dtype{"to_dtype"};
Tensor to_dtype(const Tensor& x, DType dtype) {
    if (x.dtype() == dtype) return x;
    Tensor y = kernels::to_dtype(x, dtype);
    if (!is_floating(dtype) || !is_floating(x.dtype())) return y;  // not differentiable
    DType in = x.dtype();
    return record(op_to_dtype, {x}, y,
                  [in](const Tensor& gy) { return grads{kernels::to_dtype(gy, in)}; });
}

// to_device: y = x on another device; dL/dx = dL/dy moved back.
const Op op_to_device{"to_device"};
Tensor to_device(const Tensor& x, Device device) {
    if (x.device() == device) return x;
    const Device from = x.device();
    return record(op_to_device, {x}, kernels::to_device(x, device),
                  [from](const Tensor& gy) { return grads{kernels::to_device(gy, from)}; });
}

}  // namespace gradstack
