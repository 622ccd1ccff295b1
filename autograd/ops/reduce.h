// Differentiable reductions over any set of dims (empty = all dims), with keepdim: the reduced
// dims are kept with size 1 when keepdim is true, else removed. Dims may be negative (count from
// the end); a dim out of range or named twice throws gradstack::Error. A 0-d tensor reduces over
// "dim 0 or -1" to itself. Also the index reductions (argmax/argmin), cumsum, and all/any.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace gradstack {

using Dims = std::vector<int64_t>;

// float32/float64/int64. Over no elements the sum is 0 (and the mean 0/0 = NaN).
Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);  // floats only

// The largest / smallest value (float32/float64/int64; NaN propagates, like torch.amax). The
// gradient is spread evenly over every position equal to the extreme, so ties share it. Throws
// when a reduced dim has size 0: "[max] cannot reduce over dim 1 of size 0 in shape (3, 0) ...".
Tensor max(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, const Dims& dims = {}, bool keepdim = false);

// int64 index of the first largest / smallest value along dim (NaN counts as both). No gradient.
// Throws for a size-0 dim. The overloads without dim index the flattened tensor and return a 0-d
// tensor: x.flatten()[argmax(x)] == max(x).
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x);
Tensor argmin(const Tensor& x);

// Variance sum((x - mean)^2) / (N - correction) over dims, N the number of reduced elements
// (correction 1: the unbiased estimate, torch's default; 0: the population variance). Two passes
// (mean, then squared deviations), so a large common offset does not cancel digits. N <=
// correction divides by zero (inf or NaN), like torch. stddev = sqrt(var). Floats only.
Tensor var(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor stddev(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);

// log(sum(exp(x))) over dims, computed as m + log(sum(exp(x - m))) with m the max, so it never
// overflows; -inf over no elements. The gradient is softmax(x) over the dims times gy.
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);

// Running sum along dim (same shape as x). float32/float64 (differentiable: the gradient is the
// reverse running sum of gy), int64, and bool, which counts into int64:
// position ids = cumsum(mask, -1) - 1.
Tensor cumsum(const Tensor& x, int64_t dim);

// Whether every / some element of a bool tensor is true over dims. Empty: true / false.
Tensor all(const Tensor& b, const Dims& dims = {}, bool keepdim = false);
Tensor any(const Tensor& b, const Dims& dims = {}, bool keepdim = false);

}  // namespace gradstack
