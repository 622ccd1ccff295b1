// The two training loops (see train.h). One VAE step:
//   sentences ~ the training set (seeded); eps ~ N(0, I); z = mu + sigma eps
//   loss = rec + beta(step) KL_free_bits [+ ddpm_weight * ddpm_loss(z)]; backward; clip; AdamW
// One diffusion step: latents z = mu + sigma eps of training sentences under the frozen VAE,
// standardised; loss = ddpm_loss; backward; clip; AdamW.
#include "vae/train.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/run_folder.h"
#include "gpt/trainer.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip.h"
#include "nn/optim/schedule.h"
#include "nn/safetensors.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "vae/data.h"
#include "vae/latent_diffusion.h"
#include "vae/model.h"

namespace gradstack::vae {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// An --out folder holding a run is only continued, never overwritten.
void check_out(const fs::path& out, bool resume, const char* what) {
    const bool has_run = fs::exists(out / "trainer_state.json") || fs::exists(out / "checkpoints");
    check(resume || !has_run,
          "--out {}: already holds a {} run; pass --resume to continue it, or choose another "
          "--out (nothing was overwritten)",
          out.string(), what);
    check(!resume || has_run, "--resume: {} holds no run to continue (no trainer_state.json)",
          out.string());
}

// The run folder (gpt/run_folder.h: each checkpoint a unit in checkpoints/step-N, a lock,
// leftovers cleaned) and, with --resume, the checkpoint to continue from.
fs::path open_run(gpt::RunFolder& run, bool resume, const Log& log) {
    if (const int stale = run.clean_stale(); stale > 0)
        log(fmt::format("removed {} leftover(s) of an interrupted save in {}", stale, run.path().string()));
    if (!resume) return run.path();
    const std::optional<fs::path> latest = run.latest();
    check(latest.has_value(), "--resume: {} holds no complete checkpoint to continue",
          run.path().string());
    run.publish_latest();
    return *latest;
}

nlohmann::json read_json(const fs::path& p) {
    return read_json_file(p.string(), 16 * kMiB, "a training state");
}

void write_json(const fs::path& p, const nlohmann::json& j) {
    write_file_atomically(p.string(), [&](OutputFile& f) { f.write(j.dump(2) + "\n"); });
}

// After step `step`: checkpoints every save_every steps, at the end, and when stopping (Ctrl-C
// or --stop-at). Returns whether to stop.
struct StepPlan {
    int64_t step, steps, save_every, stop_at;
};
bool save_or_stop(const StepPlan& p, const std::atomic<bool>* stop,
                  const std::function<void()>& checkpoint, const fs::path& out, const Log& log,
                  TrainSummary& summary) {
    const bool interrupted = stop != nullptr && stop->load();
    const bool stopping = interrupted || (p.stop_at > 0 && p.step == p.stop_at);
    if (p.step % p.save_every == 0 || p.step == p.steps || stopping) checkpoint();
    if (stopping) {
        summary.interrupted = interrupted;
        log(fmt::format("{} at step {}; checkpoint saved in {} (continue with --resume)",
                        interrupted ? "interrupted" : "stopped (--stop-at)", p.step, out.string()));
    }
    return stopping;
}

// The rows of `sentences` at `idx`.
std::vector<std::vector<int64_t>> pick(const std::vector<std::vector<int64_t>>& sentences,
                                       const Tensor& idx) {
    std::vector<std::vector<int64_t>> out;
    for (int64_t i : to_vector<int64_t>(idx)) out.push_back(sentences[i]);
    return out;
}

nn::NamedTensors with_prefix(const nn::NamedTensors& named, const std::string& prefix) {
    nn::NamedTensors out;
    for (const auto& [n, t] : named) out.emplace_back(prefix + n, t);
    return out;
}

// Whether column `col` (0-based) of any row has a value: gnuplot stops at a series with none.
bool has_values(const gpt::MetricsCsv& m, int col) {
    for (const auto& [step, line] : m.rows) {
        std::size_t pos = 0;
        for (int k = 0; k < col && pos != std::string::npos; ++k) pos = line.find(',', pos) + 1;
        if (pos == 0 || pos >= line.size()) continue;
        if (line[pos] != ',') return true;
    }
    return false;
}

// A gnuplot panel of the columns `cols` (1-based, titled) that have values; "" when none has.
std::string panel(const gpt::MetricsCsv& m, const std::string& csv, const std::string& ylabel,
                  const std::vector<std::pair<int, std::string>>& cols) {
    std::string series;
    for (const auto& [col, title] : cols) {
        if (!has_values(m, col - 1)) continue;
        series += fmt::format("{}'{}' using 1:{} with linespoints pt 7 ps 0.4 title '{}'",
                              series.empty() ? "" : ", ", csv, col, title);
    }
    if (series.empty()) series = "0 with lines title 'no values yet'";
    return fmt::format("set ylabel '{}'\nplot {}\n", ylabel, series);
}

void plot_vae(const fs::path& out, const gpt::MetricsCsv& m, const Log& log) {
    const std::string csv = (out / "metrics.csv").string();
    std::string why;
    const std::string script =
        "set datafile separator ','\nset grid\nset xlabel 'step'\n"
        "set multiplot layout 2,2 title 'gradstack vae train'\n" +
        panel(m, csv, "nats / token", {{4, "train reconstruction"}, {8, "validation"}}) +
        panel(m, csv, "nats / sentence", {{5, "train KL"}, {9, "validation KL"}, {6, "beta"}}) +
        panel(m, csv, "latent dims", {{10, "active units"}}) +
        panel(m, csv, "mse", {{7, "ddpm loss (joint training)"}}) + "unset multiplot\n";
    if (!gpt::draw_png((out / "metrics.png").string(), script, &why))
        log("metrics.png not drawn: " + why);
}

// The settings both training loops share.
template <class Config>
void check_loop_settings(const Config& c) {
    check(c.steps >= 1 && c.batch_size >= 1, "--steps and --batch-size must be >= 1");
    check(c.lr > 0 && c.min_lr >= 0 && c.min_lr <= c.lr, "need 0 <= --min-lr <= --lr and --lr > 0");
    check(c.warmup >= 0 && c.clip > 0 && c.weight_decay >= 0,
          "--warmup and --weight-decay must be >= 0 and --clip > 0");
    check(c.eval_every >= 1 && c.save_every >= 1 && c.log_every >= 1,
          "--eval-every, --save-every and --log-every must be >= 1");
    check(c.stop_at >= 0, "--stop-at must be >= 0, got {}", c.stop_at);
}

}  // namespace

