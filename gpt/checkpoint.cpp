// Loading and saving Hugging Face GPT-2 folders (see checkpoint.h). The file's names map to ours
// by one rule, plus an explicit list of tensors that are skipped:
//   - "h.0.attn.c_attn.weight" and "transformer.h.0.attn.c_attn.weight" both name our
//     "transformer.h.0.attn.c_attn.weight" (Hub checkpoints come without the prefix);
//   - "lm_head.weight" is the tied copy of wte: skipped after checking its shape;
//   - "*.attn.bias" and "*.attn.masked_bias" are constant causal-mask buffers: skipped.
// Conv1D weights are stored [in, out] in the file and in our model, so nothing is transposed.
#include "gpt/checkpoint.h"

#include <filesystem>
#include <set>

#include "nn/init.h"
#include "nn/safetensors.h"
#include "tensor/io.h"

namespace gradstack::gpt {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The file's keys under our names ("transformer." + key when it lacks the prefix), without the
// skipped ones (mask buffers, the tied lm_head.weight): our name -> the file's key.
std::map<std::string, std::string> our_names(const SafetensorsFile& file) {
    std::map<std::string, std::string> names;
    for (const std::string& key : file.keys()) {
        if (ends_with(key, ".attn.bias") || ends_with(key, ".attn.masked_bias")) continue;
        if (key == "lm_head.weight") continue;
        names[key.rfind("transformer.", 0) == 0 ? key : "transformer." + key] = key;
    }
    return names;
}

// lm_head.weight, when present, is the tied copy of wte: only its shape is checked.
void check_lm_head(const SafetensorsFile& file, const Shape& wte_shape) {
    if (!file.contains("lm_head.weight")) return;
    check(file.info("lm_head.weight").shape == wte_shape,
          "{}: lm_head.weight has shape {} but the tied wte.weight is {} (does config.json "
          "describe the same model as the weights?)",
          file.name(), shape_str(file.info("lm_head.weight").shape), shape_str(wte_shape));
}

// Loads the file's tensors (already checked) into `model` under our names.
void load_tensors(GPT2LMHeadModel& model, const SafetensorsFile& file) {
    NamedTensors renamed;
    for (const auto& [name, key] : our_names(file)) renamed.emplace_back(name, file.get(key));
    model.load_state_dict(renamed, /*strict=*/true,
                          file.name() + " (does config.json describe the same model as the weights?)");
}

}  // namespace

void check_header_matches(const GPT2Config& config, const SafetensorsFile& file,
                          const std::string& config_source) {
    const std::map<std::string, std::string> names = our_names(file);
    // The layer count first, from the "transformer.h.<i>." names: it needs no table of shapes,
    // so a config with n_layer 1e9 costs nothing to refuse.
    std::set<int64_t> layers;
    for (const auto& [name, key] : names) {
        if (name.rfind("transformer.h.", 0) != 0) continue;
        const size_t dot = name.find('.', 14);
        const std::string index = name.substr(14, dot == std::string::npos ? dot : dot - 14);
        if (!index.empty() && index.size() <= 9 &&
            index.find_first_not_of("0123456789") == std::string::npos)
            layers.insert(std::stoll(index));
    }
    // (Fewer layers in the config than in the file is left to the full comparison below, which
    // names each unexpected tensor.)
    check(config.n_layer <= static_cast<int64_t>(layers.size()),
          "{}: n_layer is {} but {} holds {} layers; config.json and the weights describe "
          "different models",
          config_source, config.n_layer, file.name(), layers.size());
    std::map<std::string, Shape> found;
    for (const auto& [name, key] : names) found[name] = file.info(key).shape;
    compare_shapes(config.parameter_shapes(), found, file.name(), /*strict=*/true,
                   "the model " + config_source + " describes");
    check_lm_head(file, {config.vocab_size, config.n_embd});
}

void load_weights(GPT2LMHeadModel& model, const std::string& path, const LoadOptions& options) {
    SafetensorsFile file = load_safetensors(path);
    check_lm_head(file, model.transformer->wte->weight.shape());
    if (!options.allow_nonfinite) check_finite(file, kAllowNonfiniteHint);
    load_tensors(model, file);
}

std::shared_ptr<GPT2LMHeadModel> load_pretrained(const std::string& dir,
                                                 const LoadOptions& options) {
    check(fs::is_directory(dir), "{}: no such model folder; download one with `gradstack download "
                                 "gpt2 --out DIR` or train one with `gradstack train`", dir);
    const std::string weights = (fs::path(dir) / "model.safetensors").string();
    if (!fs::exists(weights)) {
        bool pickle = fs::exists(fs::path(dir) / "pytorch_model.bin");
        fail("{}: missing{}; gradstack reads safetensors checkpoints only (Hugging Face's "
             "save_pretrained(safe_serialization=True) writes them)",
             weights, pickle ? " (the folder has pytorch_model.bin, a Python pickle)" : "");
    }
    const std::string config_path = (fs::path(dir) / "config.json").string();
    GPT2Config config = load_config(config_path);
    // Header against config before a byte of the model is allocated; then the values.
    SafetensorsFile file = load_safetensors(weights);
    check_header_matches(config, file, config_path);
    if (!options.allow_nonfinite) check_finite(file, kAllowNonfiniteHint);
    // Every parameter comes from the file (load_tensors is strict), so none is drawn first.
    std::shared_ptr<GPT2LMHeadModel> model;
    {
        nn::init::SkipInitGuard no_init;
        model = std::make_shared<GPT2LMHeadModel>(config);
    }
    load_tensors(*model, file);
    model->eval();
    return model;
}

void save_pretrained(const GPT2LMHeadModel& model, const std::string& dir,
                     const std::map<std::string, std::string>& metadata) {
    fs::create_directories(dir);
    const GPT2Config& c = model.config();
    write_file_atomically((fs::path(dir) / "config.json").string(),
                          [&](OutputFile& out) { out.write(config_json(c)); });
    write_file_atomically((fs::path(dir) / "generation_config.json").string(), [&](OutputFile& out) {
        out.write(fmt::format("{{\n  \"bos_token_id\": {},\n  \"eos_token_id\": {}\n}}\n",
                              c.bos_token_id, c.eos_token_id));
    });
    std::map<std::string, std::string> meta = metadata;
    meta["format"] = "pt";  // transformers refuses safetensors files without it
    save_safetensors((fs::path(dir) / "model.safetensors").string(), model.state_dict(), meta);
}

}  // namespace gradstack::gpt
