// `gradstack ppo`: fine-tune a GPT-2 with PPO so that its responses to a file of prompts raise a
// reward, while a KL penalty keeps it close to the model it started from (trl's PPOTrainer). This
// file reads the flags, builds the reward (the rl/ ones, and the two that come from pplm/: a
// discriminator's log-probability and a bag-of-words count) and prints samples before and after.
// The algorithm: rl/ppo.h.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "pplm/bow.h"
#include "pplm/classifier.h"
#include "rl/ppo.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::apps {

namespace {

namespace fs = std::filesystem;

std::atomic<bool> interrupted{false};

void on_sigint(int) {
    interrupted.store(true);
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}

struct RewardSpec {
    std::string kind, path, label;  // discrim:DIR:LABEL, bow:FILE, tsv:FILE
};

RewardSpec parse_reward(const std::string& spec) {
    const std::string hint = "; --reward takes discrim:DIR:LABEL, bow:FILE or tsv:FILE";
    const size_t colon = spec.find(':');
    check(colon != std::string::npos, "--reward '{}' has no kind{}", spec, hint);
    RewardSpec r{spec.substr(0, colon), spec.substr(colon + 1), ""};
    if (r.kind == "discrim") {
        const size_t last = r.path.rfind(':');
        check(last != std::string::npos && last > 0 && last + 1 < r.path.size(),
              "--reward '{}': a discriminator reward needs a folder and a class label{}", spec, hint);
        r.label = r.path.substr(last + 1);
        r.path = r.path.substr(0, last);
        check(fs::is_directory(r.path), "--reward '{}': {} is not a folder (a discriminator "
                                        "saved by gradstack train-discrim)", spec, r.path);
    } else if (r.kind == "bow" || r.kind == "tsv") {
        check(!r.path.empty(), "--reward '{}': no file{}", spec, hint);
        if (r.kind == "tsv")
            check(fs::is_regular_file(r.path), "--reward '{}': {} is not a file", spec, r.path);
    } else {
        fail("--reward '{}': unknown kind '{}'{}", spec, r.kind, hint);
    }
    return r;
}

// A discriminator of gradstack train-discrim reading <|endoftext|> + query + response (the whole
// text, as PPLM's discriminator reads its text, with the token train-discrim puts in front), on
// hidden states of `body`, a frozen copy of --model: the model a head is trained on.
struct DiscrimScorer {
    std::shared_ptr<pplm::Discriminator> discrim;
    std::shared_ptr<gpt::GPT2LMHeadModel> body;
    int64_t label = 0;
    std::string spec_label;

    DiscrimScorer(const RewardSpec& spec, const std::string& model_dir) : spec_label(spec.label) {
        discrim = std::make_shared<pplm::Discriminator>(pplm::load_discriminator(spec.path));
        body = gpt::load_pretrained(model_dir);
        body->requires_grad_(false);
        pplm::check_compatible(*discrim, body->config(), spec.path);
        label = pplm::resolve_class_label(discrim->meta, spec.label, [](const std::string& w) {
            fmt::print(stderr, "warning: {}\n", w);
        });
        check(label >= 0 && label < discrim->meta.class_size, "--reward: class {} is outside the "
              "discriminator's {} classes", label, discrim->meta.class_size);
    }