void validate(const VaeTrainConfig& c) {
    check(!c.data.empty(), "--data: give at least one file or folder");
    check(!c.out.empty(), "--out is required");
    check(c.latent >= 1, "--latent must be >= 1, got {}", c.latent);
    check(c.conditioning == "both" || c.conditioning == "embedding" || c.conditioning == "memory",
          "--conditioning {}: use both, embedding or memory", c.conditioning);
    check(c.max_length >= 1, "--max-length must be >= 1, got {}", c.max_length);
    check(c.encoder_layers >= 0, "--encoder-layers must be >= 0, got {}", c.encoder_layers);
    check_loop_settings(c);
    check(c.val_fraction >= 0 && c.val_fraction < 1, "--val-fraction must be in [0, 1), got {}",
          c.val_fraction);
    check(c.free_bits >= 0, "--free-bits must be >= 0, got {}", c.free_bits);
    check(c.ddpm_weight >= 0, "--ddpm-weight must be >= 0, got {}", c.ddpm_weight);
    check(c.dropout >= 0 && c.dropout < 1, "--dropout must be in [0, 1), got {}", c.dropout);
    KlSchedule{c.beta, c.kl_cycles, c.kl_ratio_zero, c.kl_ratio_increase, c.steps}.validate();
    if (c.ddpm_weight > 0) {
        NoiseSchedule::make(c.schedule, c.timesteps);
        DenoiserConfig{c.latent, c.hidden, c.layers, c.time_dim}.validate();
    }
    for (const std::string& d : c.data)
        check(fs::exists(d), "--data {}: no such file or folder", d);
    if (!c.init_from.empty())
        check(fs::exists(fs::path(c.init_from) / "config.json"),
              "--init-from {}: not a GPT-2 folder (no config.json)", c.init_from);
}

void validate(const DiffusionTrainConfig& c) {
    check(!c.vae.empty() && !c.out.empty(), "--vae and --out are required");
    NoiseSchedule::make(c.schedule, c.timesteps);
    DenoiserConfig{1, c.hidden, c.layers, c.time_dim}.validate();
    check_loop_settings(c);
    load_vae_config(c.vae);  // a VAE folder, or a clear error
    for (const std::string& d : c.data)
        check(fs::exists(d), "--data {}: no such file or folder", d);
}

