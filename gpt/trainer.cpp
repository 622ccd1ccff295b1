// The training loop (see trainer.h). One optimizer step:
//   for each of grad_accum micro-batches: loss = cross_entropy(model(x), y) / grad_accum; backward
//   clip the global gradient norm; set the scheduled lr; AdamW step; zero the gradients.
// Everything random (initialisation, dropout, batch windows, samples) comes from seeded Philox
// generators whose counters are saved with each checkpoint, so --resume replays the same run.
#include "gpt/trainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>

#include "autograd/ops.h"
#include "tensor/kernels/copy.h"
#include "gpt/checkpoint.h"
#include "gpt/data.h"
#include "gpt/generation/generate.h"
#include "gpt/generation/memory.h"
#include "gpt/run_folder.h"
#include "gpt/tokenizer/tokenizer.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip.h"
#include "nn/init.h"
#include "nn/module.h"
#include "nn/optim/schedule.h"
#include "nn/safetensors.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::gpt {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// A tokenizer file's bytes, read through the one rule for file inputs (tensor/io.h).
std::string read_tokenizer_file(const fs::path& p) {
    return read_input_file(p.string(), kMaxTokenizerFileBytes, "a tokenizer file");
}

struct TrainerState {
    int64_t step = 0;  // optimizer steps done
    uint64_t sampler_counter = 0, model_counter = 0;
    nlohmann::json settings;  // the run's TrainConfig (for_each_setting); null in older runs
};

// Every setting of a run by its TrainConfig name, which is its flag's name with '_' for '-':
// saved in trainer_state.json, filled in and compared on --resume.
template <class Config, class F>
void for_each_setting(Config& c, F&& f) {
    f("data", c.data), f("tokenizer", c.tokenizer), f("init_from", c.init_from);
    f("n_layer", c.n_layer), f("n_head", c.n_head), f("n_embd", c.n_embd);
    f("context", c.context), f("dropout", c.dropout);
    f("steps", c.steps), f("batch_size", c.batch_size), f("grad_accum", c.grad_accum);
    f("lr", c.lr), f("min_lr", c.min_lr), f("warmup", c.warmup);
    f("weight_decay", c.weight_decay), f("beta1", c.beta1), f("beta2", c.beta2);
    f("clip", c.clip), f("val_fraction", c.val_fraction), f("seed", c.seed);
    f("eval_every", c.eval_every), f("eval_batches", c.eval_batches);
    f("save_every", c.save_every), f("log_every", c.log_every);
    f("sample_prompt", c.sample_prompt), f("sample_tokens", c.sample_tokens);
}

// Settings that change only what is printed, evaluated or saved when, never the weights (the
// evaluation and the sample draw from generators of their own): a resumed run may change them.
bool changes_weights(std::string_view key) {
    for (std::string_view k : {"eval_every", "eval_batches", "save_every", "log_every",
                               "sample_prompt", "sample_tokens"})
        if (key == k) return false;
    return true;
}

std::string flag_of(std::string_view key) {
    std::string flag = "--" + std::string(key);
    for (char& ch : flag)
        if (ch == '_') ch = '-';
    return flag;
}

// Paths made absolute, so that a resumed run started from another folder compares equal.
TrainConfig with_absolute_paths(TrainConfig c) {
    auto absolute = [](std::string& p) {
        if (!p.empty()) p = fs::weakly_canonical(fs::absolute(p)).string();
    };
    for (std::string& d : c.data) absolute(d);
    absolute(c.tokenizer);
    absolute(c.init_from);
    return c;
}

nlohmann::json settings_json(const TrainConfig& c) {
    nlohmann::json j = nlohmann::json::object();
    for_each_setting(c, [&](const char* key, const auto& value) { j[key] = value; });
    return j;
}

