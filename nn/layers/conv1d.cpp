// Conv1D (see conv1d.h): y = x @ W + b with W [in, out].
#include "nn/layers/conv1d.h"

#include "autograd/ops.h"
#include "autograd/ops/linalg.h"
#include "nn/init.h"

namespace gradstack::nn {

Conv1D::Conv1D(Conv1DConfig c, Generator* gen) : config_(c) {
    check(c.in_features > 0 && c.out_features > 0, "[Conv1D] sizes must be positive, got {} -> {}",
          c.in_features, c.out_features);
    weight = register_parameter("weight", init::normal_weight({c.in_features, c.out_features}, c.dtype,
                                                              c.init_std, gen));
    bias = register_parameter("bias", zeros({c.out_features}, c.dtype));
}

// linear() takes weight as [out, in]; the transpose is a free view of our [in, out] storage.
Tensor Conv1D::forward(const Tensor& x) { return linear(x, transpose(weight, 0, 1), bias); }

}  // namespace gradstack::nn
