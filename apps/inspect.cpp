// `gradstack inspect`: runs a GPT-2 on a batch of token ids and writes what Hugging Face would
// show you (logits, hidden states, loss, gradients, the key/value cache) as .npy files, so the
// numbers can be read with numpy and compared with transformers. Interface and file layout: the
// "gradstack inspect" section of README.md. Model: gpt/model.h.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/config.h"
#include "gpt/generation/memory.h"
#include "tensor/io.h"
#include "tensor/npy.h"

namespace gradstack::apps {

namespace {

namespace fs = std::filesystem;

// Levenshtein distance, to suggest the parameter a mistyped --grad name meant.
std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

Tensor find_parameter(const nn::NamedTensors& params, const std::string& name) {
    for (const auto& [n, p] : params)
        if (n == name) return p;
    std::vector<std::pair<std::size_t, std::string>> close;
    for (const auto& [n, p] : params) close.emplace_back(edit_distance(name, n), n);
    std::sort(close.begin(), close.end());
    std::string list;
    for (std::size_t i = 0; i < std::min<std::size_t>(5, close.size()); ++i)
        list += (i ? ", " : "") + close[i].second;
    const std::string tied = name == "lm_head.weight"
                                 ? "lm_head.weight is tied to transformer.wte.weight, which has "
                                   "the head's gradient too; "
                                 : "";
    fail(
        "[inspect] --grad {}: no such parameter; {}closest names: {} (all {} names are in "
        "grad_norms.json)",
        name, tied, list, params.size());
}

// The ids file: int64 (int32 is widened by load_npy), 2-d, every id inside the vocabulary.
Tensor load_ids(const std::string& path, const gpt::GPT2Config& config) {
    check_input_file(path, "[inspect] --ids");  // a FIFO or /dev/zero is refused, not read
    Tensor ids = load_npy(path);
    check(ids.dtype() == DType::i64, "[inspect] --ids {}: token ids must be int64, got {}", path,
          ids.dtype());
    check(ids.dim() == 2 && ids.size(0) > 0 && ids.size(1) > 0,
          "[inspect] --ids {}: expected shape [B, T] with B, T >= 1, got {}", path,
          shape_str(ids.shape()));
    check(ids.size(1) <= config.n_positions,
          "[inspect] --ids {}: T = {} tokens exceed the model's n_positions = {}", path,
          ids.size(1), config.n_positions);
    const std::vector<int64_t> v = to_vector<int64_t>(ids);
    for (std::size_t i = 0; i < v.size(); ++i)
        check(v[i] >= 0 && v[i] < config.vocab_size,
              "[inspect] --ids {}: id {} at [{}, {}] is outside the vocabulary [0, {})", path, v[i],
              i / ids.size(1), i % ids.size(1), config.vocab_size);
    return ids;
}

// The flat index and value of the first NaN or infinity of `t` (float32 or float64), if any.
std::optional<std::pair<int64_t, double>> first_nonfinite(const Tensor& t) {
    const Tensor c = contiguous(t);
    const int64_t n = c.numel();
    auto scan = [&](const auto* p) -> std::optional<std::pair<int64_t, double>> {
        for (int64_t i = 0; i < n; ++i)
            if (!std::isfinite(p[i])) return std::pair<int64_t, double>{i, static_cast<double>(p[i])};
        return std::nullopt;
    };
    if (c.dtype() == DType::f64) return scan(c.data<double>());
    if (c.dtype() == DType::f32) return scan(c.data<float>());
    return std::nullopt;
}

// An output about to be written must be finite unless --allow-nonfinite: a NaN model would
// otherwise leave a folder of NaN files and exit 0.
void check_finite_output(const Tensor& t, const std::string& file, bool allow) {
    if (allow) return;
    const auto bad = first_nonfinite(t);
    if (!bad) return;
    std::string at;
    int64_t rest = bad->first;
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
        at = fmt::format("{}{}", rest % t.size(d), at.empty() ? "" : ", " + at);
        rest /= t.size(d);
    }
    fail("[inspect] {} would hold {} at [{}] (shape {}): the model's weights or input produce "
         "non-finite values; nothing more is written (--allow-nonfinite writes them anyway)",
         file, bad->second, at, shape_str(t.shape()));
}

// The L2 norm of every parameter's gradient, summed in double: a float32 sum of 38M squares
// (gpt2's wte) would lose about 4 digits.
nlohmann::ordered_json grad_norms(const nn::NamedTensors& params) {
    nlohmann::ordered_json norms = nlohmann::ordered_json::object();
    for (const auto& [name, p] : params) {
        double squares = 0;
        if (p.grad().defined())
            for (double g : to_vector<double>(p.grad())) squares += g * g;
        norms[name] = std::sqrt(squares);
    }
    return norms;
}

Tensor stack_presents(const std::vector<gpt::KVCache>& presents) {
    std::vector<Tensor> layers;
    for (const auto& p : presents)
        layers.push_back(stack({p.key, p.value}, 0));  // (2, B, H, P, hd)
    return stack(layers, 0);                           // (n_layer, 2, B, H, P, hd)
}

int run_inspect(int argc, char** argv) {
    CLI::App app{
        "run GPT-2 on token ids and write logits, hidden states, loss, gradients and "
        "the key/value cache as .npy files (see README: gradstack inspect)"};
    std::string model_dir, ids_path, out_dir;
    int64_t past = 0;
    std::vector<std::string> grad_names;
    bool allow_nonfinite = false;
    app.add_option("--model", model_dir, "Hugging Face model folder")->required();
    app.add_option("--ids", ids_path, "int64 token ids [B, T] (.npy)")->required();
    app.add_option("--out", out_dir, "folder for the outputs (created)")->required();
    auto* past_opt = app.add_option("--past-length", past,
                                    "also write presents.npy after ids[:, :P] and "
                                    "cached_logits.npy for ids[:, P:] run on that cache (P in "
                                    "[1, T - 1])")
                         ->check(integer_in(-kMaxCount, kMaxCount));  // the range needs T: below
    app.add_option("--grad", grad_names, "also write grad__NAME.npy (repeatable)");
    app.add_flag("--allow-nonfinite", allow_nonfinite,
                 "load weights that hold NaN or Inf, and write outputs that hold them, instead of "
                 "stopping with an error naming the first");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;

    // The ids and every flag that depends on them, against the model's config, before the
    // weights are loaded and the forward runs.
    const gpt::GPT2Config config = gpt::load_config((fs::path(model_dir) / "config.json").string());
    const Tensor ids = load_ids(ids_path, config);
    const int64_t B = ids.size(0), T = ids.size(1);
    // With one token there is no next token to predict: no loss and no gradients.
    check(T >= 2 || grad_names.empty(),
          "[inspect] --grad needs the loss, which needs T >= 2 tokens; --ids {} has T = 1",
          ids_path);
    check(!past_opt->count() || (past >= 1 && past <= T - 1),
          "[inspect] --past-length {} must be in [1, T - 1] = [1, {}] for T = {}", past, T - 1, T);
    gpt::check_memory(gpt::estimate_forward_memory(config, B, T, T >= 2),
                      "inspect", fmt::format("a forward{} of --ids {} with B = {}, T = {}",
                                             T >= 2 ? " and backward" : "", ids_path, B, T),
                      "give fewer or shorter rows in --ids");

    auto model =
        gpt::load_pretrained(model_dir, gpt::LoadOptions{.allow_nonfinite = allow_nonfinite});
    const nn::NamedTensors params = model->named_parameters();
    std::vector<Tensor> grads_wanted;
    for (const auto& name : grad_names) grads_wanted.push_back(find_parameter(params, name));
    std::error_code error;
    fs::create_directories(out_dir, error);
    check(!error && fs::is_directory(out_dir), "[inspect] --out {}: cannot create the folder ({})",
          out_dir, error ? error.message() : "a file has that name");
    const auto out = [&](const std::string& file) { return (fs::path(out_dir) / file).string(); };
    // Each output is checked before it is written (check_finite_output).
    const auto save = [&](const std::string& file, const Tensor& t) {
        check_finite_output(t, file, allow_nonfinite);
        save_npy(out(file), t);
    };

    gpt::ForwardOptions options;
    options.output_hidden_states = true;
    options.use_cache = false;
    gpt::ForwardOutput result = model->forward(ids, options);
    save("logits.npy", result.logits);
    save("hidden_states.npy", stack(result.hidden_states, 0));  // (n_layer + 1, B, T, C)
    if (T >= 2) {
        Tensor loss = model->loss(result.logits, ids);
        save("loss.npy", reshape(loss, {1}));
        loss.backward();
        const nlohmann::ordered_json norms_json = grad_norms(params);
        if (!allow_nonfinite)
            for (const auto& [name, norm] : norms_json.items())
                check(std::isfinite(norm.get<double>()),
                      "[inspect] grad_norms.json: the gradient of {} is not finite (norm {}); "
                      "nothing more is written (--allow-nonfinite writes it anyway)",
                      name, norm.get<double>());
        const std::string norms = norms_json.dump(1) + "\n";
        write_file_atomically(out("grad_norms.json"), [&](OutputFile& f) { f.write(norms); });
        for (std::size_t i = 0; i < grad_names.size(); ++i) {
            const Tensor& g = grads_wanted[i].grad();  // undefined only if the loss ignores it
            save("grad__" + grad_names[i] + ".npy", g.defined() ? g : zeros_like(grads_wanted[i]));
        }
    } else {
        fmt::print(stderr, "inspect: T = 1: no loss.npy or grad_norms.json (no next token)\n");
    }
    if (past_opt->count()) {
        NoGradGuard no_grad;
        gpt::ForwardOutput prefix = model->forward(slice(ids, 1, 0, past));
        save("presents.npy", stack_presents(prefix.presents));
        gpt::ForwardOptions cached;
        cached.past = prefix.presents;
        save("cached_logits.npy", model->forward(slice(ids, 1, past, T), cached).logits);
    }
    return 0;
}

const bool registered = register_command(
    {"inspect", "write GPT-2's logits, hidden states, loss, gradients and cache as .npy files",
     run_inspect});

}  // namespace

}  // namespace gradstack::apps
