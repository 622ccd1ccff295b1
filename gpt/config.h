// GPT2Config: the sizes and constants of a GPT-2 model, read from (and written to) Hugging Face's
// config.json. Any size works: gpt2 (124M) ... gpt2-xl, or small custom ones.
#pragma once

#include <map>
#include <string>

#include "tensor/dtype.h"
#include "tensor/shape.h"

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

    // Throws gradstack::Error naming `source` and the field for impossible values (n_embd %
    // n_head != 0, a vocabulary past 2^31 ids, ...) and for a model whose parameters alone would
    // not fit in this machine's memory (n_layer 1e9), before anything is allocated.
    void validate(const std::string& source) const;

    // The name and shape of every parameter of a GPT2LMHeadModel of this config, as its
    // state_dict() names them ("transformer.wte.weight" -> (vocab_size, n_embd), ...), without
    // building it: checkpoint.cpp compares a file's header with these before allocating.
    std::map<std::string, Shape> parameter_shapes() const;
    // The number of parameters, in floating point so that absurd sizes cannot overflow.
    double parameter_count() const;
};

// Reads config.json (a regular file of at most 1 MiB, JSON nested at most 64 deep: tensor/json.h);
// unknown keys are ignored, unsupported settings (an activation other than gelu_new,
// scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn) are errors naming them, and so is a
// known key of the wrong type (naming the key and an excerpt of the value).
GPT2Config load_config(const std::string& path);
// The same for config.json's text; `source` names it in messages.
GPT2Config parse_config(const std::string& text, const std::string& source);
// The most bytes a config.json can need (Hugging Face's are about 1 KB).
inline constexpr uint64_t kMaxConfigBytes = uint64_t{1} << 20;
// The JSON text Hugging Face's GPT2Config.save_pretrained writes (the fields that matter).
std::string config_json(const GPT2Config& config);

}  // namespace gradstack::gpt