    // log softmax of the head for each row: (B, classes) float64.
    Tensor log_probs(const rl::Rows& queries, const rl::Rows& responses) const {
        NoGradGuard no_grad;
        // <|endoftext|> + query + response: train-discrim puts it in front of every example.
        const int64_t bos = body->config().bos_token_id;
        int64_t T = 0;
        std::vector<int64_t> lengths;
        for (size_t r = 0; r < queries.size(); ++r) {
            lengths.push_back(static_cast<int64_t>(1 + queries[r].size() + responses[r].size()));
            T = std::max(T, lengths.back());
        }
        const int64_t B = static_cast<int64_t>(queries.size());
        std::vector<int64_t> ids(B * T, bos);  // right-padded; mean_hidden skips the padding
        for (int64_t r = 0; r < B; ++r) {
            std::copy(queries[r].begin(), queries[r].end(), ids.begin() + r * T + 1);
            std::copy(responses[r].begin(), responses[r].end(),
                      ids.begin() + r * T + 1 + static_cast<int64_t>(queries[r].size()));
        }
        Tensor h = pplm::mean_hidden(*body, from_vector(ids, {B, T}), lengths);
        return contiguous(to_dtype(log_softmax(discrim->head->forward(h), -1), DType::f64));
    }
    // From one forward: log p(label) of each row, and the fraction of rows whose most likely
    // class is `label`.
    struct Judgement {
        std::vector<double> scores;
        double label_rate = 0;
    };
    Judgement judge(const rl::Rows& queries, const rl::Rows& responses) const {
        Tensor lp = log_probs(queries, responses);
        Tensor best = argmax(lp, -1);
        Judgement j;
        double hits = 0;
        for (int64_t r = 0; r < lp.size(0); ++r) {
            j.scores.push_back(lp.data<double>()[r * lp.size(1) + label]);
            hits += best.data<int64_t>()[r] == label ? 1 : 0;
        }
        j.label_rate = hits / static_cast<double>(std::max<int64_t>(lp.size(0), 1));
        return j;
    }
};

rl::Reward make_reward(const RewardSpec& spec, const gpt::Tokenizer& tokenizer,
                       const std::string& model_dir) {
    if (spec.kind == "discrim") {
        auto d = std::make_shared<DiscrimScorer>(spec, model_dir);
        return {"discrim:" + spec.path + ":" + spec.label,
                [d](const rl::Rows& q, const rl::Rows& r) { return d->judge(q, r).scores; }};
    }
    if (spec.kind == "tsv") return rl::table_reward(spec.path, tokenizer);
    // bow: a word list (or a built-in bag name), read as PPLM reads its bags.
    pplm::BagOfWords bag = pplm::load_bag(spec.path, tokenizer);
    fmt::print(stderr, "bag {}: {} of {} words kept (single tokens)\n", bag.name, bag.ids.size(),
               bag.words);
    return rl::token_count_reward({bag.ids.begin(), bag.ids.end()}, "bow:" + spec.path);
}

rl::Rows read_prompts(const std::string& path, const gpt::Tokenizer& tokenizer) {
    // A regular file of at most 64 MiB (tensor/io.h: a FIFO or device is refused at once).
    std::istringstream in(read_input_file(path, 64 * kMiB, "--prompts (one prompt per line)"));
    rl::Rows prompts;
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines
        try {
            prompts.push_back(tokenizer.encode(line));
        } catch (const Error& e) {
            fail("--prompts {}:{}: {}", path, n, e.what());
        }
    }
    check(!prompts.empty(), "--prompts {}: no prompts (one per line; blank lines are skipped)", path);
    return prompts;
}

// Responses of the reference (the model PPO started from) and of the tuned policy to the same
// prompts with the same draws.
struct BeforeAfter {
    rl::Rows queries;
    rl::Samples before, after;
};

BeforeAfter sample_both(rl::PpoTrainer& t, const rl::Rows& prompts, int64_t n, int64_t N, uint64_t seed) {
    BeforeAfter s;
    for (int64_t i = 0; i < n; ++i) s.queries.push_back(prompts[i % prompts.size()]);
    Generator g_before(seed + 1), g_after(seed + 1);
    s.before = rl::sample_responses(t.reference(), s.queries, N, g_before);
    s.after = rl::sample_responses(*t.policy().lm, s.queries, N, g_after);
    return s;
}

double mean_of(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m += x;
    return v.empty() ? 0.0 : m / static_cast<double>(v.size());
}

void print_samples(const BeforeAfter& s, const rl::Reward& reward, const gpt::Tokenizer& tok,
                   int64_t shown) {
    std::vector<double> s0 = reward.score(s.queries, s.before.responses);
    std::vector<double> s1 = reward.score(s.queries, s.after.responses);
    fmt::print("\nsamples (before: the reference, the model PPO started from; after: the tuned "
               "policy; same prompts and seeds)\n");
    for (int64_t i = 0; i < std::min<int64_t>(shown, s.queries.size()); ++i) {
        fmt::print("[{}] {}\n", i + 1, tok.decode_text(s.queries[i]));
        fmt::print("    before (score {:.3f}): {}\n", s0[i], tok.decode_text(s.before.responses[i]));
        fmt::print("    after  (score {:.3f}): {}\n", s1[i], tok.decode_text(s.after.responses[i]));
    }
    fmt::print("mean score over {} samples: before {:.3f}, after {:.3f}\n", s.queries.size(),
               mean_of(s0), mean_of(s1));
}

// --eval-discrim: a second discriminator (trained on other data) judges the same samples.
void print_held_out(const BeforeAfter& s, const DiscrimScorer& judge, const std::string& name) {
    const auto before = judge.judge(s.queries, s.before.responses);
    const auto after = judge.judge(s.queries, s.after.responses);
    fmt::print("held-out {}: class '{}' rate before {:.1f}%, after {:.1f}%; mean log-probability "
               "before {:.3f}, after {:.3f} ({} samples)\n",
               name, judge.spec_label, 100 * before.label_rate, 100 * after.label_rate,
               mean_of(before.scores), mean_of(after.scores), s.queries.size());
}

