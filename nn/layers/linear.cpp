// Linear (see linear.h).
#include "nn/layers/linear.h"

#include <cmath>

#include "autograd/ops.h"
#include "autograd/ops/linalg.h"
#include "nn/init.h"

namespace gradstack::nn {

Linear::Linear(LinearConfig c, Generator* gen) : config_(c) {
    check(c.in_features > 0 && c.out_features > 0, "[Linear] sizes must be positive, got {} -> {}",
          c.in_features, c.out_features);
    double bound = 1.0 / std::sqrt(static_cast<double>(c.in_features));
    weight = register_parameter("weight", uniform({c.out_features, c.in_features}, -bound, bound, c.dtype, gen));
    if (c.bias) bias = register_parameter("bias", uniform({c.out_features}, -bound, bound, c.dtype, gen));
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

}  // namespace gradstack::nn
