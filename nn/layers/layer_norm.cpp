// LayerNorm (see layer_norm.h).
#include "nn/layers/layer_norm.h"

#include "autograd/ops.h"
#include "autograd/ops/nn.h"

namespace gradstack::nn {

LayerNorm::LayerNorm(LayerNormConfig c) : config_(c) {
    check(c.dim > 0 && c.eps >= 0, "[LayerNorm] needs dim > 0 and eps >= 0, got {} and {}", c.dim, c.eps);
    weight = register_parameter("weight", ones({c.dim}, c.dtype));
    bias = register_parameter("bias", zeros({c.dim}, c.dtype));
}

Tensor LayerNorm::forward(const Tensor& x) {
    check(x.dim() >= 1 && x.size(-1) == config_.dim, "[LayerNorm] expects last dim {}, got shape {}",
          config_.dim, shape_str(x.shape()));
    // Over the last dim (C = config_.dim), for each row x of C values:
    //   mean = (1/C) sum_c x_c,   var = (1/C) sum_c (x_c - mean)^2   (biased, as PyTorch)
    //   y_c  = (x_c - mean) / sqrt(var + eps) * weight_c + bias_c
    // one fused op (autograd/ops/nn.h) whose backward uses the saved mean and 1 / sqrt(var + eps).
    // Its kernels: tensor/cpu/layer_norm.cpp (fast: vectorised row passes) and
    // tensor/reference/layer_norm.cpp (the formulas as plain float64 loops, with the backward's
    // derivation; GRADSTACK_KERNELS=reference runs it).
    return layer_norm(x, weight, bias, config_.eps);
}

}  // namespace gradstack::nn
