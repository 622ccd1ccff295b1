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
    return layer_norm(x, weight, bias, config_.eps);
}

}  // namespace gradstack::nn