int run_ppo(int argc, char** argv) {
    CLI::App app{
        "Fine-tune a GPT-2 with PPO (trl's PPOTrainer): responses of exactly --response-length "
        "tokens are sampled from the policy for prompts of --prompts, scored by --reward, and the "
        "policy (GPT-2 + a value head) is updated to raise the score minus beta x KL against the "
        "frozen model it started from. Defaults are trl's original PPOTrainer's."};
    std::string model_dir, tokenizer_dir, reward_text, prompts_path;
    rl::RunOptions run;
    rl::PpoConfig& c = run.config;
    std::string kl_penalty = "kl";
    int64_t n_samples = 4, n_eval = 64;
    std::string eval_discrim;
    app.add_option("--model", model_dir, "the starting GPT-2 folder (Hugging Face layout): the "
                                         "policy's first weights and the frozen reference")->required();
    app.add_option("--tokenizer", tokenizer_dir, "tokenizer folder (default: the model folder's, "
                                                 "else data/gpt2-tokenizer)");
    app.add_option("--reward", reward_text,
                   "discrim:DIR:LABEL (log-probability of class LABEL, an id or a name, under a "
                   "discriminator of gradstack train-discrim, on <|endoftext|> + prompt + "
                   "response), bow:FILE (count of the response's tokens in a word list, or a "
                   "built-in bag name), tsv:FILE (RESPONSE<TAB>SCORE lines; unlisted responses "
                   "score 0)")->required();
    app.add_option("--prompts", prompts_path, "text file, one prompt per line")->required();
    app.add_option("--out", run.out, "run folder: the tuned policy (Hugging Face layout, value "
                                     "head beside it), metrics.csv, metrics.png")->required();
    app.add_option("--steps", c.steps, "PPO steps")->capture_default_str();
    app.add_option("--batch-size", c.batch_size, "rollouts per step")->capture_default_str();
    app.add_option("--mini-batch-size", c.mini_batch_size, "rows per optimisation forward/backward")
        ->capture_default_str();
    app.add_option("--grad-accum", c.grad_accum, "mini-batches per optimizer step")->capture_default_str();
    app.add_option("--response-length", c.response_length, "new tokens per response (exactly; an "
                   "EOS is a token like any other)")->capture_default_str();
    app.add_option("--ppo-epochs", c.ppo_epochs, "passes over each batch")->capture_default_str();
    app.add_option("--lr", c.lr, "AdamW learning rate")->capture_default_str();
    app.add_option("--weight-decay", c.weight_decay, "AdamW weight decay (0: trl's Adam)")->capture_default_str();
    app.add_option("--max-grad-norm", c.max_grad_norm, "clip the gradient's global norm (0: off)")
        ->capture_default_str();
    app.add_option("--init-kl-coef", c.init_kl_coef, "beta, the KL penalty's coefficient (its "
                                                     "start with --adaptive-kl)")->capture_default_str();
    app.add_flag("--adaptive-kl", c.adaptive_kl, "move beta so that the KL per response tracks "
                                                 "--target-kl (Ziegler et al.'s controller)");
    app.add_option("--target-kl", c.target_kl, "the adaptive controller's target KL (nats per "
                                               "response)")->capture_default_str();
    app.add_option("--horizon", c.horizon, "the adaptive controller's horizon (samples)")->capture_default_str();
    app.add_option("--gamma", c.gamma, "discount")->capture_default_str();
    app.add_option("--lam", c.lam, "GAE lambda")->capture_default_str();
    app.add_option("--cliprange", c.cliprange, "policy ratio clip")->capture_default_str();
    app.add_option("--cliprange-value", c.cliprange_value, "value clip")->capture_default_str();
    app.add_option("--vf-coef", c.vf_coef, "weight of the value loss")->capture_default_str();
    app.add_option("--kl-penalty", kl_penalty, "per-token KL estimate: kl (log p - log p_ref), "
                   "abs, mse (half the square) or full (exact KL over the vocabulary)")->capture_default_str();
    app.add_flag("--score-scale", c.score_scale, "divide scores by their running standard deviation");
    app.add_flag("--score-norm", c.score_norm, "subtract the running mean and divide by the "
                                               "running standard deviation");
    app.add_option("--score-clip", c.score_clip, "clip scores to [-C, C] after scaling (0: off)")
        ->capture_default_str();
    app.add_option("--early-stop-kl", c.early_stop_kl, "stop a step's epochs when the policy's KL to "
                   "its rollout passes 1.5 x this (0: off)")->capture_default_str();
    app.add_option("--ratio-threshold", c.ratio_threshold, "skip a mini-batch whose mean ratio "
                                                           "exceeds this")->capture_default_str();
    app.add_option("--shared-layers", c.shared_layers, "share (and freeze) the bottom K blocks and "
                   "the embeddings with the reference to save memory")->capture_default_str();
    app.add_flag("--detach-value-head", c.detach_value_head, "no value-loss gradient into the body");
    app.add_flag("--train-dropout", c.train_dropout, "dropout on while optimising (trl >= 0.4); "
                                                     "off: the model in eval mode throughout");
    app.add_option("--save-every", c.save_every, "steps between checkpoints")->capture_default_str();
    app.add_option("--samples", n_samples, "prompts shown before/after at the end")->capture_default_str();
    app.add_option("--eval-samples", n_eval, "samples (prompts cycled) behind the before/after "
                   "means at the end")->capture_default_str();
    app.add_option("--eval-discrim", eval_discrim, "DIR:LABEL, a held-out discriminator that also "
                   "judges the before/after samples (its class-LABEL rate and log-probability)");
    app.add_option("--seed", c.seed, "seed of prompts, samples and shuffles")
        ->check(CLI::Validator(  // "-1" would wrap around in a uint64_t
            [](std::string& v) {
                return v.find('-') == std::string::npos ? std::string()
                                                        : "must be >= 0, got " + v;
            },
            ""))
        ->capture_default_str();
    app.add_flag("--resume", run.resume, "continue the run in --out with its saved settings "
                 "(--steps may be raised); the statistics are those of an uninterrupted run");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;

    // Everything is checked before any model is loaded.
    c.kl_penalty = rl::parse_kl_penalty(kl_penalty);
    check(n_samples >= 0, "--samples {} must be >= 0", n_samples);
    check(n_eval >= 1, "--eval-samples {} must be >= 1", n_eval);
    const RewardSpec spec = parse_reward(reward_text);
    std::optional<RewardSpec> judge_spec;
    if (!eval_discrim.empty()) judge_spec = parse_reward("discrim:" + eval_discrim);
    if (run.resume) {
        const rl::PpoConfig saved = rl::saved_config(run.out);
        const auto given = rl::config_flags(c), kept = rl::config_flags(saved);
        for (const auto& [flag, value] : given) {
            if (flag == "--steps" || app.count(flag) == 0 || kept.at(flag) == value) continue;
            fail("{} {} contradicts the run's saved setting {} in {}; a resumed run keeps its "
                 "settings (leave the flag out)", flag, value, kept.at(flag), run.out);
        }
        const int64_t steps = c.steps;
        c = saved;
        if (app.count("--steps")) c.steps = steps;
    }
    c.validate();
    const gpt::GPT2Config config = gpt::load_config((fs::path(model_dir) / "config.json").string());
    const gpt::Tokenizer tokenizer = require_tokenizer(tokenizer_dir, model_dir);
    check(tokenizer.vocab_size() <= config.vocab_size, "the tokenizer has {} tokens, the model's "
          "vocabulary {}", tokenizer.vocab_size(), config.vocab_size);
    rl::Rows prompts = read_prompts(prompts_path, tokenizer);
    for (size_t i = 0; i < prompts.size(); ++i)
        check(static_cast<int64_t>(prompts[i].size()) + c.response_length <= config.n_positions,
              "--prompts {}: prompt {} has {} tokens; with --response-length {} that exceeds the "
              "model's n_positions = {}", prompts_path, i + 1, prompts[i].size(), c.response_length,
              config.n_positions);
    rl::Reward reward = make_reward(spec, tokenizer, model_dir);
    std::optional<DiscrimScorer> judge;
    if (judge_spec) judge.emplace(*judge_spec, model_dir);
    run.model = model_dir;

    interrupted.store(false);
    auto previous = std::signal(SIGINT, on_sigint);
    rl::RunResult r = rl::run_ppo(run, prompts, reward, [](const std::string& line) {
        fmt::print("{}\n", line);
        std::fflush(stdout);
    }, &interrupted);
    std::signal(SIGINT, previous);
    if (r.interrupted) return 130;
    const BeforeAfter samples = sample_both(*r.trainer, prompts, std::max(n_eval, n_samples),
                                            c.response_length, c.seed);
    print_samples(samples, reward, tokenizer, n_samples);
    if (judge) print_held_out(samples, *judge, "discriminator " + judge_spec->path);
    fmt::print("\nthe tuned policy is in {} (gradstack generate --model {} loads it); metrics: {}\n",
               run.out, run.out, (fs::path(run.out) / "metrics.png").string());
    return 0;
}

const bool registered = register_command(
    {"ppo", "fine-tune GPT-2 with PPO against a reward, KL-penalised (trl)", run_ppo});

}  // namespace

}  // namespace gradstack::apps
