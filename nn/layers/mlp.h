// GPT-2's feed-forward block: c_fc (C -> n_inner), gelu_new, c_proj (n_inner -> C), dropout.
#pragma once

#include <memory>

#include "nn/layers/activation.h"
#include "nn/layers/conv1d.h"

namespace gradstack::nn {

struct MLPConfig {
    int64_t n_embd = 0;
    int64_t n_inner = 0;  // 4 * n_embd in GPT-2
    double resid_pdrop = 0.0;
    double init_std = 0.02;
    double proj_init_std = 0.02;
    DType dtype = DType::f32;
};

class MLP : public UnaryModule {
public:
    explicit MLP(MLPConfig config, Generator* gen = nullptr);
    Tensor forward(const Tensor& x) override;  // (..., C) -> (..., C)
    const MLPConfig& config() const { return config_; }

    std::shared_ptr<Conv1D> c_fc, c_proj;

private:
    MLPConfig config_;
    std::shared_ptr<Dropout> dropout_;
};

}  // namespace gradstack::nn
