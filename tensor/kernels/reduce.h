// Raw reduction kernels. A reduction over `dims` writes into `out` whose shape is x's shape with
// the reduced dims set to 1 (keepdim form); the differentiable op squeezes them when asked.
// Read next: cpu/reduce.cpp, autograd/ops/reduce.cpp.
#pragma once

#include <vector>

#include "tensor/dispatch.h"

namespace gradstack::kernels {

using ReduceKernel =
    Dispatcher<void(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims)>;

// out = sum of x over dims (sorted, normalised). Floats accumulate in double.
inline constinit ReduceKernel sum{"sum"};

// x's shape with `dims` (sorted, normalised) set to 1.
Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims);

// sum over dims into a fresh keepdim-shaped tensor.
Tensor sum_keepdim(const Tensor& x, const std::vector<int64_t>& dims);

// Sums a gradient of a broadcast result back to `shape` (undoes NumPy broadcasting): leading extra
// dims and dims where shape has 1 are summed. The autograd engine calls this once per input.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace gradstack::kernels
