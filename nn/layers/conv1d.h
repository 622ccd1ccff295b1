// Conv1D: GPT-2's name for a linear layer stored the other way round: weight [in, out] and
// y = x W + b. Hugging Face keeps OpenAI's layout, so checkpoints load without a transpose.
#pragma once

#include "nn/layers/unary_module.h"
#include "tensor/random.h"

namespace gradstack::nn {

struct Conv1DConfig {
    int64_t in_features = 0;   // nx in Hugging Face
    int64_t out_features = 0;  // nf
    double init_std = 0.02;
    DType dtype = DType::f32;
};

class Conv1D : public UnaryModule {
public:
    // weight ~ N(0, init_std), bias zeros (GPT-2's initialisation).
    explicit Conv1D(Conv1DConfig config, Generator* gen = nullptr);
    Tensor forward(const Tensor& x) override;  // (..., in) -> (..., out)
    const Conv1DConfig& config() const { return config_; }

    Tensor weight;  // (in, out)
    Tensor bias;    // (out,)

private:
    Conv1DConfig config_;
};

}  // namespace gradstack::nn
