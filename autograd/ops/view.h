// Differentiable views and layout ops. Views share storage with their input (no copy); their
// backward maps the gradient back to the input's layout. reshape copies only when the strides
// force it (then it is contiguous(x) followed by a view).
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace gradstack {

// `shape` may hold one -1. view() throws when strides do not allow a view; reshape() copies then.
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// Python's x[start:end:step] along dim (negative indices count from the end; clamped).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a size
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// x itself when already C-order, else a copy; the gradient passes through.
Tensor contiguous(const Tensor& x);
// Always a fresh copy (gradient passes through).
Tensor clone(const Tensor& x);
// Converted to dtype (float <-> float is differentiable: the gradient is converted back).
Tensor to_dtype(const Tensor& x, DType dtype);
// A copy on `device` (x itself when already there); the gradient is moved back to x's device.
Tensor to_device(const Tensor& x, Device device);

}  // namespace gradstack
