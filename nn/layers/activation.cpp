// GELU, ReLU, Dropout modules (see activation.h): each forwards to its differentiable op.
#include "nn/layers/activation.h"

#include "autograd/ops.h"
#include "autograd/ops/nn.h"

namespace gradstack::nn {

Tensor GELU::forward(const Tensor& x) { return gelu(x); }
Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Dropout::Dropout(double p, Generator* gen) : p_(p), gen_(gen) {
    check(p >= 0 && p < 1, "[Dropout] p must be in [0, 1), got {}", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p_, is_training(), gen_); }

}  // namespace gradstack::nn