TrainerState load_state(const fs::path& dir) {
    const fs::path p = dir / "trainer_state.json";
    check(fs::exists(p), "{}: missing; --resume needs a run saved by gradstack train",
          p.string());
    try {
        nlohmann::json j = read_json_file(p.string(), 16 * kMiB, "a trainer state");
        TrainerState st{j.at("step").get<int64_t>(), j.at("sampler_counter").get<uint64_t>(),
                        j.at("model_generator_counter").get<uint64_t>(),
                        j.value("settings", nlohmann::json())};
        check(st.step >= 0, "{}: step {} is negative", p.string(), st.step);
        return st;
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not a trainer state ({})", p.string(), e.what());
    }
}

void save_state(const fs::path& dir, const TrainerState& st) {
    nlohmann::json j = {{"step", st.step},
                        {"sampler_counter", st.sampler_counter},
                        {"model_generator_counter", st.model_counter},
                        {"settings", st.settings}};
    write_file_atomically((dir / "trainer_state.json").string(),
                          [&](OutputFile& f) { f.write(j.dump(2) + "\n"); });
}

// On resume, every setting that changes the weights must be the saved one.
void check_same_settings(const TrainConfig& c, const nlohmann::json& saved, const fs::path& file) {
    if (!saved.is_object()) return;  // a run saved before settings were recorded
    const nlohmann::json now = settings_json(with_absolute_paths(c));
    for (const auto& [key, value] : now.items()) {
        if (!changes_weights(key) || !saved.contains(key) || saved[key] == value) continue;
        fail("--resume: {} {} differs from the run's {} {} ({}); a resumed run keeps its own "
             "settings: drop the flag, or start a new run with --overwrite",
             flag_of(key), value.dump().substr(0, 200), flag_of(key),
             saved[key].dump().substr(0, 200), file.string());
    }
}

// The tokenizer folder's two files, under Hugging Face's names (encoder.json / vocab.bpe hold the
// same formats as vocab.json / merges.txt).
std::pair<fs::path, fs::path> tokenizer_files(const fs::path& dir) {
    if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt"))
        return {dir / "vocab.json", dir / "merges.txt"};
    return {dir / "encoder.json", dir / "vocab.bpe"};
}

}  // namespace

void copy_tokenizer(const fs::path& from, const fs::path& to_dir) {
    auto [vocab, merges] = tokenizer_files(from);
    if (fs::absolute(vocab) == fs::absolute(to_dir / "vocab.json")) return;
    for (auto [src, name] : {std::pair{vocab, "vocab.json"}, std::pair{merges, "merges.txt"}}) {
        std::string bytes = read_tokenizer_file(src);
        write_file_atomically((to_dir / name).string(), [&](OutputFile& out) { out.write(bytes); });
    }
}

bool has_tokenizer(const fs::path& dir) {
    auto [vocab, merges] = tokenizer_files(dir);
    return fs::exists(vocab) && fs::exists(merges);
}

void check_checkpoint_step(const fs::path& file, int64_t step, const std::string& state_file) {
    SafetensorsFile f = load_safetensors(file.string());
    auto it = f.metadata().find("step");
    check(it != f.metadata().end() && it->second == std::to_string(step),
          "{}: saved at step {}, but {} says step {}; the checkpoint is incomplete (interrupted "
          "while saving?)",
          file.string(), it == f.metadata().end() ? "?" : it->second, state_file, step);
}

std::string format_duration(double seconds) {
    auto s = static_cast<int64_t>(seconds);
    if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
    if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
    return fmt::format("{}s", s);
}

void MetricsCsv::load(const fs::path& path, int64_t up_to_step) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // header
    for (int64_t number = 2; std::getline(in, line); ++number) {
        int64_t step = 0;
        const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), step);
        check(ec == std::errc() && end != line.data() + line.size() && *end == ',',
              "{}: line {} is not a metrics row (it should start with the step and a comma)",
              path.string(), number);
        if (step <= up_to_step) rows.emplace_back(step, line);
    }
}

void MetricsCsv::save(const fs::path& path) const {
    write_file_atomically(path.string(), [&](OutputFile& out) {
        out.write(header + "\n");
        for (const auto& [step, line] : rows) out.write(line + "\n");
    });
}

