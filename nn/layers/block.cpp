// Block (see block.h). Submodule names match Hugging Face's GPT2Block: ln_1, attn, ln_2, mlp.
#include "nn/layers/block.h"

#include "autograd/ops.h"

namespace gradstack::nn {

Block::Block(BlockConfig c, Generator* gen) : config_(c) {
    int64_t inner = c.n_inner > 0 ? c.n_inner : 4 * c.n_embd;
    ln_1 = register_module("ln_1", std::make_shared<LayerNorm>(LayerNormConfig{c.n_embd, c.layer_norm_epsilon, c.dtype}));
    attn = register_module("attn", std::make_shared<CausalSelfAttention>(
        AttentionConfig{c.n_embd, c.n_head, c.attn_pdrop, c.resid_pdrop, c.init_std, c.proj_init_std, c.dtype}, gen));
    ln_2 = register_module("ln_2", std::make_shared<LayerNorm>(LayerNormConfig{c.n_embd, c.layer_norm_epsilon, c.dtype}));
    mlp = register_module("mlp", std::make_shared<MLP>(
        MLPConfig{c.n_embd, inner, c.resid_pdrop, c.init_std, c.proj_init_std, c.dtype}, gen));
}

CausalSelfAttention::Output Block::forward(const Tensor& x, const Tensor& attention_mask,
                                           const KVCache& past) {
    auto a = attn->forward(ln_1->forward(x), attention_mask, past);
    Tensor h = x + a.y;
    Tensor y = h + mlp->forward(ln_2->forward(h));
    return {y, a.present};
}

}  // namespace gradstack::nn
