// The value head and the policy that carries it (see value_head.h).
#include "rl/value_head.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "nn/init.h"
#include "nn/safetensors.h"
#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::rl {

namespace fs = std::filesystem;

void ValueHeadConfig::validate(const std::string& source) const {
    check(summary_type == "cls_index" || summary_type == "last" || summary_type == "first" ||
              summary_type == "mean",
          "{}: summary_type \"{}\" is not supported (cls_index, last, first or mean; the value "
          "head scores every position whatever the type, as trl's ValueHead)",
          source, summary_type);
    check(summary_use_proj, "{}: summary_use_proj is false, which makes the head output n_embd "
                            "numbers per token; a value head needs one (set it to true)", source);
    check(summary_proj_to_labels, "{}: summary_proj_to_labels is false, which projects to n_embd "
                                  "numbers; a value head projects to num_labels = 1", source);
    check(summary_activation.empty() || summary_activation == "tanh",
          "{}: summary_activation \"{}\" is not supported (null or \"tanh\")", source,
          summary_activation);
    for (auto [name, p] : {std::pair{"summary_first_dropout", summary_first_dropout},
                           std::pair{"summary_last_dropout", summary_last_dropout}})
        check(p >= 0 && p < 1, "{}: {} = {} must be in [0, 1)", source, name, p);
}

ValueHeadConfig value_head_config(const nlohmann::json& j, const std::string& source) {
    ValueHeadConfig c;
    auto read = [&](const char* key, auto& field) {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) return;
        try {
            it->get_to(field);
        } catch (const nlohmann::json::exception&) {
            fail("{}: \"{}\" has the wrong type (a {}: {})", source, key, it->type_name(),
                 json_excerpt(*it));
        }
    };
    read("summary_type", c.summary_type);
    read("summary_use_proj", c.summary_use_proj);
    read("summary_proj_to_labels", c.summary_proj_to_labels);
    read("summary_activation", c.summary_activation);
    read("summary_first_dropout", c.summary_first_dropout);
    read("summary_last_dropout", c.summary_last_dropout);
    c.validate(source);
    return c;
}

void put_value_head_config(const ValueHeadConfig& c, nlohmann::json& out) {
    out["summary_type"] = c.summary_type;
    out["summary_use_proj"] = c.summary_use_proj;
    out["summary_proj_to_labels"] = c.summary_proj_to_labels;
    out["summary_activation"] = c.summary_activation.empty() ? nlohmann::json() : nlohmann::json(c.summary_activation);
    out["summary_first_dropout"] = c.summary_first_dropout;
    out["summary_last_dropout"] = c.summary_last_dropout;
    out["num_labels"] = 1;
}

ValueHead::ValueHead(const ValueHeadConfig& config, int64_t n_embd, double init_std, DType dtype,
                     Generator* gen)
    : config_(config) {
    config.validate("value head");
    first_dropout = register_module("first_dropout", std::make_shared<nn::Dropout>(config.summary_first_dropout, gen));
    summary = register_module("summary", std::make_shared<nn::Linear>(nn::LinearConfig{n_embd, 1, true, dtype}, gen));
    last_dropout = register_module("last_dropout", std::make_shared<nn::Dropout>(config.summary_last_dropout, gen));
    nn::init::normal_(summary->weight, 0.0, init_std, gen);
    nn::init::zeros_(summary->bias);
}

Tensor ValueHead::forward(const Tensor& hidden) {
    Tensor x = config_.detach_head ? hidden.detach() : hidden;     // (B, T, C)
    x = summary->forward(first_dropout->forward(x));               // (B, T, 1)
    if (config_.summary_activation == "tanh") x = tanh(x);
    return squeeze(last_dropout->forward(x), -1);                  // (B, T)
}

PolicyOutput Policy::forward(const Tensor& ids, const gpt::ForwardOptions& options) {
    gpt::ForwardOptions o = options;
    o.output_hidden_states = true;
    gpt::ForwardOutput out = lm->forward(ids, o);
    return {out.logits, v_head->forward(out.hidden_states.back())};  // after ln_f, as trl
}

nn::NamedTensors Policy::named_parameters() const {
    nn::NamedTensors all = lm->named_parameters();
    for (auto& [name, t] : v_head->named_parameters()) all.emplace_back("v_head." + name, t);
    return all;
}

void Policy::train(bool on) {
    lm->train(on);
    v_head->train(on);
}

Policy load_policy(const std::string& dir, bool detach_head, Generator* init_gen,
                   const std::function<void(const std::string&)>& warn,
                   const gpt::LoadOptions& options) {
    Policy p;
    p.lm = gpt::load_pretrained(dir, options);
    const fs::path config_path = fs::path(dir) / "config.json";
    ValueHeadConfig vc = value_head_config(
        read_json_file(config_path.string(), gpt::kMaxConfigBytes, "the policy's config.json"),
        config_path.string());
    vc.detach_head = detach_head;
    const gpt::GPT2Config& c = p.lm->config();
    p.v_head = std::make_shared<ValueHead>(vc, c.n_embd, c.initializer_range, c.dtype, init_gen);
    const fs::path head = fs::path(dir) / "value_head.safetensors";
    if (fs::exists(head)) {
        const SafetensorsFile file = load_safetensors(head.string());
        if (!options.allow_nonfinite) check_finite(file, gpt::kAllowNonfiniteHint);
        nn::NamedTensors renamed;
        for (auto& [name, t] : file.tensors()) {
            check(name.rfind("v_head.", 0) == 0, "{}: unexpected tensor '{}' (a value head file "
                                                 "holds v_head.summary.weight and v_head.summary.bias)",
                  head.string(), name);
            renamed.emplace_back(name.substr(7), t);
        }
        p.v_head->load_state_dict(renamed, /*strict=*/true, head.string());
    } else if (warn) {
        warn(fmt::format("Some weights of the policy were not initialized from the model checkpoint "
                         "at {} and are newly initialized: ['v_head.summary.weight', "
                         "'v_head.summary.bias']", dir));
    }
    p.v_head->train(false);
    return p;
}

void save_policy(const Policy& policy, const std::string& dir,
                 const std::map<std::string, std::string>& metadata) {
    gpt::save_pretrained(*policy.lm, dir, metadata);
    // config.json again, with the value head's settings next to GPT-2's (load_config ignores them).
    nlohmann::json config = nlohmann::json::parse(gpt::config_json(policy.lm->config()));
    put_value_head_config(policy.v_head->config(), config);
    write_file_atomically((fs::path(dir) / "config.json").string(),
                          [&](OutputFile& out) { out.write(config.dump(2) + "\n"); });
    nn::NamedTensors head;
    for (auto& [name, t] : policy.v_head->named_parameters()) head.emplace_back("v_head." + name, t);
    std::map<std::string, std::string> meta = metadata;
    meta["format"] = "pt";
    save_safetensors((fs::path(dir) / "value_head.safetensors").string(), head, meta);
}

}  // namespace gradstack::rl