TrainSummary train_vae(const VaeTrainConfig& c, const Log& log, const std::atomic<bool>* stop) {
    validate(c);
    const fs::path out(c.out);
    check_out(out, c.resume, "VAE");
    gpt::RunFolder run(out, "gradstack vae train");
    const fs::path ckpt = open_run(run, c.resume, log);

    // --- config and tokenizer
    VaeConfig vc;
    fs::path tok_dir;
    if (c.resume) {
        vc = load_vae_config(ckpt.string());
        tok_dir = ckpt;
    } else {
        if (!c.init_from.empty()) {
            vc.gpt = gpt::load_config((fs::path(c.init_from) / "config.json").string());
            tok_dir = gpt::has_tokenizer(c.init_from) ? fs::path(c.init_from)
                      : c.tokenizer.empty()          ? gpt::default_tokenizer_dir()
                                                     : fs::path(c.tokenizer);
        } else {
            tok_dir = c.tokenizer.empty() ? gpt::default_tokenizer_dir() : fs::path(c.tokenizer);
        }
        vc.latent = c.latent;
        vc.encoder_layers = c.encoder_layers;
        vc.embedding_conditioning = c.conditioning != "memory";
        vc.memory_conditioning = c.conditioning != "embedding";
        vc.max_length = c.max_length;
    }
    check(gpt::has_tokenizer(tok_dir), "{}: no tokenizer files (vocab.json + merges.txt); pass "
          "--tokenizer DIR or run scripts/setup.sh", tok_dir.string());
    gpt::Tokenizer tok = gpt::Tokenizer::from_directory(tok_dir);
    if (!c.resume && c.init_from.empty()) {
        gpt::GPT2Config& g = vc.gpt;
        g.vocab_size = tok.vocab_size();
        g.n_positions = c.max_length + 3;
        g.n_layer = c.n_layer;
        g.n_head = c.n_head;
        g.n_embd = c.n_embd;
        g.resid_pdrop = g.embd_pdrop = g.attn_pdrop = c.dropout;
        g.bos_token_id = g.eos_token_id = tok.eot_id() >= 0 ? tok.eot_id() : 0;
    }
    vc.validate();
    check(tok.vocab_size() <= vc.gpt.vocab_size, "the tokenizer has {} ids but the model only {}",
          tok.vocab_size(), vc.gpt.vocab_size);

    // --- data
    SentenceSet data = tokenize_records(read_records(c.data), tok, vc.max_length, c.val_fraction,
                                        c.seed);
    log(fmt::format("data: {} records, {} longer than {} tokens left out; {} train, {} validation",
                    data.records, data.too_long, vc.max_length, data.train.size(), data.val.size()));
    const std::vector<std::vector<int64_t>>& val = data.val.size() >= 2 ? data.val : data.train;
    // The held-out sentences, one per line, for `gradstack vae eval --data <out>/val.txt`.
    write_file_atomically((out / "val.txt").string(), [&](OutputFile& f) {
        for (const auto& s : data.val) f.write(tok.decode_text(s) + "\n");
    });

    // --- model, optional denoiser, optimizer
    Generator model_gen(c.seed), sampler_gen(c.seed + 1), noise_gen(c.seed + 2);
    TextVae vae(vc, &model_gen);
    if (!c.resume && !c.init_from.empty()) vae.load_from_gpt2(*gpt::load_pretrained(c.init_from));
    const bool joint = c.ddpm_weight > 0;
    std::unique_ptr<LatentDiffusion> diff;
    if (joint)
        diff = std::make_unique<LatentDiffusion>(
            DenoiserConfig{vc.latent, c.hidden, c.layers, c.time_dim}, c.schedule, c.timesteps,
            &model_gen);
    nn::NamedTensors params = vae.named_parameters();
    if (joint)
        for (auto& p : with_prefix(diff->net->named_parameters(), "diffusion.")) params.push_back(p);
    std::vector<Tensor> all_params;
    for (auto& [n, p] : params) all_params.push_back(p);
    nn::AdamW opt(nn::decay_groups(params, c.weight_decay, c.lr),
                  nn::AdamConfig{.lr = c.lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                 .weight_decay = c.weight_decay});
    nn::WarmupCosineLr lr_at(c.lr, std::min(c.warmup, c.steps), c.steps, c.min_lr);
    const KlSchedule beta_at{c.beta, c.kl_cycles, c.kl_ratio_zero, c.kl_ratio_increase, c.steps};
    gpt::MetricsCsv metrics{"step,loss,rec,rec_per_token,kl,beta,ddpm,val_rec_per_token,val_kl,"
                            "active_units,lr,tokens_per_s,elapsed_s",
                            {}};
    int64_t step = 0;
    if (c.resume) {
        nlohmann::json st = read_json(ckpt / "trainer_state.json");
        step = st.at("step").get<int64_t>();
        gpt::check_checkpoint_step(ckpt / "model.safetensors", step);
        gpt::check_checkpoint_step(ckpt / "optimizer.safetensors", step);
        vae.load_state_dict(load_safetensors((ckpt / "model.safetensors").string()).tensors());
        if (joint) {
            check(fs::exists(ckpt / "diffusion" / "denoiser.safetensors"),
                  "--resume: {} was not trained with --ddpm-weight > 0", out.string());
            diff->net->load_state_dict(
                load_safetensors((ckpt / "diffusion" / "denoiser.safetensors").string()).tensors());
        }
        opt.load_state_dict(load_safetensors((ckpt / "optimizer.safetensors").string()).tensors());
        model_gen.set_counter(st.at("model_counter").get<uint64_t>());
        sampler_gen.set_counter(st.at("sampler_counter").get<uint64_t>());
        noise_gen.set_counter(st.at("noise_counter").get<uint64_t>());
        metrics.load(fs::exists(ckpt / "metrics.csv") ? ckpt / "metrics.csv" : out / "metrics.csv", step);
        log(fmt::format("resuming at step {} of {}", step, c.steps));
    } else {
        gpt::copy_tokenizer(tok_dir, out);  // the source of each checkpoint's copy
    }
    vae.train();
    log(fmt::format("model: encoder {} layers, decoder {} layers, {} dims, latent {}, "
                    "conditioning {}{}: {:.2f}M parameters",
                    vc.encoder_depth(), vc.gpt.n_layer, vc.gpt.n_embd, vc.latent,
                    vc.embedding_conditioning && vc.memory_conditioning ? "embedding + memory"
                    : vc.embedding_conditioning                         ? "embedding"
                                                                        : "memory",
                    joint ? fmt::format(", joint DDPM weight {}", c.ddpm_weight) : "",
                    static_cast<double>(vae.num_parameters()) / 1e6));

    const nlohmann::json extra = {{"train_data", c.data}, {"val_fraction", c.val_fraction},
                                  {"seed", c.seed}};
    auto checkpoint = [&]() {
        const std::map<std::string, std::string> meta{{"step", std::to_string(step)}};
        run.commit(step, [&](const fs::path& dir) {
            save_safetensors((dir / "optimizer.safetensors").string(), opt.state_dict(), meta);
            gpt::save_point();
            save_vae(vae, dir.string(), meta, extra);
            gpt::save_point();
            if (joint) save_diffusion(*diff, (dir / "diffusion").string(), meta);
            gpt::copy_tokenizer(out, dir);
            metrics.save(dir / "metrics.csv");
            gpt::save_point();
            write_json(dir / "trainer_state.json", {{"step", step},
                                                    {"model_counter", model_gen.counter()},
                                                    {"sampler_counter", sampler_gen.counter()},
                                                    {"noise_counter", noise_gen.counter()}});
        });
        plot_vae(out, metrics, log);
    };
    // Validation: reconstruction per token and KL per sentence at sampled z (a fixed noise
    // seed), active units from the posterior means, and the joint DDPM loss.
    struct Eval { double rec_per_token, kl; int64_t au; double ddpm; };
    auto evaluate = [&]() {
        NoGradGuard ng;
        vae.eval();
        Generator g(c.seed + 3);
        double rec = 0, kl = 0, ddpm = 0;
        int64_t tokens = 0, n = 0, batches = 0;
        const std::size_t limit = std::min<std::size_t>(val.size(), 512);
        for (std::size_t i = 0; i < limit; i += static_cast<std::size_t>(c.batch_size)) {
            std::vector<std::vector<int64_t>> part(
                val.begin() + static_cast<std::ptrdiff_t>(i),
                val.begin() + static_cast<std::ptrdiff_t>(std::min(limit, i + c.batch_size)));
            TextBatch b = make_batch(part, vae.bos(), vae.eos());
            const auto B = static_cast<int64_t>(part.size());
            VaeLoss l = vae.loss(b, randn({B, vc.latent}, DType::f32, &g), 1.0, 0.0);
            rec += l.rec.item() * static_cast<double>(B);
            kl += l.kl_raw * static_cast<double>(B);
            tokens += b.tokens;
            n += B;
            if (joint) ddpm += ddpm_loss(*diff->net, diff->schedule, l.z, &g).item();
            ++batches;
        }
        std::vector<std::vector<int64_t>> head(val.begin(), val.begin() + static_cast<std::ptrdiff_t>(limit));
        Posterior q = vae.encode_all(head);
        vae.train();
        return Eval{rec / static_cast<double>(tokens), kl / static_cast<double>(n),
                    active_units(q.mu), joint ? ddpm / static_cast<double>(batches) : 0.0};
    };

    TrainSummary summary;
    const auto start = Clock::now();
    auto window_start = Clock::now();
    int64_t window_steps = 0, window_tokens = 0;
    double w_loss = 0, w_rec = 0, w_rec_tok = 0, w_kl = 0, w_ddpm = 0;
    const auto n_train = static_cast<int64_t>(data.train.size());
    while (step < c.steps) {
        TextBatch b = make_batch(pick(data.train, randint(0, n_train, {c.batch_size}, &sampler_gen)),
                                 vae.bos(), vae.eos());
        const double beta = beta_at(step);
        VaeLoss l = vae.loss(b, randn({c.batch_size, vc.latent}, DType::f32, &noise_gen), beta,
                             c.free_bits);
        Tensor total = l.total;
        double ddpm = 0;
        if (joint) {
            Tensor d = ddpm_loss(*diff->net, diff->schedule, l.z, &noise_gen);
            ddpm = d.item();
            total = total + d * c.ddpm_weight;
        }
        total.backward();
        nn::clip_grad_norm(all_params, c.clip);
        const double lr = lr_at(step);
        opt.set_lr(lr);
        opt.step();
        opt.zero_grad();
        ++step;
        const double loss_v = total.item(), rec_v = l.rec.item();
        summary.losses.push_back(loss_v);
        w_loss += loss_v;
        w_rec += rec_v;
        w_rec_tok += rec_v * static_cast<double>(c.batch_size) / static_cast<double>(b.tokens);
        w_kl += l.kl_raw;
        w_ddpm += ddpm;
        window_tokens += b.tokens;
        ++window_steps;

        const bool eval_now = step % c.eval_every == 0 || step == c.steps;
        if (step % c.log_every == 0 || eval_now) {
            const double secs = seconds_since(window_start), k = static_cast<double>(window_steps);
            const double tps = static_cast<double>(window_tokens) / secs;
            const double eta = secs / k * static_cast<double>(c.steps - step);
            log(fmt::format("step {:>6}/{} | loss {:.3f} | rec {:.3f}/tok | kl {:.3f} | beta "
                            "{:.2f}{} | {:.0f} tok/s | ETA {}",
                            step, c.steps, w_loss / k, w_rec_tok / k, w_kl / k, beta,
                            joint ? fmt::format(" | ddpm {:.4f}", w_ddpm / k) : "", tps,
                            gpt::format_duration(eta)));
            std::string evals = ",,";
            std::string au;
            if (eval_now) {
                Eval e = evaluate();
                evals = fmt::format("{:.6f},{:.6f}", e.rec_per_token, e.kl);
                au = std::to_string(e.au);
                log(fmt::format("eval at step {}: validation rec {:.4f}/tok, KL {:.3f}, active "
                                "units {}/{}{}",
                                step, e.rec_per_token, e.kl, e.au, vc.latent,
                                joint ? fmt::format(", ddpm {:.4f}", e.ddpm) : ""));
            }
            metrics.add(step, fmt::format("{},{:.6f},{:.6f},{:.6f},{:.6f},{:.4f},{},{},{},{:.6e},"
                                          "{:.1f},{:.1f}",
                                          step, w_loss / k, w_rec / k, w_rec_tok / k, w_kl / k,
                                          beta, joint ? fmt::format("{:.6f}", w_ddpm / k) : "",
                                          evals, au, lr, tps, seconds_since(start)));
            window_start = Clock::now();
            window_steps = window_tokens = 0;
            w_loss = w_rec = w_rec_tok = w_kl = w_ddpm = 0;
        }
        if (save_or_stop({step, c.steps, c.save_every, c.stop_at}, stop, checkpoint, out, log,
                         summary))
            break;
    }
    summary.steps_done = step;
    return summary;
}

