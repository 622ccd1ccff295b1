// GPT-2, computing what Hugging Face's GPT2LMHeadModel computes, with its parameter names:
//   h_0 = wte[ids] + wpe[positions]            (dropout)
//   h_i = Block_i(h_{i-1})  for i = 1..n_layer (pre-LayerNorm blocks, nn/layers/block.h)
//   logits = ln_f(h_n) @ wte^T                 (the head is tied to the token embedding)
// Read next: checkpoint.h (loading Hugging Face folders), generate.h.
#pragma once

#include <memory>
#include <vector>

#include "gpt/config.h"
#include "nn/layers/block.h"
#include "nn/layers/container.h"
#include "nn/layers/embedding.h"

namespace gradstack::gpt {

using KVCache = nn::KVCache;

struct ForwardOptions {
    Tensor attention_mask;            // (B, past + T), 1 real / 0 padding; undefined: no padding
    Tensor position_ids;              // (B, T) or (T); undefined: past, past+1, ... (as HF)
    std::vector<KVCache> past;        // one per layer, or empty
    // (B, T, C) token embeddings used instead of wte[ids] (Hugging Face's inputs_embeds; PPLM
    // feeds expected embeddings probs @ wte); ids then only give B and T and may be undefined.
    Tensor inputs_embeds;
    bool output_hidden_states = false;
    bool use_cache = true;            // fill Output::presents
    bool logits = true;               // false: skip the head (Output::logits undefined), for
                                      // callers that want hidden states only
    // > 0: the head only for the last k positions, logits (B, k, vocab) (Hugging Face's
    // logits_to_keep). Generation keeps 1: on a 128-token GPT-2 124M prompt the full head is
    // 30-38% of the forward and its (1, 128, 50257) logits 25.7 MB of fresh memory. The kept rows
    // equal the full head's up to float rounding (a one-row product may go through gemv).
    int64_t logits_to_keep = 0;
};

struct ForwardOutput {
    Tensor logits;                       // (B, T, vocab), or (B, logits_to_keep, vocab)
    std::vector<Tensor> hidden_states;   // n_layer + 1 of (B, T, C); the last is after ln_f
    std::vector<KVCache> presents;       // per layer, (B, n_head, past + T, head_dim)
};

// The transformer body, named "transformer" inside the LM model: wte, wpe, h.<i>, ln_f.
class GPT2Model : public nn::Module {
public:
    explicit GPT2Model(const GPT2Config& config, Generator* gen = nullptr);

    std::shared_ptr<nn::Embedding> wte, wpe;
    std::shared_ptr<nn::Dropout> drop;
    std::shared_ptr<nn::ModuleList<nn::Block>> h;
    std::shared_ptr<nn::LayerNorm> ln_f;
};

class GPT2LMHeadModel : public nn::Module {
public:
    // Random initialisation as GPT-2's: N(0, initializer_range), c_proj scaled by
    // 1/sqrt(2 n_layer), biases 0, LayerNorm 1/0.
    explicit GPT2LMHeadModel(const GPT2Config& config, Generator* gen = nullptr);

    // ids int64 (B, T), or undefined when options.inputs_embeds is given. Throws when past + T
    // exceeds n_positions or an id is >= vocab_size.
    ForwardOutput forward(const Tensor& ids, const ForwardOptions& options = {});
    // Mean cross-entropy of positions 0..T-2 predicting 1..T-1 (Hugging Face's labels=ids loss);
    // positions where `labels` is -100 are ignored. labels undefined means ids.
    Tensor loss(const Tensor& logits, const Tensor& labels);

    const GPT2Config& config() const { return config_; }
    std::shared_ptr<GPT2Model> transformer;

private:
    GPT2Config config_;
};

// Hugging Face generate()'s position ids for a left-padded batch: cumsum(mask) - 1, with 1 at
// padded slots; the last T columns when a cache of `past` positions precedes them.
Tensor position_ids_from_mask(const Tensor& attention_mask, int64_t T);

}  // namespace gradstack::gpt
