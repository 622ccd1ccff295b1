// config.json reading and writing (see config.h).
#include "gpt/config.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "tensor/error.h"

namespace gradstack::gpt {

void GPT2Config::validate(const std::string& source) const {
    check(vocab_size > 0 && n_positions > 0 && n_layer > 0 && n_head > 0 && n_embd > 0,
          "{}: vocab_size, n_positions, n_layer, n_head and n_embd must be positive", source);
    check(n_embd % n_head == 0, "{}: n_embd {} is not a multiple of n_head {}", source, n_embd, n_head);
    check(n_inner >= 0, "{}: n_inner must be null or positive, got {}", source, n_inner);
    check(layer_norm_epsilon > 0, "{}: layer_norm_epsilon must be positive", source);
    for (double p : {resid_pdrop, embd_pdrop, attn_pdrop})
        check(p >= 0 && p < 1, "{}: dropout probabilities must be in [0, 1), got {}", source, p);
}

GPT2Config load_config(const std::string& path) {
    std::ifstream in(path);
    check(static_cast<bool>(in), "{}: cannot open the model config (expected a Hugging Face "
                                 "config.json)", path);
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not valid JSON: {}", path, e.what());
    }
    check(j.is_object(), "{}: expected a JSON object", path);
    GPT2Config c;
    // An optional numeric key (absent or null keeps the default); int64_t fields want integers.
    auto get = [&]<class Field>(const char* key, Field& field) {
        if (!j.contains(key) || j[key].is_null()) return;
        constexpr bool integer = std::is_integral_v<Field>;
        check(integer ? j[key].is_number_integer() : j[key].is_number(),
              "{}: '{}' must be {}, got {}", path, key, integer ? "an integer" : "a number",
              j[key].dump());
        field = j[key].get<Field>();
    };
    get("vocab_size", c.vocab_size);
    get("n_positions", c.n_positions);
    get("n_embd", c.n_embd);
    get("n_layer", c.n_layer);
    get("n_head", c.n_head);
    get("n_inner", c.n_inner);
    get("bos_token_id", c.bos_token_id);
    get("eos_token_id", c.eos_token_id);
    get("layer_norm_epsilon", c.layer_norm_epsilon);
    get("resid_pdrop", c.resid_pdrop);
    get("embd_pdrop", c.embd_pdrop);
    get("attn_pdrop", c.attn_pdrop);
    get("initializer_range", c.initializer_range);
    if (j.contains("tie_word_embeddings")) c.tie_word_embeddings = j["tie_word_embeddings"].get<bool>();
    if (j.contains("activation_function")) {
        std::string act = j["activation_function"].get<std::string>();
        check(act == "gelu_new", "{}: activation_function '{}' is not supported (GPT-2 uses gelu_new)",
              path, act);
    }
    for (const char* flag : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"})
        check(!j.contains(flag) || !j[flag].get<bool>(), "{}: '{}' = true is not supported", path, flag);
    if (j.contains("scale_attn_weights"))
        check(j["scale_attn_weights"].get<bool>(), "{}: scale_attn_weights = false is not supported", path);
    check(c.tie_word_embeddings, "{}: untied word embeddings are not supported", path);
    c.validate(path);
    return c;
}

std::string config_json(const GPT2Config& c) {
    nlohmann::json j = {
        {"architectures", {"GPT2LMHeadModel"}},
        {"model_type", "gpt2"},
        {"activation_function", "gelu_new"},
        {"vocab_size", c.vocab_size},
        {"n_positions", c.n_positions},
        {"n_ctx", c.n_positions},
        {"n_embd", c.n_embd},
        {"n_layer", c.n_layer},
        {"n_head", c.n_head},
        {"n_inner", c.n_inner > 0 ? nlohmann::json(c.n_inner) : nlohmann::json(nullptr)},
        {"layer_norm_epsilon", c.layer_norm_epsilon},
        {"resid_pdrop", c.resid_pdrop},
        {"embd_pdrop", c.embd_pdrop},
        {"attn_pdrop", c.attn_pdrop},
        {"initializer_range", c.initializer_range},
        {"bos_token_id", c.bos_token_id},
        {"eos_token_id", c.eos_token_id},
        {"scale_attn_weights", true},
        {"tie_word_embeddings", true},
        {"torch_dtype", "float32"},
    };
    return j.dump(2) + "\n";
}

}  // namespace gradstack::gpt
