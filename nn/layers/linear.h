// Linear: y = x W^T + b, PyTorch's layout (weight [out, in]). The smallest layer: read it first.
#pragma once

#include "nn/layers/unary_module.h"
#include "tensor/random.h"

namespace gradstack::nn {

struct LinearConfig {
    int64_t in_features = 0;
    int64_t out_features = 0;
    bool bias = true;
    DType dtype = DType::f32;
};

class Linear : public UnaryModule {
public:
    // Weights from U(-1/sqrt(in), 1/sqrt(in)) like torch.nn.Linear; bias the same.
    explicit Linear(LinearConfig config, Generator* gen = nullptr);
    Tensor forward(const Tensor& x) override;  // (..., in) -> (..., out)
    const LinearConfig& config() const { return config_; }

    Tensor weight;  // (out, in)
    Tensor bias;    // (out,), undefined when config.bias is false

private:
    LinearConfig config_;
};

}  // namespace gradstack::nn
