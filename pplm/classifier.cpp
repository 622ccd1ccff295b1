// ClassifierHead and its folder (see classifier.h).
#include "pplm/classifier.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "nn/safetensors.h"
#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::pplm {

namespace fs = std::filesystem;
using nlohmann::json;

ClassifierHead::ClassifierHead(int64_t class_size, int64_t embed_size, Generator* gen,
                               DType dtype) {
    check(class_size >= 2 && embed_size >= 1,
          "[ClassifierHead] needs class_size >= 2 and embed_size >= 1, got {} and {}", class_size,
          embed_size);
    const double bound = 1.0 / std::sqrt(static_cast<double>(embed_size));
    weight = register_parameter("weight",
                                uniform({class_size, embed_size}, -bound, bound, dtype, gen));
    bias = register_parameter("bias", uniform({class_size}, -bound, bound, dtype, gen));
}

Tensor ClassifierHead::forward(const Tensor& x) const { return linear(x, weight, bias); }

namespace {

json read_json(const fs::path& path) {
    std::error_code ec;
    check(fs::is_regular_file(path, ec), "{}: not found (a discriminator folder holds meta.json "
          "and head.safetensors, as gradstack train-discrim writes them)", path.string());
    // A regular file of at most 1 MiB, nested at most 64 deep (tensor/json.h).
    return read_json_file(path.string(), kMiB, "a discriminator's meta.json");
}

int64_t get_int(const json& j, const std::string& key, const fs::path& path) {
    check(j.contains(key), "{}: missing key '{}'", path.string(), key);
    check(j[key].is_number_integer(), "{}: '{}' must be an integer, got a {}", path.string(), key,
          j[key].type_name());
    return j[key].get<int64_t>();
}

}  // namespace

Discriminator load_discriminator(const std::string& dir, const gpt::LoadOptions& options) {
    const fs::path meta_path = fs::path(dir) / "meta.json";
    const fs::path head_path = fs::path(dir) / "head.safetensors";
    std::error_code ec;
    check(fs::is_directory(dir, ec), "--discrim {}: not a folder (expected meta.json and "
          "head.safetensors in it)", dir);
    json j = read_json(meta_path);
    check(j.is_object(), "{}: expected a JSON object, got a {}", meta_path.string(), j.type_name());
    Discriminator d;
    ClassifierMeta& m = d.meta;
    m.class_size = get_int(j, "class_size", meta_path);
    m.embed_size = get_int(j, "embed_size", meta_path);
    check(m.class_size >= 2 && m.class_size <= 1000000, "{}: class_size {} must be in [2, 1e6]",
          meta_path.string(), m.class_size);
    check(m.embed_size >= 1 && m.embed_size <= 1000000, "{}: embed_size {} must be in [1, 1e6]",
          meta_path.string(), m.embed_size);
    check(j.contains("class_vocab") && j["class_vocab"].is_object(),
          "{}: 'class_vocab' must be an object {{name: class id}}", meta_path.string());
    for (const auto& [name, id] : j["class_vocab"].items()) {
        check(id.is_number_integer(), "{}: class_vocab['{}'] must be an integer class id, got {}",
              meta_path.string(), excerpt(name), json_excerpt(id));
        const int64_t v = id.get<int64_t>();
        check(v >= 0 && v < m.class_size, "{}: class_vocab['{}'] = {} is not in [0, class_size={})",
              meta_path.string(), excerpt(name), v, m.class_size);
        m.class_vocab[name] = v;
    }
    m.default_class = get_int(j, "default_class", meta_path);
    check(m.default_class >= 0 && m.default_class < m.class_size,
          "{}: default_class {} is not in [0, class_size={})", meta_path.string(), m.default_class,
          m.class_size);
    if (j.contains("pretrained_model") && j["pretrained_model"].is_string())
        m.pretrained_model = j["pretrained_model"].get<std::string>();

    SafetensorsFile file = load_safetensors(head_path.string());
    d.head = std::make_shared<ClassifierHead>(m.class_size, m.embed_size);
    // uber's ClassificationHead state dict names them mlp.weight / mlp.bias: accept both.
    const std::string prefix = file.contains("mlp.weight") && !file.contains("weight") ? "mlp." : "";
    compare_keys({{prefix + "weight", {m.class_size, m.embed_size}}, {prefix + "bias", {m.class_size}}},
                 file, /*strict=*/true);
    if (!options.allow_nonfinite) check_finite(file, gpt::kAllowNonfiniteHint);
    NamedTensors tensors;
    for (const char* key : {"weight", "bias"})
        tensors.emplace_back(key, to_dtype(file.get(prefix + key), DType::f32));
    d.head->load_state_dict(tensors, true, head_path.string());
    d.head->eval();
    return d;
}

