// The VAE's decoder: GPT-2 conditioned on the latent z in the two ways Optimus and DMLP use,
// either or both:
//   embedding: z_embed(z), a (B, C) vector, is added to every token embedding (inputs_embeds);
//   memory:    z_memory(z) gives each layer one extra key and value (B, nh, 1, hs) that every
//              position attends to, fed in as a one-position KV cache ("past").
// The GPT-2 inside ("gpt.transformer.*") loads from any GPT-2 checkpoint of the same sizes.
// Read next: model.h.
#pragma once

#include <memory>
#include <vector>

#include "gpt/model.h"
#include "nn/layers/linear.h"
#include "tensor/random.h"

namespace gradstack::vae {

struct DecodeConfig {
    int64_t max_tokens = 64;  // stop after this many new tokens
    bool greedy = true;       // else sample from softmax(logits / temperature), top_k
    double temperature = 1.0;
    int64_t top_k = 0;        // 0: the whole vocabulary
};

class LatentDecoder : public nn::Module {
public:
    // Throws unless latent >= 1 and at least one conditioning is on.
    LatentDecoder(const gpt::GPT2Config& config, int64_t latent, bool embedding, bool memory,
                  Generator* gen = nullptr);

    // What z turns into: the per-layer memory caches (empty without memory conditioning) and
    // the (B, 1, C) embedding offset (undefined without embedding conditioning).
    struct Conditioning {
        std::vector<nn::KVCache> past;
        Tensor offset;
    };
    Conditioning condition(const Tensor& z);

    // Teacher-forced logits (B, T, vocab) of ids (B, T) given z (B, latent). Right padding
    // needs no attention mask: a real position never attends to the later pad positions, and
    // their logits are ignored by the loss. Positions are 0..T-1 whatever the memory.
    Tensor logits(const Tensor& ids, const Tensor& z);

    // Decodes each row of z from `bos`, until `eos` or max_tokens; no gradients. Returns the new
    // ids of each row, without bos and eos. `gen` is used when sampling.
    std::vector<std::vector<int64_t>> generate(const Tensor& z, int64_t bos, int64_t eos,
                                               const DecodeConfig& config, Generator* gen);

    int64_t latent() const { return latent_; }
    std::shared_ptr<gpt::GPT2LMHeadModel> gpt;
    std::shared_ptr<nn::Linear> z_embed;   // latent -> C (embedding conditioning)
    std::shared_ptr<nn::Linear> z_memory;  // latent -> 2 n_layer C (memory: keys, values)

private:
    int64_t latent_;
};

}  // namespace gradstack::vae
