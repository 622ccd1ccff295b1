// Embedding: a lookup table, ids (int64, any shape) -> rows of weight [num, dim].
#pragma once

#include "nn/module.h"
#include "tensor/random.h"

namespace gradstack::nn {

struct EmbeddingConfig {
    int64_t num_embeddings = 0;
    int64_t embedding_dim = 0;
    double init_std = 0.02;  // GPT-2's; torch.nn.Embedding uses 1
    DType dtype = DType::f32;
};

class Embedding : public Module {
public:
    explicit Embedding(EmbeddingConfig config, Generator* gen = nullptr);
    // (...) int64 -> (..., dim); an id outside [0, num) throws naming it.
    Tensor forward(const Tensor& ids);
    Tensor operator()(const Tensor& ids) { return forward(ids); }
    const EmbeddingConfig& config() const { return config_; }

    Tensor weight;  // (num, dim)

private:
    EmbeddingConfig config_;
};

}  // namespace gradstack::nn