void save_discriminator(const Discriminator& d, const std::string& dir) {
    fs::create_directories(dir);
    save_safetensors((fs::path(dir) / "head.safetensors").string(),
                     {{"weight", d.head->weight}, {"bias", d.head->bias}}, {{"format", "pt"}});
    json j = {{"class_size", d.meta.class_size},
              {"embed_size", d.meta.embed_size},
              {"class_vocab", d.meta.class_vocab},
              {"default_class", d.meta.default_class},
              {"pretrained_model", d.meta.pretrained_model}};
    const std::string text = j.dump(2) + "\n";
    write_file_atomically((fs::path(dir) / "meta.json").string(),
                          [&](OutputFile& out) { out.write(text); });
}

void check_compatible(const Discriminator& d, const gpt::GPT2Config& config,
                      const std::string& dir) {
    check(d.meta.embed_size == config.n_embd,
          "--discrim {}: the head reads hidden states of size embed_size = {}, but the model's "
          "n_embd is {}; train a discriminator on this model (gradstack train-discrim)",
          dir, d.meta.embed_size, config.n_embd);
}

int64_t resolve_class_label(const ClassifierMeta& meta, const std::string& label,
                            const std::function<void(const std::string&)>& warn) {
    auto fallback = [&](const std::string& why) {
        std::string names;
        for (const auto& [name, id] : meta.class_vocab)
            names += fmt::format("{}{}={}", names.empty() ? "" : ", ", name, id);
        if (warn)
            warn(fmt::format("class label '{}' {}; the classes are {{{}}}; using default class {}",
                             label.substr(0, 80), why, names, meta.default_class));
        return meta.default_class;
    };
    if (auto it = meta.class_vocab.find(label); it != meta.class_vocab.end()) return it->second;
    size_t used = 0;
    int64_t id = 0;
    try {
        id = std::stoll(label, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != label.size()) return fallback("is not a class name of class_vocab");
    // uber's get_classifier accepts an integer only when class_vocab lists it.
    for (const auto& [name, v] : meta.class_vocab)
        if (v == id) return id;
    return fallback("is not a class id listed in class_vocab");
}

Tensor mean_hidden(gpt::GPT2LMHeadModel& model, const Tensor& ids,
                   const std::vector<int64_t>& lengths) {
    NoGradGuard no_grad;
    const int64_t R = ids.size(0), T = ids.size(1);
    check(static_cast<int64_t>(lengths.size()) == R, "[mean_hidden] {} lengths for {} rows",
          lengths.size(), R);
    gpt::ForwardOptions o;
    o.output_hidden_states = true;
    o.use_cache = false;
    o.logits = false;  // the (R, T, vocab) logits are not needed here
    // Padding sits on the right, after each row's tokens: causal attention never lets a real
    // token see it, so no attention mask is needed; the mean skips it.
    Tensor h = model.forward(ids, o).hidden_states.back();  // (R, T, C)
    std::vector<float> m(R * T, 0.0f);
    for (int64_t r = 0; r < R; ++r) {
        check(lengths[r] >= 1 && lengths[r] <= T, "[mean_hidden] row {} length {} not in [1, {}]",
              r, lengths[r], T);
        for (int64_t t = 0; t < lengths[r]; ++t) m[r * T + t] = 1.0f / lengths[r];
    }
    Tensor w = from_vector<float>(m, {R, T, 1});
    return sum(h * w, {1});  // (R, C)
}

}  // namespace gradstack::pplm
