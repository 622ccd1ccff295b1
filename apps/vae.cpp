// `gradstack vae`: the text VAE with a GPT-2 decoder and a diffusion model of its latents
// (DMLP-style). Sub-commands: train, diffusion-train, sample, reconstruct, interpolate, eval
// (vae_eval.cpp). The library is vae/ (read vae/README.md); this file maps flags to it and prints.
// The --json outputs are documented in apps/README.md.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "apps/vae_commands.h"
#include "gpt/trainer.h"
#include "autograd/ops.h"
#include "tensor/error.h"
#include "vae/train.h"

namespace gradstack::apps {

namespace fs = std::filesystem;
using nlohmann::json;

LoadedVae load_vae_dir(const std::string& dir) {
    vae::load_vae_config(dir);  // "not a VAE folder" before anything else
    check(gpt::has_tokenizer(dir), "--vae {}: no tokenizer (vocab.json + merges.txt) in it", dir);
    return {vae::load_vae(dir), gpt::Tokenizer::from_directory(dir)};
}

std::shared_ptr<vae::LatentDiffusion> load_diffusion_dir(const std::string& dir, int64_t latent) {
    check(fs::is_directory(dir), "--diffusion {}: no such folder", dir);
    return vae::load_diffusion(dir, latent);
}

std::vector<int64_t> vae_ids(const LoadedVae& v, const std::string& text, const std::string& flag) {
    std::vector<int64_t> ids = v.tokenizer.encode(text);
    check(!ids.empty(), "{}: the text is empty", flag);
    const int64_t max = v.model->config().max_length;
    check(static_cast<int64_t>(ids.size()) <= max,
          "{}: {} tokens, but this VAE was trained on sentences of at most {} (--max-length)",
          flag, ids.size(), max);
    return ids;
}

std::vector<std::string> decode_texts(LoadedVae& v, const Tensor& z, const vae::DecodeConfig& c,
                                      Generator* gen) {
    auto ids = v.model->decoder->generate(z, v.model->bos(), v.model->eos(), c, gen);
    std::vector<std::string> out;
    for (auto& row : ids) out.push_back(v.tokenizer.decode_text(row));
    return out;
}

namespace {

std::atomic<bool> interrupted{false};
void on_sigint(int) {
    interrupted.store(true);
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}

void print_line(const std::string& line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
}

void write_json(const json& j) {
    const std::string s = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::fwrite(s.data(), 1, s.size(), stdout);
}

double norm_of(const Tensor& row) { return std::sqrt(sum(row * row).item()); }

void add_decode_flags(CLI::App* app, vae::DecodeConfig& d, bool& sample) {
    app->add_flag("--sample", sample, "sample tokens (softmax / temperature, top-k) instead of "
                  "greedy decoding");
    app->add_option("--temperature", d.temperature, "with --sample")->capture_default_str();
    app->add_option("--top-k", d.top_k, "with --sample: keep the k likeliest tokens (0: all)")
        ->capture_default_str();
    app->add_option("--max-tokens", d.max_tokens, "stop a text after this many tokens")
        ->capture_default_str();
}

void check_decode(const vae::DecodeConfig& d) {
    check(d.temperature > 0, "--temperature must be > 0, got {}", d.temperature);
    check(d.top_k >= 0, "--top-k must be >= 0, got {}", d.top_k);
    check(d.max_tokens >= 1, "--max-tokens must be >= 1, got {}", d.max_tokens);
}

int run_vae(int argc, char** argv) {
    CLI::App app{"A text VAE with a GPT-2 decoder and a denoising diffusion model of its latent "
                 "space (DMLP / Optimus style). See vae/README.md."};
    app.require_subcommand(1);

    // --- train
    vae::VaeTrainConfig tc;
    CLI::App* train = app.add_subcommand("train", "train the VAE (optionally jointly with the "
                                         "latent DDPM, --ddpm-weight > 0)");
    train->add_option("--data", tc.data, "text files or folders: one text per line, or fortunes "
                      "files (texts between lines of '%')")->required();
    train->add_option("--out", tc.out, "run folder: the VAE, metrics.csv/png, checkpoints")->required();
    train->add_option("--init-from", tc.init_from, "a GPT-2 folder: decoder and encoder start from it");
    train->add_option("--tokenizer", tc.tokenizer, "tokenizer of a new model (default: GPT-2's, "
                      "or --init-from's when it has one)");
    train->add_flag("--resume", tc.resume, "continue the run saved in --out");
    train->add_option("--latent", tc.latent, "size of z")->capture_default_str();
    train->add_option("--ddpm-weight", tc.ddpm_weight, "weight of the joint DDPM loss (0: VAE "
                      "only; train the DDPM afterwards with diffusion-train)")->capture_default_str();
    train->add_option("--steps", tc.steps, "optimizer steps")->capture_default_str();
    train->add_option("--batch-size", tc.batch_size, "sentences per step")->capture_default_str();
    train->add_option("--lr", tc.lr, "peak learning rate (AdamW)")->capture_default_str();
    train->add_option("--min-lr", tc.min_lr, "learning rate at the end of the cosine decay")->capture_default_str();
    train->add_option("--warmup", tc.warmup, "linear warm-up steps")->capture_default_str();
    train->add_option("--weight-decay", tc.weight_decay, "AdamW weight decay")->capture_default_str();
    train->add_option("--clip", tc.clip, "gradient clipping by global norm")->capture_default_str();
    train->add_option("--max-length", tc.max_length, "longest sentence in tokens; longer ones "
                      "are left out")->capture_default_str();
    train->add_option("--conditioning", tc.conditioning, "how z reaches the decoder: both, "
                      "embedding or memory")->capture_default_str();
    train->add_option("--encoder-layers", tc.encoder_layers, "encoder depth (0: the decoder's)")->capture_default_str();
    train->add_option("--beta", tc.beta, "largest KL weight")->capture_default_str();
    train->add_option("--kl-cycles", tc.kl_cycles, "cyclical KL annealing cycles (0: constant "
                      "--beta)")->capture_default_str();
    train->add_option("--kl-ratio-zero", tc.kl_ratio_zero, "part of each cycle at beta 0")->capture_default_str();
    train->add_option("--kl-ratio-increase", tc.kl_ratio_increase, "part of each cycle rising "
                      "to --beta")->capture_default_str();
    train->add_option("--free-bits", tc.free_bits, "KL floor per latent dim, in nats (0: off)")->capture_default_str();
    train->add_option("--n-layer", tc.n_layer, "new model: blocks")->capture_default_str();
    train->add_option("--n-head", tc.n_head, "new model: heads")->capture_default_str();
    train->add_option("--n-embd", tc.n_embd, "new model: width")->capture_default_str();
    train->add_option("--dropout", tc.dropout, "new model: dropout")->capture_default_str();
    train->add_option("--schedule", tc.schedule, "joint DDPM: linear or cosine")->capture_default_str();
    train->add_option("--timesteps", tc.timesteps, "joint DDPM: diffusion steps T")->capture_default_str();
    train->add_option("--hidden", tc.hidden, "joint DDPM: denoiser width")->capture_default_str();
    train->add_option("--layers", tc.layers, "joint DDPM: denoiser layers")->capture_default_str();
    train->add_option("--time-dim", tc.time_dim, "joint DDPM: timestep embedding size")->capture_default_str();
    train->add_option("--val-fraction", tc.val_fraction, "sentences held out")->capture_default_str();
    train->add_option("--eval-every", tc.eval_every, "steps between evaluations")->capture_default_str();
    train->add_option("--save-every", tc.save_every, "steps between checkpoints")->capture_default_str();
    train->add_option("--log-every", tc.log_every, "steps between progress lines")->capture_default_str();
    train->add_option("--stop-at", tc.stop_at, "save a checkpoint and stop at this step "
                      "(continue with --resume)");
    train->add_option("--seed", tc.seed, "seed of initialisation, batches and noise")->capture_default_str();

    // --- diffusion-train
    vae::DiffusionTrainConfig dc;
    CLI::App* dtrain = app.add_subcommand("diffusion-train", "train the latent DDPM on a frozen "
                                          "VAE's latents (two-stage training)");
    dtrain->add_option("--vae", dc.vae, "the trained VAE folder")->required();
    dtrain->add_option("--out", dc.out, "run folder of the diffusion model")->required();
    dtrain->add_option("--data", dc.data, "texts to encode (default: the VAE's training data)");
    dtrain->add_flag("--resume", dc.resume, "continue the run saved in --out");
    dtrain->add_option("--steps", dc.steps, "optimizer steps")->capture_default_str();
    dtrain->add_option("--schedule", dc.schedule, "beta schedule: linear or cosine")->capture_default_str();
    dtrain->add_option("--timesteps", dc.timesteps, "diffusion steps T")->capture_default_str();
    dtrain->add_option("--hidden", dc.hidden, "denoiser width")->capture_default_str();
    dtrain->add_option("--layers", dc.layers, "denoiser hidden layers")->capture_default_str();
    dtrain->add_option("--time-dim", dc.time_dim, "timestep embedding size")->capture_default_str();
    dtrain->add_option("--batch-size", dc.batch_size, "latents per step")->capture_default_str();
    dtrain->add_option("--lr", dc.lr, "peak learning rate (AdamW)")->capture_default_str();
    dtrain->add_option("--min-lr", dc.min_lr, "final learning rate")->capture_default_str();
    dtrain->add_option("--warmup", dc.warmup, "linear warm-up steps")->capture_default_str();
    dtrain->add_option("--weight-decay", dc.weight_decay, "AdamW weight decay")->capture_default_str();
    dtrain->add_option("--eval-every", dc.eval_every, "steps between validation losses")->capture_default_str();
    dtrain->add_option("--save-every", dc.save_every, "steps between checkpoints")->capture_default_str();
    dtrain->add_option("--log-every", dc.log_every, "steps between progress lines")->capture_default_str();
    dtrain->add_option("--stop-at", dc.stop_at, "save a checkpoint and stop at this step "
                       "(continue with --resume)");
    dtrain->add_option("--seed", dc.seed, "seed of initialisation, batches and noise")->capture_default_str();

    // --- sample
    std::string vae_dir, diffusion_dir;
    int64_t n = 5, ddim_steps = 0;
    double eta = 0.0, clip_x0 = 5.0;
    uint64_t seed = 0;
    bool json_out = false, sample_tokens = false;
    vae::DecodeConfig decode;
    CLI::App* sample = app.add_subcommand("sample", "decode texts from z ~ N(0, I), or from the "
                                          "latent diffusion model");
    sample->add_option("--vae", vae_dir, "the VAE folder")->required();
    sample->add_option("--diffusion", diffusion_dir, "a latent diffusion folder (without it z "
                       "comes from the prior N(0, I))");
    sample->add_option("--ddim-steps", ddim_steps, "DDIM with K steps (0: ancestral sampling "
                       "over all T steps)")->capture_default_str();
    sample->add_option("--eta", eta, "DDIM's eta: 0 deterministic, 1 ancestral-like")->capture_default_str();
    sample->add_option("--clip-x0", clip_x0, "clamp the predicted x_0 (standardised latents) to "
                       "[-c, c] while sampling (0: off)")->capture_default_str();
    sample->add_option("-n", n, "how many texts")->capture_default_str();
    sample->add_option("--seed", seed, "seed of z (and of token sampling)")->capture_default_str();
    sample->add_flag("--json", json_out, "one JSON object on stdout (apps/README.md)");
    add_decode_flags(sample, decode, sample_tokens);

    // --- reconstruct
    std::string text;
    CLI::App* recon = app.add_subcommand("reconstruct", "encode a text to mu and decode it back "
                                         "(greedy)");
    recon->add_option("--vae", vae_dir, "the VAE folder")->required();
    recon->add_option("--text", text, "the text")->required();
    recon->add_option("--seed", seed, "seed of token sampling (with --sample)")->capture_default_str();
    recon->add_flag("--json", json_out, "one JSON object on stdout (apps/README.md)");
    add_decode_flags(recon, decode, sample_tokens);

    // --- interpolate
    std::string from, to;
    int64_t points = 5;
    CLI::App* interp = app.add_subcommand("interpolate", "decode evenly spaced points on the line "
                                          "from mu(--from) to mu(--to)");
    interp->add_option("--vae", vae_dir, "the VAE folder")->required();
    interp->add_option("--from", from, "first text")->required();
    interp->add_option("--to", to, "last text")->required();
    interp->add_option("--steps", points, "points, both ends included (>= 2)")->capture_default_str();
    interp->add_flag("--json", json_out, "one JSON object on stdout (apps/README.md)");
    interp->add_option("--seed", seed, "seed of token sampling (with --sample)")->capture_default_str();
    add_decode_flags(interp, decode, sample_tokens);

    // --- eval
    VaeEvalFlags ef;
    CLI::App* eval = app.add_subcommand("eval", "reconstruction BLEU, and prior vs diffusion "
                                        "samples: perplexity, diversity, memorisation, Self-BLEU, "
                                        "distinct-n, ||z||, active units");
    eval->add_option("--vae", ef.vae, "the VAE folder")->required();
    eval->add_option("--diffusion", ef.diffusion, "a latent diffusion folder");
    eval->add_option("--data", ef.data, "held-out text (lines or fortunes format)")->required();
    eval->add_option("--scorer", ef.scorer, "a GPT-2 folder for perplexity (without it no "
                     "perplexity is reported)");
    eval->add_option("-n", ef.n, "samples from each source")->capture_default_str();
    eval->add_option("--max-sentences", ef.max_sentences, "held-out sentences reconstructed")->capture_default_str();
    eval->add_option("--ddim-steps", ef.ddim_steps, "DDIM steps of the diffusion samples (0: "
                     "ancestral)")->capture_default_str();
    eval->add_option("--eta", ef.eta, "DDIM's eta")->capture_default_str();
    eval->add_option("--clip-x0", ef.clip_x0, "clamp the predicted x_0 to [-c, c] (0: off)")->capture_default_str();
    eval->add_option("--seed", ef.seed, "seed of z")->capture_default_str();
    eval->add_flag("--json", ef.json, "one JSON object on stdout (apps/README.md)");

    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    decode.greedy = !sample_tokens;

    if (train->parsed() || dtrain->parsed()) {
        if (train->parsed()) vae::validate(tc);
        else vae::validate(dc);
        interrupted.store(false);
        auto previous = std::signal(SIGINT, on_sigint);
        vae::TrainSummary s = train->parsed() ? vae::train_vae(tc, print_line, &interrupted)
                                              : vae::train_diffusion(dc, print_line, &interrupted);
        std::signal(SIGINT, previous);
        const std::string out = train->parsed() ? tc.out : dc.out;
        print_line(fmt::format("metrics: {0}/metrics.csv, plot: {0}/metrics.png, model: {0}", out));
        return s.interrupted ? 130 : 0;
    }
    if (eval->parsed()) return run_vae_eval(ef);

    check_decode(decode);
    Generator gen(seed);
    if (sample->parsed()) {
        check(n >= 1, "-n must be >= 1, got {}", n);
        check(ddim_steps >= 0, "--ddim-steps must be >= 0, got {}", ddim_steps);
        check(eta >= 0 && eta <= 1, "--eta must be in [0, 1], got {}", eta);
        check(ddim_steps == 0 || !diffusion_dir.empty(), "--ddim-steps needs --diffusion DIR");
        check(clip_x0 >= 0, "--clip-x0 must be >= 0, got {}", clip_x0);
        LoadedVae v = load_vae_dir(vae_dir);
        const int64_t D = v.model->config().latent;
        Tensor z;
        if (diffusion_dir.empty()) {
            z = randn({n, D}, DType::f32, &gen);
        } else {
            auto d = load_diffusion_dir(diffusion_dir, D);
            d->schedule.x0_clip = clip_x0;
            z = d->sample(n, ddim_steps, eta, &gen);
        }
        std::vector<std::string> texts = decode_texts(v, z, decode, &gen);
        const std::string source = diffusion_dir.empty() ? "prior" : "diffusion";
        if (json_out) {
            json j = {{"source", source}, {"ddim_steps", ddim_steps}, {"samples", json::array()}};
            for (int64_t i = 0; i < n; ++i)
                j["samples"].push_back({{"text", texts[i]}, {"z_norm", norm_of(select(z, 0, i))}});
            write_json(j);
        } else {
            for (int64_t i = 0; i < n; ++i)
                print_line(fmt::format("{:>3}. [{}, |z| {:.2f}] {}", i + 1, source,
                                       norm_of(select(z, 0, i)), texts[i]));
        }
        return 0;
    }
    if (recon->parsed()) {
        LoadedVae v = load_vae_dir(vae_dir);
        std::vector<int64_t> ids = vae_ids(v, text, "--text");
        vae::Posterior q = v.model->encode_all({ids});
        const std::string out = decode_texts(v, q.mu, decode, &gen)[0];
        const std::string input = v.tokenizer.decode_text(ids);
        if (json_out) {
            write_json({{"text", input},
                        {"reconstruction", out},
                        {"exact", out == input},
                        {"mu", to_vector<float>(select(q.mu, 0, 0))},
                        {"logvar", to_vector<float>(select(q.logvar, 0, 0))}});
        } else {
            print_line("input:          " + input);
            print_line("reconstruction: " + out);
            print_line(fmt::format("exact: {}, |mu| {:.3f}", out == input ? "yes" : "no",
                                   norm_of(q.mu)));
        }
        return 0;
    }
    // interpolate
    check(points >= 2, "--steps must be >= 2 (both ends are included), got {}", points);
    LoadedVae v = load_vae_dir(vae_dir);
    vae::Posterior a = v.model->encode_all({vae_ids(v, from, "--from")});
    vae::Posterior b = v.model->encode_all({vae_ids(v, to, "--to")});
    std::vector<Tensor> zs;
    std::vector<double> alphas;
    for (int64_t i = 0; i < points; ++i) {
        const double t = static_cast<double>(i) / static_cast<double>(points - 1);
        alphas.push_back(t);
        zs.push_back(a.mu * (1 - t) + b.mu * t);
    }
    std::vector<std::string> texts = decode_texts(v, cat(zs, 0), decode, &gen);
    if (json_out) {
        json j = {{"from", from}, {"to", to}, {"points", json::array()}};
        for (int64_t i = 0; i < points; ++i)
            j["points"].push_back({{"alpha", alphas[i]}, {"text", texts[i]}});
        write_json(j);
    } else {
        for (int64_t i = 0; i < points; ++i)
            print_line(fmt::format("{:.2f}  {}", alphas[i], texts[i]));
    }
    return 0;
}

const bool registered = register_command(
    {"vae", "text VAE with a GPT-2 decoder and latent diffusion (train, sample, ...)", run_vae});

}  // namespace

}  // namespace gradstack::apps
