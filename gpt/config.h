// GPT2Config: the sizes and constants of a GPT-2 model, read from (and written to) Hugging Face's
// config.json. Any size works: gpt2 (124M) ... gpt2-xl, or small custom ones.
#pragma once

#include <string>

#include "tensor/dtype.h"

namespace gradstack::gpt {

struct GPT2Config {
    int64_t vocab_size = 50257;
    int64_t n_positions = 1024;  // longest sequence (learned position embeddings)
    int64_t n_embd = 768;
    int64_t n_layer = 12;
    int64_t n_head = 12;
    int64_t n_inner = 0;  // 0 (JSON null) means 4 * n_embd
    double layer_norm_epsilon = 1e-5;
    double resid_pdrop = 0.1, embd_pdrop = 0.1, attn_pdrop = 0.1;
    double initializer_range = 0.02;
    int64_t bos_token_id = 50256, eos_token_id = 50256;
    bool tie_word_embeddings = true;
    // Not part of config.json: the dtype the model is built in (float64 for gradchecks).
    DType dtype = DType::f32;

    int64_t inner() const { return n_inner > 0 ? n_inner : 4 * n_embd; }
    int64_t head_dim() const { return n_embd / n_head; }

    // Throws gradstack::Error naming the field for impossible values (n_embd % n_head != 0, ...).
    void validate(const std::string& source) const;
};

// Reads config.json; unknown keys are ignored, unsupported settings (an activation other than
// gelu_new, scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn) are errors naming them.
GPT2Config load_config(const std::string& path);
// The JSON text Hugging Face's GPT2Config.save_pretrained writes (the fields that matter).
std::string config_json(const GPT2Config& config);

}  // namespace gradstack::gpt