bool draw_png(const std::string& png, const std::string& commands, std::string* why) {
    const std::string tmp = png + ".tmp";
    const std::string script = fmt::format(
        "set terminal pngcairo size 1000,700 font 'sans,10'\nset output '{}'\n{}", tmp, commands);
    FILE* gp = popen("gnuplot > /dev/null 2>&1", "w");
    if (gp == nullptr) {
        if (why) *why = "cannot start gnuplot";
        return false;
    }
    std::fwrite(script.data(), 1, script.size(), gp);
    const int rc = pclose(gp);
    std::error_code ec;
    if (rc != 0 || !fs::exists(tmp, ec)) {
        if (why) *why = "gnuplot failed or is not installed (scripts/setup.sh installs gnuplot-nox)";
        fs::remove(tmp, ec);
        return false;
    }
    fs::rename(tmp, png);
    return true;
}

bool plot_metrics(const std::string& dir, std::string* why) {
    const std::string csv = (fs::path(dir) / "metrics.csv").string();
    return draw_png(
        (fs::path(dir) / "metrics.png").string(),
        fmt::format(
            "set datafile separator ','\n"
            "set key autotitle columnhead\n"
            "set multiplot layout 2,1 title 'gradstack train'\n"
            "set xlabel 'step'\n set ylabel 'loss'\n set grid\n"
            "plot '{0}' using 1:2 with lines lw 1.5 title 'train loss', "
            "'' using 1:3 with linespoints pt 7 ps 0.6 lw 2 title 'validation loss'\n"
            "set ylabel 'accuracy'\n"
            "plot '{0}' using 1:4 with linespoints pt 7 ps 0.6 lw 2 title 'validation next-token "
            "accuracy'\n"
            "unset multiplot\n",
            csv),
        why);
}

void validate(const TrainConfig& c) {
    auto at_least = [](const char* flag, int64_t v, int64_t lo) {
        check(v >= lo, "[train] {} {} must be >= {}", flag, v, lo);
    };
    auto in_range = [](const char* flag, double v, double lo, double hi, const char* range) {
        check(std::isfinite(v) && v >= lo && v <= hi, "[train] {} {} must be in {}", flag, v, range);
    };
    check(!c.out.empty(), "[train] --out is required");
    check(!(c.resume && c.overwrite), "[train] --resume continues the run in --out and --overwrite "
          "replaces it: pass one of them");
    check(c.resume || !c.data.empty(), "[train] --data is required (text files or folders)");
    at_least("--steps", c.steps, 1);
    at_least("--batch-size", c.batch_size, 1);
    at_least("--grad-accum", c.grad_accum, 1);
    at_least("--context", c.context, 2);
    at_least("--n-layer", c.n_layer, 1);
    at_least("--n-head", c.n_head, 1);
    at_least("--n-embd", c.n_embd, 1);
    check(c.n_embd % c.n_head == 0, "[train] --n-embd {} must be a multiple of --n-head {}",
          c.n_embd, c.n_head);
    at_least("--warmup", c.warmup, 0);
    at_least("--eval-every", c.eval_every, 1);
    at_least("--eval-batches", c.eval_batches, 1);
    at_least("--save-every", c.save_every, 1);
    at_least("--log-every", c.log_every, 1);
    at_least("--sample-tokens", c.sample_tokens, 0);
    check(std::isfinite(c.lr) && c.lr > 0, "[train] --lr {} must be > 0", c.lr);
    in_range("--min-lr", c.min_lr, 0, c.lr, "[0, --lr]");
    in_range("--dropout", c.dropout, 0, std::nextafter(1.0, 0.0), "[0, 1)");
    in_range("--weight-decay", c.weight_decay, 0, 1e6, "[0, 1e6]");
    in_range("--beta1", c.beta1, 0, std::nextafter(1.0, 0.0), "[0, 1)");
    in_range("--beta2", c.beta2, 0, std::nextafter(1.0, 0.0), "[0, 1)");
    check(std::isfinite(c.clip) && c.clip > 0, "[train] --clip {} must be > 0", c.clip);
    check(std::isfinite(c.val_fraction) && c.val_fraction > 0 && c.val_fraction < 1,
          "[train] --val-fraction {} must be in (0, 1): the validation split is the last part "
          "of the tokens", c.val_fraction);
}

