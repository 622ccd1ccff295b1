// A pre-LayerNorm transformer block, GPT-2's:  h = x + attn(ln_1(x));  y = h + mlp(ln_2(h)).
#pragma once

#include <memory>

#include "nn/layers/attention.h"
#include "nn/layers/layer_norm.h"
#include "nn/layers/mlp.h"

namespace gradstack::nn {

struct BlockConfig {
    int64_t n_embd = 0;
    int64_t n_head = 0;
    int64_t n_inner = 0;  // 0 means 4 * n_embd
    double layer_norm_epsilon = 1e-5;
    double attn_pdrop = 0.0;
    double resid_pdrop = 0.0;
    double init_std = 0.02;
    double proj_init_std = 0.02;
    DType dtype = DType::f32;
};

class Block : public Module {
public:
    explicit Block(BlockConfig config, Generator* gen = nullptr);
    // Same arguments and cache as CausalSelfAttention::forward.
    CausalSelfAttention::Output forward(const Tensor& x, const Tensor& attention_mask = Tensor(),
                                        const KVCache& past = KVCache());
    const BlockConfig& config() const { return config_; }

    std::shared_ptr<LayerNorm> ln_1, ln_2;
    std::shared_ptr<CausalSelfAttention> attn;
    std::shared_ptr<MLP> mlp;

private:
    BlockConfig config_;
};

}  // namespace gradstack::nn
