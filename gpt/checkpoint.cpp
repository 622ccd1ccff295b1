// Loading and saving Hugging Face GPT-2 folders (see checkpoint.h). The file's names map to ours
// by one rule, plus an explicit list of tensors that are skipped:
//   - "h.0.attn.c_attn.weight" and "transformer.h.0.attn.c_attn.weight" both name our
//     "transformer.h.0.attn.c_attn.weight" (Hub checkpoints come without the prefix);
//   - "lm_head.weight" is the tied copy of wte: skipped after checking its shape;
//   - "*.attn.bias" and "*.attn.masked_bias" are constant causal-mask buffers: skipped.
// Conv1D weights are stored [in, out] in the file and in our model, so nothing is transposed.
#include "gpt/checkpoint.h"

#include <filesystem>

#include "nn/safetensors.h"
#include "tensor/io.h"

namespace gradstack::gpt {

namespace fs = std::filesystem;

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

void load_weights(GPT2LMHeadModel& model, const std::string& path) {
    SafetensorsFile file = load_safetensors(path);
    NamedTensors renamed;
    const Shape wte_shape = model.transformer->wte->weight.shape();
    for (const std::string& key : file.keys()) {
        if (ends_with(key, ".attn.bias") || ends_with(key, ".attn.masked_bias")) continue;
        if (key == "lm_head.weight") {
            check(file.info(key).shape == wte_shape,
                  "{}: lm_head.weight has shape {} but the tied wte.weight is {} (does config.json "
                  "describe the same model as the weights?)", path,
                  shape_str(file.info(key).shape), shape_str(wte_shape));
            continue;
        }
        std::string name = key.rfind("transformer.", 0) == 0 ? key : "transformer." + key;
        renamed.emplace_back(name, file.get(key));
    }
    model.load_state_dict(renamed, /*strict=*/true,
                          path + " (does config.json describe the same model as the weights?)");
}

std::shared_ptr<GPT2LMHeadModel> load_pretrained(const std::string& dir) {
    check(fs::is_directory(dir), "{}: no such model folder; download one with `gradstack download "
                                 "gpt2 --out DIR` or train one with `gradstack train`", dir);
    const std::string weights = (fs::path(dir) / "model.safetensors").string();
    if (!fs::exists(weights)) {
        bool pickle = fs::exists(fs::path(dir) / "pytorch_model.bin");
        fail("{}: missing{}; gradstack reads safetensors checkpoints only (Hugging Face's "
             "save_pretrained(safe_serialization=True) writes them)",
             weights, pickle ? " (the folder has pytorch_model.bin, a Python pickle)" : "");
    }
    GPT2Config config = load_config((fs::path(dir) / "config.json").string());
    auto model = std::make_shared<GPT2LMHeadModel>(config);
    load_weights(*model, weights);
    model->eval();
    return model;
}

void save_pretrained(const GPT2LMHeadModel& model, const std::string& dir) {
    fs::create_directories(dir);
    const GPT2Config& c = model.config();
    write_file_atomically((fs::path(dir) / "config.json").string(),
                          [&](OutputFile& out) { out.write(config_json(c)); });
    write_file_atomically((fs::path(dir) / "generation_config.json").string(), [&](OutputFile& out) {
        out.write(fmt::format("{{\n  \"bos_token_id\": {},\n  \"eos_token_id\": {}\n}}\n",
                              c.bos_token_id, c.eos_token_id));
    });
    save_safetensors((fs::path(dir) / "model.safetensors").string(), model.state_dict(),
                     {{"format", "pt"}});
}

}  // namespace gradstack::gpt