TrainSummary train_diffusion(const DiffusionTrainConfig& c, const Log& log,
                             const std::atomic<bool>* stop) {
    validate(c);
    const fs::path out(c.out);
    check_out(out, c.resume, "diffusion");
    gpt::RunFolder run(out, "gradstack vae diffusion-train");
    const fs::path ckpt = open_run(run, c.resume, log);
    nlohmann::json raw;
    VaeConfig vc = load_vae_config(c.vae, &raw);
    auto vae = load_vae(c.vae);
    gpt::Tokenizer tok = gpt::Tokenizer::from_directory(c.vae);
    std::vector<std::string> paths = c.data;
    if (paths.empty()) {
        check(raw.contains("train_data"), "--vae {}: records no training data; pass --data",
              c.vae);
        paths = raw.at("train_data").get<std::vector<std::string>>();
    }
    SentenceSet data = tokenize_records(read_records(paths), tok, vc.max_length,
                                        raw.value("val_fraction", 0.05),
                                        raw.value("seed", uint64_t{1337}));

    // The latents of the frozen VAE: z = mu + sigma eps, so the DDPM learns the aggregate
    // posterior the decoder was trained to read. Their mean and spread standardise them.
    const auto t0 = Clock::now();
    Posterior train_q = vae->encode_all(data.train);
    Posterior val_q = vae->encode_all(data.val.size() >= 2 ? data.val : data.train);
    log(fmt::format("latents: {} train, {} validation sentences encoded in {:.1f}s",
                    train_q.mu.size(0), val_q.mu.size(0), seconds_since(t0)));
    Generator model_gen(c.seed), sampler_gen(c.seed + 1), noise_gen(c.seed + 2);
    LatentDiffusion diff({vc.latent, c.hidden, c.layers, c.time_dim}, c.schedule, c.timesteps,
                         &model_gen);
    {
        NoGradGuard ng;
        Tensor m = mean(train_q.mu, {0});                                    // (D,)
        Tensor v = var(train_q.mu, {0}, 0) + mean(exp(train_q.logvar), {0});  // total variance
        diff.mean = to_vector<double>(to_dtype(m, DType::f64));
        diff.stddev = to_vector<double>(to_dtype(sqrt(v), DType::f64));
    }
    nn::AdamW opt(nn::decay_groups(diff.net->named_parameters(), c.weight_decay, c.lr),
                  nn::AdamConfig{.lr = c.lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                 .weight_decay = c.weight_decay});
    nn::WarmupCosineLr lr_at(c.lr, std::min(c.warmup, c.steps), c.steps, c.min_lr);
    gpt::MetricsCsv metrics{"step,ddpm_loss,val_ddpm_loss,lr,latents_per_s,elapsed_s", {}};
    int64_t step = 0;
    if (c.resume) {
        nlohmann::json st = read_json(ckpt / "trainer_state.json");
        step = st.at("step").get<int64_t>();
        gpt::check_checkpoint_step(ckpt / "denoiser.safetensors", step);
        gpt::check_checkpoint_step(ckpt / "optimizer.safetensors", step);
        auto saved = load_diffusion(ckpt.string(), vc.latent);
        check(saved->config.hidden == c.hidden && saved->config.layers == c.layers &&
                  saved->config.time_dim == c.time_dim && saved->schedule_name == c.schedule &&
                  saved->schedule.steps() == c.timesteps,
              "--resume: {} was trained with --hidden {} --layers {} --time-dim {} --schedule "
              "{} --timesteps {}; give the same flags",
              c.out, saved->config.hidden, saved->config.layers, saved->config.time_dim,
              saved->schedule_name, saved->schedule.steps());
        diff.net->copy_from(*saved->net);
        diff.mean = saved->mean;
        diff.stddev = saved->stddev;
        opt.load_state_dict(load_safetensors((ckpt / "optimizer.safetensors").string()).tensors());
        model_gen.set_counter(st.at("model_counter").get<uint64_t>());
        sampler_gen.set_counter(st.at("sampler_counter").get<uint64_t>());
        noise_gen.set_counter(st.at("noise_counter").get<uint64_t>());
        metrics.load(fs::exists(ckpt / "metrics.csv") ? ckpt / "metrics.csv" : out / "metrics.csv", step);
        log(fmt::format("resuming at step {} of {}", step, c.steps));
    }
    diff.net->train();
    log(fmt::format("denoiser: MLPSkipNet {} layers x {} hidden, {} schedule, T = {}: {:.2f}M "
                    "parameters",
                    c.layers, c.hidden, c.schedule, c.timesteps,
                    static_cast<double>(diff.net->num_parameters()) / 1e6));
    auto latents = [&](const Posterior& q, const Tensor& idx, Generator* g) {
        Tensor mu = index_select(q.mu, 0, idx), lv = index_select(q.logvar, 0, idx);
        return diff.standardize(mu + exp(lv * 0.5) * randn(mu.shape(), mu.dtype(), g));
    };
    auto evaluate = [&]() {
        NoGradGuard ng;
        Generator g(c.seed + 3);
        const int64_t n = std::min<int64_t>(val_q.mu.size(0), 1024);
        return ddpm_loss(*diff.net, diff.schedule, latents(val_q, arange(0, n, 1), &g), &g).item();
    };
    auto checkpoint = [&]() {
        const std::map<std::string, std::string> meta{{"step", std::to_string(step)}};
        run.commit(step, [&](const fs::path& dir) {
            save_safetensors((dir / "optimizer.safetensors").string(), opt.state_dict(), meta);
            gpt::save_point();
            save_diffusion(diff, dir.string(), meta);
            metrics.save(dir / "metrics.csv");
            gpt::save_point();
            write_json(dir / "trainer_state.json", {{"step", step},
                                                    {"vae", fs::absolute(c.vae).string()},
                                                    {"model_counter", model_gen.counter()},
                                                    {"sampler_counter", sampler_gen.counter()},
                                                    {"noise_counter", noise_gen.counter()}});
        });
        std::string why;
        const std::string csv = (out / "metrics.csv").string();
        if (!gpt::draw_png((out / "metrics.png").string(),
                           "set datafile separator ','\nset grid\nset xlabel 'step'\n"
                           "set title 'gradstack vae diffusion-train'\n" +
                               panel(metrics, csv, "mse", {{2, "ddpm loss"}, {3, "validation"}}),
                           &why))
            log("metrics.png not drawn: " + why);
    };

    TrainSummary summary;
    const auto start = Clock::now();
    auto window_start = Clock::now();
    int64_t window_steps = 0;
    double w_loss = 0;
    const int64_t N = train_q.mu.size(0);
    while (step < c.steps) {
        Tensor x0 = latents(train_q, randint(0, N, {c.batch_size}, &sampler_gen), &noise_gen);
        Tensor loss = ddpm_loss(*diff.net, diff.schedule, x0, &noise_gen);
        loss.backward();
        nn::clip_grad_norm(diff.net->parameters(), c.clip);
        const double lr = lr_at(step);
        opt.set_lr(lr);
        opt.step();
        opt.zero_grad();
        ++step;
        const double v = loss.item();
        summary.losses.push_back(v);
        w_loss += v;
        ++window_steps;
        const bool eval_now = step % c.eval_every == 0 || step == c.steps;
        if (step % c.log_every == 0 || eval_now) {
            const double secs = seconds_since(window_start), k = static_cast<double>(window_steps);
            const double lps = k * static_cast<double>(c.batch_size) / secs;
            std::string val_s;
            if (eval_now) val_s = fmt::format("{:.6f}", evaluate());
            log(fmt::format("step {:>6}/{} | ddpm {:.4f}{} | {:.0f} latents/s | ETA {}", step,
                            c.steps, w_loss / k, eval_now ? " | validation " + val_s : "", lps,
                            gpt::format_duration(secs / k * static_cast<double>(c.steps - step))));
            metrics.add(step, fmt::format("{},{:.6f},{},{:.6e},{:.1f},{:.1f}", step, w_loss / k,
                                          val_s, lr, lps, seconds_since(start)));
            window_start = Clock::now();
            window_steps = 0;
            w_loss = 0;
        }
        if (save_or_stop({step, c.steps, c.save_every, c.stop_at}, stop, checkpoint, out, log,
                         summary))
            break;
    }
    summary.steps_done = step;
    return summary;
}

}  // namespace gradstack::vae
