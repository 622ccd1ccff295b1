// The training loop (see trainer.h). One optimizer step:
//   for each of grad_accum micro-batches: loss = cross_entropy(model(x), y) / grad_accum; backward
//   clip the global gradient norm; set the scheduled lr; AdamW step; zero the gradients.
// Everything random (initialisation, dropout, batch windows, samples) comes from seeded Philox
// generators whose counters are saved with each checkpoint, so --resume replays the same run.
#include "gpt/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/data.h"
#include "gpt/generation/generate.h"
#include "gpt/tokenizer/tokenizer.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip.h"
#include "nn/optim/schedule.h"
#include "nn/safetensors.h"
#include "tensor/io.h"

namespace gradstack::gpt {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    check(static_cast<bool>(in), "{}: cannot open", p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct TrainerState {
    int64_t step = 0;  // optimizer steps done
    uint64_t sampler_counter = 0, model_counter = 0;
};

void save_checkpoint(const fs::path& out, GPT2LMHeadModel& model, const nn::Optimizer& opt,
                     const TrainerState& st) {
    // Three files, each atomic; the step recorded in all three lets --resume detect a set whose
    // writing was cut short. The model is in Hugging Face's layout so score/generate load it.
    const std::string step = std::to_string(st.step);
    save_safetensors((out / "optimizer.safetensors").string(), opt.state_dict(), {{"step", step}});
    save_pretrained(model, out.string(), {{"step", step}});
    nlohmann::json j = {{"step", st.step},
                        {"sampler_counter", st.sampler_counter},
                        {"model_generator_counter", st.model_counter}};
    write_file_atomically((out / "trainer_state.json").string(),
                          [&](OutputFile& f) { f.write(j.dump(2) + "\n"); });
}

TrainerState load_state(const fs::path& out) {
    fs::path p = out / "trainer_state.json";
    check(fs::exists(p), "{}: missing; --resume needs a run saved by gradstack train in {}",
          p.string(), out.string());
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(read_file(p));
        TrainerState st{j.at("step").get<int64_t>(), j.at("sampler_counter").get<uint64_t>(),
                        j.at("model_generator_counter").get<uint64_t>()};
        return st;
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not a trainer state ({})", p.string(), e.what());
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
        std::string bytes = read_file(src);
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
    while (std::getline(in, line)) {
        int64_t step = std::stoll(line.substr(0, line.find(',')));
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

TrainResult train(const TrainConfig& c, const std::function<void(const std::string&)>& log,
                  const std::atomic<bool>* stop) {
    check(!c.out.empty(), "[train] --out is required");
    check(c.steps > 0 && c.batch_size > 0 && c.grad_accum > 0 && c.context > 1,
          "[train] steps, batch size, grad accumulation must be >= 1 and context >= 2");
    check(c.eval_every > 0 && c.save_every > 0 && c.log_every > 0 && c.eval_batches > 0,
          "[train] eval/save/log intervals and eval batches must be >= 1");
    check(c.lr > 0 && c.min_lr >= 0 && c.min_lr <= c.lr, "[train] need 0 <= min_lr <= lr, lr > 0");
    const fs::path out(c.out);
    fs::create_directories(out);

    // --- tokenizer and model config
    fs::path tok_dir;
    GPT2Config mc;
    if (c.resume) {
        check(fs::exists(out / "config.json"), "{}: no saved run to resume (config.json missing)",
              out.string());
        tok_dir = out;
        mc = load_config((out / "config.json").string());
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
    check(c.context <= mc.n_positions, "[train] context {} is longer than the model's n_positions {}",
          c.context, mc.n_positions);
    check(tok.vocab_size() <= mc.vocab_size, "[train] the tokenizer has {} ids but the model only {}",
          tok.vocab_size(), mc.vocab_size);

    // --- data
    std::vector<fs::path> files = list_data_files(c.data);
    TokenFile tokens = TokenFile::open(files, tok, out / "tokens");
    TrainValSplit split = split_tokens(tokens.size(), c.val_fraction);
    BatchSampler sampler(tokens, split.train, c.batch_size, c.context, c.seed, "train");
    log(fmt::format("data: {} file(s), {} tokens ({} train, {} validation), vocabulary {}",
                    files.size(), tokens.size(), split.train.size(), split.val.size(),
                    tok.vocab_size()));

    // --- model and optimizer
    Generator model_gen(c.seed);  // initialisation, then dropout masks; outlives the model
    GPT2LMHeadModel model(mc, &model_gen);
    if (c.resume) load_weights(model, (out / "model.safetensors").string());
    else if (!c.init_from.empty()) load_weights(model, (fs::path(c.init_from) / "model.safetensors").string());
    model.train();
    nn::AdamW opt(nn::decay_groups(model.named_parameters(), c.weight_decay, c.lr),
                  nn::AdamConfig{.lr = c.lr, .beta1 = c.beta1, .beta2 = c.beta2, .eps = 1e-8,
                                 .weight_decay = c.weight_decay});
    nn::WarmupCosineLr schedule(c.lr, std::min(c.warmup, c.steps), c.steps, c.min_lr);
    MetricsCsv metrics{"step,train_loss,val_loss,val_accuracy,lr,tokens_per_s,elapsed_s", {}};
    TrainerState st;
    if (c.resume) {
        st = load_state(out);
        check_checkpoint_step(out / "model.safetensors", st.step);
        check_checkpoint_step(out / "optimizer.safetensors", st.step);
        opt.load_state_dict(load_safetensors((out / "optimizer.safetensors").string()).tensors());
        sampler.generator().set_counter(st.sampler_counter);
        model_gen.set_counter(st.model_counter);
        metrics.load(out / "metrics.csv", st.step);
        log(fmt::format("resuming at step {} of {}", st.step, c.steps));
    } else {
        copy_tokenizer(tok_dir, out);
    }
    log(fmt::format("model: {} layers, {} heads, {} dims, context {}: {:.2f}M parameters", mc.n_layer,
                    mc.n_head, mc.n_embd, c.context, static_cast<double>(model.num_parameters()) / 1e6));

    auto checkpoint = [&]() {
        st.sampler_counter = sampler.generator().counter();
        st.model_counter = model_gen.counter();
        save_checkpoint(out, model, opt, st);
        metrics.save(out / "metrics.csv");
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
            Tensor y = reshape(b.targets, {-1});
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
            Tensor loss = cross_entropy(reshape(logits, {-1, V}), reshape(b.targets, {-1}));
            (c.grad_accum == 1 ? loss : loss / static_cast<double>(c.grad_accum)).backward();
            step_loss += loss.item() / static_cast<double>(c.grad_accum);
        }
        nn::clip_grad_norm(model.parameters(), c.clip);
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
