// LayerNorm over the last dim: y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased
// variance (PyTorch, Hugging Face). The maths is one fused op, autograd/ops/nn.h layer_norm.
#pragma once

#include "nn/layers/unary_module.h"

namespace gradstack::nn {

struct LayerNormConfig {
    int64_t dim = 0;
    double eps = 1e-5;
    DType dtype = DType::f32;
};

class LayerNorm : public UnaryModule {
public:
    explicit LayerNorm(LayerNormConfig config);
    Tensor forward(const Tensor& x) override;  // (..., dim) -> (..., dim)
    const LayerNormConfig& config() const { return config_; }

    Tensor weight;  // (dim,), ones
    Tensor bias;    // (dim,), zeros

private:
    LayerNormConfig config_;
};

}  // namespace gradstack::nn
