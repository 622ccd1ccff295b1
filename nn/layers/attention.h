// Causal multi-head self-attention, GPT-2 style: one fused projection c_attn makes q, k and v;
// heads attend only to earlier positions; c_proj mixes the heads back. Supports an attention mask
// for padded batches and a key/value cache for incremental decoding (both as Hugging Face does).
// Read next: mlp.h, block.h.
#pragma once

#include <memory>

#include "nn/layers/activation.h"
#include "nn/layers/conv1d.h"

namespace gradstack::nn {

struct AttentionConfig {
    int64_t n_embd = 0;
    int64_t n_head = 0;
    double attn_pdrop = 0.0;
    double resid_pdrop = 0.0;
    double init_std = 0.02;
    double proj_init_std = 0.02;  // GPT-2 scales c_proj by 1/sqrt(2 n_layer)
    DType dtype = DType::f32;
};

// Room for keys and values beyond what a cache holds, so that decoding appends a token in place
// instead of copying the whole cache every step (see attention.cpp). key and value are
// (B, n_head, capacity, head_dim); positions [0, used) are written, and each position is written
// once: by the first call that extends a cache of exactly `used` positions.
struct KVBuffer {
    Tensor key;
    Tensor value;
    int64_t used = 0;
};

// Keys and values of earlier positions, each (B, n_head, T_past, head_dim). Empty when undefined.
// Differentiable: PPLM perturbs them (build a KVCache from any tensors; leave `buffer` empty).
struct KVCache {
    KVCache() = default;
    KVCache(Tensor key, Tensor value, std::shared_ptr<KVBuffer> buffer = nullptr)
        : key(std::move(key)), value(std::move(value)), buffer(std::move(buffer)) {}

    Tensor key;
    Tensor value;
    // Set by attention under NoGradGuard: key and value are then the first length() positions of
    // buffer's tensors, and the next step may append to them in place. An optimisation only: a
    // cache without it, or whose key/value are not those views, is extended by copying.
    std::shared_ptr<KVBuffer> buffer;
    int64_t length() const { return key.defined() ? key.size(2) : 0; }
};

class CausalSelfAttention : public Module {
public:
    explicit CausalSelfAttention(AttentionConfig config, Generator* gen = nullptr);

    struct Output {
        Tensor y;         // (B, T, C)
        KVCache present;  // past keys/values followed by this call's, (B, nh, T_past + T, hs)
    };
    // x (B, T, C). attention_mask (B, T_past + T): 1 for real tokens, 0 for padding (any dtype),
    // or undefined. past: the cache from earlier calls (may be empty).
    Output forward(const Tensor& x, const Tensor& attention_mask = Tensor(),
                   const KVCache& past = KVCache());
    const AttentionConfig& config() const { return config_; }

    std::shared_ptr<Conv1D> c_attn;  // C -> 3C (q, k, v side by side)
    std::shared_ptr<Conv1D> c_proj;  // C -> C

private:
    AttentionConfig config_;
    std::shared_ptr<Dropout> attn_dropout_, resid_dropout_;
};

// The additive mask Hugging Face builds from a 0/1 attention mask (B, S): 0 where 1, the lowest
// finite value of `dtype` where 0; shaped (B, 1, 1, S) to broadcast over heads and queries.
Tensor additive_attention_mask(const Tensor& attention_mask, DType dtype);

}  // namespace gradstack::nn