std::optional<SavedRun> saved_run(const std::string& out) {
    const std::optional<fs::path> dir = latest_checkpoint(out);
    if (!dir) return std::nullopt;
    const TrainerState st = load_state(*dir);
    SavedRun r{st.step, TrainConfig{}, st.settings.is_object(), *dir};
    r.config.out = out;
    if (!r.has_settings) return r;
    try {
        for_each_setting(r.config, [&](const char* key, auto& value) {
            if (st.settings.contains(key))
                value = st.settings.at(key).get<std::decay_t<decltype(value)>>();
        });
    } catch (const nlohmann::json::exception& e) {
        fail("{}: a setting has the wrong type ({})", (*dir / "trainer_state.json").string(), e.what());
    }
    return r;
}

TrainConfig resumed_config(const TrainConfig& given, const std::vector<std::string>& given_keys) {
    const std::optional<SavedRun> saved = saved_run(given.out);
    check(saved.has_value(), "--resume: {} holds no complete checkpoint to continue", given.out);
    if (!saved->has_settings) return given;
    // Flags not given take the saved values; what remains different came from a given flag.
    TrainConfig c = with_absolute_paths(given);
    const nlohmann::json saved_settings = settings_json(saved->config);
    for_each_setting(c, [&](const char* key, auto& value) {
        if (std::find(given_keys.begin(), given_keys.end(), key) == given_keys.end())
            value = saved_settings.at(key).get<std::decay_t<decltype(value)>>();
    });
    check_same_settings(c, saved_settings, saved->checkpoint / "trainer_state.json");
    return c;
}

