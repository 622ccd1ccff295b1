// The VAE's encoder: GPT-2's architecture (token and position embeddings, pre-LayerNorm blocks,
// ln_f) with every position attending to every other real position, i.e. without the causal
// mask, then masked mean pooling over the real tokens. Its parameters carry GPT-2's names under
// "transformer.", so a GPT-2 checkpoint initialises it (its first n_layer blocks).
// Read next: decoder.h.
#pragma once

#include <memory>

#include "gpt/model.h"

namespace gradstack::vae {

// Multi-head attention without the causal mask, with the weights of a GPT-2 attention layer
// (c_attn, c_proj): s = q k^T / sqrt(hs) + additive_mask; y = c_proj(softmax(s) v). mask (B,1,1,T).
// A composition of autograd ops: sentences are short, so the (B, nh, T, T) scores are small.
Tensor bidirectional_attention(nn::CausalSelfAttention& attn, const Tensor& x,
                               const Tensor& additive_mask);

// mean over the positions where mask is 1: (B, T, C), (B, T) 0/1 -> (B, C). Throws for a row
// with no real position.
Tensor masked_mean_pool(const Tensor& h, const Tensor& mask);

class TextEncoder : public nn::Module {
public:
    // config: the sizes (n_layer is the encoder's own depth). Dropout: embd_pdrop on the
    // embeddings, as GPT-2; the blocks run without dropout.
    explicit TextEncoder(const gpt::GPT2Config& config, Generator* gen = nullptr);

    // ids int64 (B, T), mask (B, T) 1 for tokens, 0 for padding -> hidden states (B, T, C)
    // after ln_f. Padded positions' states are computed but are not seen by real positions.
    Tensor forward(const Tensor& ids, const Tensor& mask);
    // forward, then masked_mean_pool: (B, C).
    Tensor encode(const Tensor& ids, const Tensor& mask);

    // Copies the tensors of a GPT-2 with the same sizes and at least as many layers (its first
    // n_layer blocks). Throws naming what does not fit.
    void load_from_gpt2(const gpt::GPT2LMHeadModel& gpt2);

    const gpt::GPT2Config& config() const { return config_; }
    std::shared_ptr<gpt::GPT2Model> transformer;

private:
    gpt::GPT2Config config_;
};

}  // namespace gradstack::vae
