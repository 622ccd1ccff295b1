// Differentiable reductions over any set of dims (empty = all dims), with keepdim.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace gradstack {

using Dims = std::vector<int64_t>;

Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);

}  // namespace gradstack