TrainResult train(const TrainConfig& c, const std::function<void(const std::string&)>& log,
                  const std::atomic<bool>* stop) {
    validate(c);
    const fs::path out(c.out);
    RunFolder run(out, "gradstack train");
    if (!c.resume && !c.overwrite && run.holds_run()) {
        fail("--out {} already holds a training run; pass --resume to continue it, or "
             "--overwrite to start a new one there (its checkpoint is replaced by the new run's "
             "first), or choose another --out", c.out);
    }
    if (const int stale = run.clean_stale(); stale > 0)
        log(fmt::format("removed {} leftover(s) of an interrupted save in {}", stale, out.string()));

    // --- tokenizer and model config
    fs::path tok_dir;
    GPT2Config mc;
    TrainerState st;
    fs::path ckpt;  // the checkpoint resumed from
    if (c.resume) {
        std::optional<fs::path> latest = run.latest();
        check(latest.has_value(), "--resume: {} holds no complete checkpoint to continue (the "
              "run was stopped before its first save); start it again with --overwrite", c.out);
        ckpt = *latest;
        run.publish_latest();
        st = load_state(ckpt);
        check_same_settings(c, st.settings, ckpt / "trainer_state.json");
        tok_dir = has_tokenizer(ckpt) ? ckpt : out;
        mc = load_config((ckpt / "config.json").string());
    } else if (!c.init_from.empty()) {
        mc = load_config((fs::path(c.init_from) / "config.json").string());
        tok_dir = has_tokenizer(c.init_from) ? fs::path(c.init_from)
                  : c.tokenizer.empty()     ? default_tokenizer_dir()
                                            : fs::path(c.tokenizer);
    } else {
        tok_dir = c.tokenizer.empty() ? default_tokenizer_dir() : fs::path(c.tokenizer);
    }
    check(has_tokenizer(tok_dir), "{}: no tokenizer files (vocab.json + merges.txt or encoder.json + "
          "vocab.bpe); pass --tokenizer DIR or run scripts/setup.sh", tok_dir.string());
    Tokenizer tok = Tokenizer::from_directory(tok_dir);
    if (c.init_from.empty() && !c.resume) {
        mc.vocab_size = tok.vocab_size();
        mc.n_positions = c.context;
        mc.n_layer = c.n_layer;
        mc.n_head = c.n_head;
        mc.n_embd = c.n_embd;
        mc.n_inner = 0;
        mc.resid_pdrop = mc.embd_pdrop = mc.attn_pdrop = c.dropout;
        mc.bos_token_id = mc.eos_token_id = tok.eot_id() >= 0 ? tok.eot_id() : 0;
        mc.validate("[train] model settings");
    }
    check(c.context <= mc.n_positions, "[train] --context {} is longer than the model's n_positions {}",
          c.context, mc.n_positions);
    check(tok.vocab_size() <= mc.vocab_size, "[train] the tokenizer has {} ids but the model only {}",
          tok.vocab_size(), mc.vocab_size);
    // Memory, before anything is allocated: weights, gradients and AdamW's two moments (4 floats a
    // parameter), plus what one micro-batch keeps for its backward.
    const double params = mc.parameter_count();
    check_memory(16 * params + estimate_forward_memory(mc, c.batch_size, c.context, true), "train",
                 fmt::format("{:.1f}M parameters x 16 bytes for weights, gradients and AdamW's "
                             "moments, plus the activations of a {} x {} micro-batch",
                             params / 1e6, c.batch_size, c.context),
                 "use a smaller model, --batch-size (with --grad-accum) or --context");
    // The tokenizer goes into every checkpoint, from these bytes (read once: the source folder
    // may change while the run goes on).
    const auto [vocab_file, merges_file] = tokenizer_files(tok_dir);
    const std::string vocab_bytes = read_tokenizer_file(vocab_file);
    const std::string merges_bytes = read_tokenizer_file(merges_file);

    // --- data: both splits must hold a window of context + 1 tokens, checked before any work
    std::vector<fs::path> files = list_data_files(c.data);
    TokenFile tokens = TokenFile::open(files, tok, out / "tokens");
    TrainValSplit split = split_tokens(tokens.size(), c.val_fraction);
    for (const auto& [name, range] : {std::pair{"training", split.train}, std::pair{"validation", split.val}}) {
        check(range.size() > c.context, "[train] the {} split holds {} tokens, fewer than --context {} "
              "+ 1: use more text, a shorter --context or another --val-fraction ({} now; {} tokens "
              "in all)", name, range.size(), c.context, c.val_fraction, tokens.size());
    }
    BatchSampler sampler(tokens, split.train, c.batch_size, c.context, c.seed, "train");
    log(fmt::format("data: {} file(s), {} tokens ({} train, {} validation), vocabulary {}",
                    files.size(), tokens.size(), split.train.size(), split.val.size(),
                    tok.vocab_size()));

    // --- model and optimizer
    Generator model_gen(c.seed);  // initialisation, then dropout masks; outlives the model
    std::optional<nn::init::SkipInitGuard> loading;  // weights about to be loaded: none drawn
    if (c.resume || !c.init_from.empty()) loading.emplace();
    GPT2LMHeadModel model(mc, &model_gen);
    loading.reset();
    if (c.resume) load_weights(model, (ckpt / "model.safetensors").string());
    else if (!c.init_from.empty()) load_weights(model, (fs::path(c.init_from) / "model.safetensors").string());
    model.train();
    model.to(c.device);  // before the optimizer: its moments are made where the weights are
    nn::AdamW opt(nn::decay_groups(model.named_parameters(), c.weight_decay, c.lr),
                  nn::AdamConfig{.lr = c.lr, .beta1 = c.beta1, .beta2 = c.beta2, .eps = 1e-8,
                                 .weight_decay = c.weight_decay});
    nn::WarmupCosineLr schedule(c.lr, std::min(c.warmup, c.steps), c.steps, c.min_lr);
    MetricsCsv metrics{"step,train_loss,val_loss,val_accuracy,lr,tokens_per_s,elapsed_s", {}};
    if (c.resume) {
        check_checkpoint_step(ckpt / "model.safetensors", st.step);
        check_checkpoint_step(ckpt / "optimizer.safetensors", st.step);
        opt.load_state_dict(load_safetensors((ckpt / "optimizer.safetensors").string()).tensors());
        sampler.generator().set_counter(st.sampler_counter);
        model_gen.set_counter(st.model_counter);
        metrics.load(fs::exists(ckpt / "metrics.csv") ? ckpt / "metrics.csv" : out / "metrics.csv", st.step);
        log(fmt::format("resuming at step {} of {} from {}", st.step, c.steps, ckpt.string()));
    }
    st.settings = settings_json(with_absolute_paths(c));
    log(fmt::format("model: {} layers, {} heads, {} dims, context {}: {:.2f}M parameters", mc.n_layer,
                    mc.n_head, mc.n_embd, c.context, static_cast<double>(model.num_parameters()) / 1e6));

    // One checkpoint, as a unit (run_folder.h): the files of this step in a new folder, then the
    // pointer. A model the update made non-finite is never saved.
    auto checkpoint = [&]() {
        const std::string bad = nn::first_nonfinite(model.named_parameters());
        check(bad.empty(), "[train] step {}: '{}' is not finite: the run diverged (lower --lr, now "
              "{}); not saved, the last checkpoint in {} is kept", st.step, bad, c.lr, out.string());
        st.sampler_counter = sampler.generator().counter();
        st.model_counter = model_gen.counter();
        run.commit(st.step, [&](const fs::path& dir) {
            // The step recorded in each file lets --resume detect a set mixed by hand.
            const std::string step = std::to_string(st.step);
            save_safetensors((dir / "optimizer.safetensors").string(), opt.state_dict(), {{"step", step}});
            save_point();
            save_pretrained(model, dir.string(), {{"step", step}});
            save_point();
            metrics.save(dir / "metrics.csv");
            save_point();
            for (auto [name, bytes] : {std::pair{"vocab.json", &vocab_bytes}, std::pair{"merges.txt", &merges_bytes}}) {
                write_file_atomically((dir / name).string(), [&](OutputFile& f) { f.write(*bytes); });
                save_point();
            }
            save_state(dir, st);  // last: its presence marks the folder as a checkpoint
        });
    };
    const int64_t V = mc.vocab_size;
    auto evaluate = [&]() -> std::pair<double, double> {
        NoGradGuard no_grad;
        model.eval();
        BatchSampler val(tokens, split.val, c.batch_size, c.context, c.seed + 1, "validation");
        double loss = 0, correct = 0, count = 0;
        for (int64_t i = 0; i < c.eval_batches; ++i) {
            Batch b = val.next();
            ForwardOptions o;
            o.use_cache = false;
            Tensor logits = reshape(model.forward(b.inputs, o).logits, {-1, V});
            Tensor y = reshape(kernels::to_device(b.targets, logits.device()), {-1});
            loss += cross_entropy(logits, y).item();
            correct += sum(to_dtype(eq(argmax(logits, -1), y), DType::i64)).item();
            count += static_cast<double>(y.numel());
        }
        model.train();
        return {loss / static_cast<double>(c.eval_batches), correct / count};
    };
    auto sample = [&]() {
        GenerationConfig g;
        g.max_new_tokens = std::min<int64_t>(c.sample_tokens, mc.n_positions - 1);
        g.do_sample = true;
        g.top_k = 40;
        g.temperature = 0.8;
        g.eos_token_id = tok.eot_id();
        g.bos_token_id = mc.bos_token_id;
        g.seed = c.seed;
        std::vector<int64_t> prompt = tok.encode(c.sample_prompt);
        if (static_cast<int64_t>(prompt.size()) + g.max_new_tokens > mc.n_positions) prompt.clear();
        auto r = generate(model, {prompt}, g);
        return c.sample_prompt + tok.decode_text(r[0][0].new_ids);
    };

    TrainResult result;
    if (st.step >= c.steps)
        log(fmt::format("the run in {} is complete: step {} of {}", out.string(), st.step, c.steps));
    const auto start = Clock::now();
    auto window_start = Clock::now();
    int64_t window_steps = 0;
    double window_loss = 0;
    const int64_t tokens_per_step = c.batch_size * c.context * c.grad_accum;
    while (st.step < c.steps) {
        double step_loss = 0;
        for (int64_t micro = 0; micro < c.grad_accum; ++micro) {
            Batch b = sampler.next();
            ForwardOptions o;
            o.use_cache = false;
            Tensor logits = model.forward(b.inputs, o).logits;
            Tensor loss = cross_entropy(reshape(logits, {-1, V}),
                                        reshape(kernels::to_device(b.targets, logits.device()), {-1}));
            (c.grad_accum == 1 ? loss : loss / static_cast<double>(c.grad_accum)).backward();
            step_loss += loss.item() / static_cast<double>(c.grad_accum);
        }
        // A diverged step stops here, before the optimizer touches the weights: nothing of it is
        // saved and the last checkpoint stays the run's state.
        const double grad_norm = nn::clip_grad_norm(model.parameters(), c.clip);
        if (!std::isfinite(step_loss) || !std::isfinite(grad_norm)) {
            const std::optional<fs::path> kept = run.latest();
            fail("[train] step {}: the {} is {}: the run diverged (lower --lr, now {}, or raise "
                 "--warmup); this step was not saved, {}", st.step + 1,
                 std::isfinite(step_loss) ? "gradient norm" : "loss",
                 std::isfinite(step_loss) ? grad_norm : step_loss, c.lr,
                 kept ? fmt::format("the last checkpoint (step {}) in {} is kept", load_state(*kept).step, out.string())
                      : std::string("no checkpoint was saved yet"));
        }
        const double lr = schedule(st.step);
        opt.set_lr(lr);
        opt.step();
        opt.zero_grad();
        ++st.step;
        result.train_losses.push_back(step_loss);
        result.last_train_loss = step_loss;
        window_loss += step_loss;
        ++window_steps;

        const bool eval_now = st.step % c.eval_every == 0 || st.step == c.steps;
        if (st.step % c.log_every == 0 || eval_now) {
            double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
            double tps = static_cast<double>(window_steps * tokens_per_step) / secs;
            double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
            double eta = secs / static_cast<double>(window_steps) * static_cast<double>(c.steps - st.step);
            log(fmt::format("step {:>6}/{} | loss {:.4f} | lr {:.2e} | {:.0f} tok/s | ETA {}", st.step,
                            c.steps, window_loss / static_cast<double>(window_steps), lr, tps,
                            format_duration(eta)));
            std::string row = fmt::format("{},{:.6f},,,{:.6e},{:.1f},{:.1f}", st.step,
                                          window_loss / static_cast<double>(window_steps), lr, tps, elapsed);
            if (eval_now) {
                auto [vl, va] = evaluate();
                result.last_val_loss = vl;
                result.last_val_accuracy = va;
                row = fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6e},{:.1f},{:.1f}", st.step,
                                  window_loss / static_cast<double>(window_steps), vl, va, lr, tps, elapsed);
                log(fmt::format("eval at step {}: validation loss {:.4f}, next-token accuracy {:.2f}%",
                                st.step, vl, 100 * va));
                log("sample: " + sample());
            }
            metrics.add(st.step, row);
            window_start = Clock::now();
            window_steps = 0;
            window_loss = 0;
        }
        const bool stopping = stop != nullptr && stop->load();
        if (st.step % c.save_every == 0 || st.step == c.steps || stopping) {
            checkpoint();
            std::string why;
            if (!plot_metrics(c.out, &why)) log("metrics.png not drawn: " + why);
        }
        if (stopping) {
            result.interrupted = true;
            log(fmt::format("interrupted at step {}; checkpoint saved in {} (continue with --resume)",
                            st.step, out.string()));
            break;
        }
    }
    result.steps_done = st.step;
    return result;
}

}  // namespace gradstack::gpt
