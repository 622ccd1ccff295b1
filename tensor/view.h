// Views: new shape/strides/offset over the same Storage, no data copied. These are the raw
// (non-differentiable) versions; autograd/ops/view.h wraps each with its backward. A write through
// a view is seen by every other view of the storage.
// Read next: random.h, kernels/.
#pragma once

#include <optional>

#include "tensor/tensor.h"

namespace gradstack::views {

// The general view; every other view is built from it. Checks the view stays inside storage.
Tensor as_strided(const Tensor& t, Shape shape, Shape strides, int64_t offset);

// dims is a permutation of 0..dim-1 (negatives allowed): out.shape[i] = t.shape[dims[i]].
Tensor permute(const Tensor& t, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1);
// Elements start, start+step, ... < end along dim. Negative start/end count from the end and are
// clamped like Python slices; step >= 1.
Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
// Removes dim, keeping index `index` (negative counts from the end).
Tensor select(const Tensor& t, int64_t dim, int64_t index);
Tensor unsqueeze(const Tensor& t, int64_t dim);
// Removes dim, which must have size 1.
Tensor squeeze(const Tensor& t, int64_t dim);
// Removes every size-1 dim.
Tensor squeeze(const Tensor& t);
// Broadcasts to `shape` (NumPy rules; -1 keeps a size) with stride 0 on the new dims.
Tensor expand(const Tensor& t, const Shape& shape);

// Resolves one -1 in `shape` against numel and checks the count: "[reshape] (2, 3) -> (4,)".
Shape infer_shape(const Shape& shape, int64_t numel, std::string_view op);
// The view with `shape` if t's strides allow one without copying (PyTorch's `view` rule), else
// nullopt. `shape` must already be inferred.
std::optional<Tensor> try_view(const Tensor& t, const Shape& shape);

}  // namespace gradstack::views
