// config.json reading and writing (see config.h), and the shapes a config implies.
#include "gpt/config.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::gpt {

void GPT2Config::validate(const std::string& source) const {
    check(vocab_size > 0 && n_positions > 0 && n_layer > 0 && n_head > 0 && n_embd > 0,
          "{}: vocab_size, n_positions, n_layer, n_head and n_embd must be positive", source);
    check(n_embd % n_head == 0, "{}: n_embd {} is not a multiple of n_head {}", source, n_embd, n_head);
    check(n_inner >= 0, "{}: n_inner must be null or positive, got {}", source, n_inner);
    check(layer_norm_epsilon > 0, "{}: layer_norm_epsilon must be positive", source);
    for (double p : {resid_pdrop, embd_pdrop, attn_pdrop})
        check(p >= 0 && p < 1, "{}: dropout probabilities must be in [0, 1), got {}", source, p);
    check(vocab_size <= (int64_t{1} << 31) - 1, "{}: vocab_size {} is more than 2^31 - 1 ids", source,
          vocab_size);
    // The parameters alone, in the model's dtype, must fit in memory: a config with n_layer 1e9
    // is refused here instead of after minutes of allocating.
    const double bytes = parameter_count() * static_cast<double>(itemsize(dtype));
    const double memory =
        static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
    check(memory <= 0 || bytes <= memory,
          "{}: n_layer {}, n_embd {}, n_positions {}, vocab_size {} make {:.3g} parameters ({:.3g} GB "
          "in {}), more than this machine's {:.3g} GB of memory; is the config right?",
          source, n_layer, n_embd, n_positions, vocab_size, parameter_count(), bytes / 1e9, dtype,
          memory / 1e9);
}

double GPT2Config::parameter_count() const {
    const double C = static_cast<double>(n_embd), I = static_cast<double>(inner());
    // Per block: ln_1 and ln_2 (2C each), c_attn (C x 3C + 3C), attn.c_proj (C x C + C),
    // c_fc (C x I + I), mlp.c_proj (I x C + C).
    const double block = 4 * C + 3 * C * C + 3 * C + C * C + C + C * I + I + I * C + C;
    return (static_cast<double>(vocab_size) + static_cast<double>(n_positions)) * C +
           static_cast<double>(n_layer) * block + 2 * C;
}

std::map<std::string, Shape> GPT2Config::parameter_shapes() const {
    const int64_t C = n_embd, I = inner();
    std::map<std::string, Shape> shapes = {
        {"transformer.wte.weight", {vocab_size, C}},
        {"transformer.wpe.weight", {n_positions, C}},
        {"transformer.ln_f.weight", {C}},
        {"transformer.ln_f.bias", {C}},
    };
    for (int64_t l = 0; l < n_layer; ++l) {
        const std::string h = fmt::format("transformer.h.{}.", l);
        for (const char* ln : {"ln_1", "ln_2"}) {
            shapes[h + ln + ".weight"] = {C};
            shapes[h + ln + ".bias"] = {C};
        }
        shapes[h + "attn.c_attn.weight"] = {C, 3 * C};
        shapes[h + "attn.c_attn.bias"] = {3 * C};
        shapes[h + "attn.c_proj.weight"] = {C, C};
        shapes[h + "attn.c_proj.bias"] = {C};
        shapes[h + "mlp.c_fc.weight"] = {C, I};
        shapes[h + "mlp.c_fc.bias"] = {I};
        shapes[h + "mlp.c_proj.weight"] = {I, C};
        shapes[h + "mlp.c_proj.bias"] = {C};
    }
    return shapes;
}

GPT2Config load_config(const std::string& path) {
    return parse_config(
        read_input_file(path, kMaxConfigBytes, "the model config (a Hugging Face config.json)"),
        path);
}

GPT2Config parse_config(const std::string& text, const std::string& path) {
    const nlohmann::json j = parse_json(text, path);
    check(j.is_object(), "{}: expected a JSON object, got a {}", path, j.type_name());
    GPT2Config c;
    // An optional numeric key (absent or null keeps the default); int64_t fields want integers.
    auto get = [&]<class Field>(const char* key, Field& field) {
        if (!j.contains(key) || j[key].is_null()) return;
        constexpr bool integer = std::is_integral_v<Field>;
        check(integer ? j[key].is_number_integer() : j[key].is_number(),
              "{}: '{}' must be {}, got {}", path, key, integer ? "an integer" : "a number",
              json_excerpt(j[key]));
        // An unsigned integer above int64's range would wrap: refuse it by name.
        check(!integer || !j[key].is_number_unsigned() ||
                  j[key].get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX),
              "{}: '{}' = {} is out of range", path, key, json_excerpt(j[key]));
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
    auto flag = [&](const char* key, bool fallback) {
        return j.contains(key) ? json_get<bool>(j, key, path, "true or false") : fallback;
    };
    c.tie_word_embeddings = flag("tie_word_embeddings", true);
    if (j.contains("activation_function")) {
        std::string act = json_get<std::string>(j, "activation_function", path, "a string");
        check(act == "gelu_new", "{}: activation_function '{}' is not supported (GPT-2 uses gelu_new)",
              path, excerpt(act));
    }
    for (const char* key : {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"})
        check(!flag(key, false), "{}: '{}' = true is not supported", path, key);
    check(flag("scale_attn_weights", true), "{}: scale_attn_weights = false is not supported", path);
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
