// Raw reduction kernels. A reduction over `dims` writes into `out` whose shape is x's shape with
// the reduced dims set to 1 (keepdim form); the differentiable op squeezes them when asked.
// Kernels along one dim (argmax, cumsum) take that dim instead of a list.
// Read next: cpu/reduce.cpp (reference/reduce.cpp: its plain twin), autograd/ops/reduce.cpp.
#pragma once

#include <vector>

#include "tensor/dispatch.h"

namespace gradstack::kernels {

using ReduceKernel =
    Dispatcher<void(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims)>;
using DimKernel = Dispatcher<void(const Tensor& out, const Tensor& x, int64_t dim)>;

// Every ReduceKernel takes `dims` sorted and normalised (shape.h normalize_dims), and `out` of
// shape reduced_shape(x.shape(), dims).

// out = sum of x over dims (float32, float64, int64). Floats accumulate in double. Empty: 0.
inline constinit ReduceKernel sum{"sum"};
// out = max / min of x over dims (float32, float64, int64); NaN wins, like torch.amax. Throws
// check_nonempty's error when a reduced dim has size 0.
inline constinit ReduceKernel amax{"max"};
inline constinit ReduceKernel amin{"min"};
// out = log(sum(exp(x))) over dims, as m + log(sum(exp(x - m))) with m the max, so nothing
// overflows (float32, float64). Over no elements it is log(0) = -inf.
inline constinit ReduceKernel logsumexp{"logsumexp"};
// out (bool) = every / some element of the bool tensor x over dims. Empty: true / false.
inline constinit ReduceKernel all{"all"};
inline constinit ReduceKernel any{"any"};

// out (int64, x's shape with dim set to 1) = index of the first max / min along dim (float32,
// float64, int64; NaN counts as the max and the min, like PyTorch). Throws for a size-0 dim.
inline constinit DimKernel argmax{"argmax"};
inline constinit DimKernel argmin{"argmin"};

// out (x's shape) = running sum along dim: out[..., i, ...] = sum_{j <= i} x[..., j, ...], or
// sum_{j >= i} when `reverse` (the backward of cumsum). float32/float64 accumulate in double;
// int64 stays int64; bool x counts into an int64 out. out's dtype is x's, or int64 for bool.
inline constinit Dispatcher<void(const Tensor& out, const Tensor& x, int64_t dim, bool reverse)>
    cumsum{"cumsum"};

// x's shape with `dims` (sorted, normalised) set to 1.
Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims);

// Throws "[max] cannot reduce over dim 1 of size 0 in shape (3, 0): ..." when one of `dims` is
// empty, for reductions that have no value over no elements.
void check_nonempty(const Shape& shape, const std::vector<int64_t>& dims, std::string_view op);

// kernel(x, dims) into a fresh keepdim-shaped tensor of x's dtype (bool for all/any).
Tensor reduce_keepdim(const ReduceKernel& kernel, const Tensor& x,
                      const std::vector<int64_t>& dims);
// sum over dims into a fresh keepdim-shaped tensor.
Tensor sum_keepdim(const Tensor& x, const std::vector<int64_t>& dims);

// Sums a gradient of a broadcast result back to `shape` (undoes NumPy broadcasting): leading extra
// dims and dims where shape has 1 are summed. The autograd engine calls this once per input.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace gradstack::kernels
