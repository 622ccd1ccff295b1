// The PPO step and the run around it (see ppo.h). The step follows trl's PPOTrainer.step:
//   1. rollout: N tokens per query sampled from the policy (rollout.h);
//   2. score each (query, response) with the reward;
//   3. one no-grad forward of policy and reference: log p, log p_ref, values, entropy;
//   4. rewards = -beta KL per token + score at the last token; GAE; whitened advantages;
//   5. ppo_epochs passes over shuffled mini-batches: clipped policy loss + vf_coef x clipped
//      value loss, AdamW every grad_accum mini-batches;
//   6. the adaptive controller moves beta toward the target KL.
#include "rl/ppo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/run_folder.h"
#include "gpt/trainer.h"
#include "nn/optim/clip.h"
#include "nn/safetensors.h"
#include "rl/reference.h"
#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::rl {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

void PpoConfig::validate() const {
    auto positive = [](const char* flag, int64_t v) {
        check(v > 0, "{} {} must be > 0", flag, v);
    };
    positive("--steps", steps);
    positive("--batch-size", batch_size);
    positive("--mini-batch-size", mini_batch_size);
    positive("--grad-accum", grad_accum);
    positive("--response-length", response_length);
    positive("--ppo-epochs", ppo_epochs);
    positive("--save-every", save_every);
    check(batch_size % (mini_batch_size * grad_accum) == 0,
          "--batch-size {} must be a multiple of --mini-batch-size {} x --grad-accum {}",
          batch_size, mini_batch_size, grad_accum);
    check(batch_size * response_length >= 2,
          "--batch-size x --response-length must be >= 2 (advantages are whitened over them)");
    auto in = [](const char* flag, double v, double lo, double hi) {
        check(std::isfinite(v) && v >= lo && v <= hi, "{} {} must be in [{}, {}]", flag, v, lo, hi);
    };
    const double inf = std::numeric_limits<double>::max();
    check(std::isfinite(lr) && lr > 0, "--lr {} must be > 0", lr);
    in("--weight-decay", weight_decay, 0, inf);
    in("--max-grad-norm", max_grad_norm, 0, inf);
    in("--init-kl-coef", init_kl_coef, 0, inf);
    check(std::isfinite(target_kl) && target_kl > 0, "--target-kl {} must be > 0", target_kl);
    check(std::isfinite(horizon) && horizon > 0, "--horizon {} must be > 0", horizon);
    in("--gamma", gamma, 0, 1);
    in("--lam", lam, 0, 1);
    check(std::isfinite(cliprange) && cliprange > 0 && cliprange < 1,
          "--cliprange {} must be in (0, 1)", cliprange);
    check(std::isfinite(cliprange_value) && cliprange_value > 0, "--cliprange-value {} must be > 0",
          cliprange_value);
    in("--vf-coef", vf_coef, 0, inf);
    in("--score-clip", score_clip, 0, inf);
    in("--early-stop-kl", early_stop_kl, 0, inf);
    check(std::isfinite(ratio_threshold) && ratio_threshold > 1,
          "--ratio-threshold {} must be > 1", ratio_threshold);
    check(shared_layers >= 0, "--shared-layers {} must be >= 0", shared_layers);
}

std::string metrics_header() {
    return "step,score_mean,score_std,kl_mean,kl_coef,entropy,policy_loss,value_loss,clipfrac,"
           "approx_kl,explained_variance,seconds,kl_full_mean,kl_token_std,kl_token_min,"
           "kl_token_max,value_clipfrac,ratio_mean,advantage_mean,return_mean,minibatches,"
           "skipped_minibatches,early_stopped,rollout_s,score_s,optimize_s";
}

std::string metrics_row(const StepStats& s) {
    return fmt::format("{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},"
                       "{:.3f},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{},{},{},"
                       "{:.3f},{:.3f},{:.3f}",
                       s.step, s.score_mean, s.score_std, s.kl_mean, s.kl_coef, s.entropy,
                       s.policy_loss, s.value_loss, s.clipfrac, s.approx_kl, s.explained_variance,
                       s.seconds, s.kl_full_mean, s.kl_token_std, s.kl_token_min, s.kl_token_max,
                       s.value_clipfrac, s.ratio_mean, s.advantage_mean, s.return_mean,
                       s.minibatches, s.skipped_minibatches, s.early_stopped ? 1 : 0, s.rollout_s,
                       s.score_s, s.optimize_s);
}

namespace {

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

Batch select_rows(const Batch& b, const Tensor& rows) {
    Batch s = b;
    s.ids = index_select(b.ids, 0, rows);
    s.mask = index_select(b.mask, 0, rows);
    s.positions = index_select(b.positions, 0, rows);
    return s;
}

std::vector<Tensor> trainable(const Policy& p) {
    std::vector<Tensor> params;
    for (auto& [name, t] : p.named_parameters())
        if (t.requires_grad()) params.push_back(t);
    return params;
}

}  // namespace

PpoTrainer::PpoTrainer(Policy policy, std::shared_ptr<gpt::GPT2LMHeadModel> reference,
                       PpoConfig config, Generator& gen)
    : policy_(std::move(policy)),
      reference_(std::move(reference)),
      config_(config),
      gen_(gen),
      kl_(config.init_kl_coef, config.adaptive_kl, config.target_kl, config.horizon) {
    config_.validate();
    nn::AdamConfig adam;
    adam.lr = config_.lr;
    adam.weight_decay = config_.weight_decay;
    optimizer_ = std::make_unique<nn::AdamW>(trainable(policy_), adam);
}

StepStats PpoTrainer::step(const Rows& queries, const Reward& reward) {
    const PpoConfig& c = config_;
    const auto t_start = Clock::now();
    StepStats st;
    st.step = steps_done_ + 1;
    const int64_t B = static_cast<int64_t>(queries.size()), N = c.response_length;
    check(B == c.batch_size, "[ppo] step got {} queries, --batch-size is {}", B, c.batch_size);

    // 1. Rollout.
    policy_.train(false);
    Samples samples = sample_responses(*policy_.lm, queries, N, gen_);
    st.rollout_s = seconds_since(t_start);

    // 2. Scores.
    const auto t_score = Clock::now();
    std::vector<double> raw = reward.score(queries, samples.responses);
    check(static_cast<int64_t>(raw.size()) == B, "[{}] gave {} scores for {} responses",
          reward.name, raw.size(), B);
    for (int64_t i = 0; i < B; ++i)
        check(std::isfinite(raw[i]), "[{}] the score of response {} is {}: rewards must be finite",
              reward.name, i, raw[i]);
    st.score_s = seconds_since(t_score);
    const auto [score_mean, score_var] = mean_and_var(from_vector(raw, {B}));
    st.score_mean = score_mean;
    st.score_std = std::sqrt(score_var);
    std::vector<double> scores = raw;
    if (c.score_scale || c.score_norm) {
        moments_.update(raw);
        const double scale = moments_.std + std::numeric_limits<float>::epsilon();
        for (double& s : scores) s = c.score_norm ? (s - moments_.mean) / scale : s / scale;
    }
    if (c.score_clip > 0)
        for (double& s : scores) s = std::clamp(s, -c.score_clip, c.score_clip);

    // 3. The rollout's log-probabilities, values and KL, mini-batch by mini-batch.
    const auto t_opt = Clock::now();
    Batch batch = make_batch(queries, samples.responses, policy_.lm->config().eos_token_id);
    std::vector<Tensor> lp_parts, val_parts, kl_parts, kl_plain_parts, kl_full_parts, ent_parts;
    // The statistics need the plain (log p - log p_ref) and the exact KL; the penalty is one of
    // them or an elementwise function of the plain one, so each is computed once.
    {
        NoGradGuard no_grad;
        for (int64_t b0 = 0; b0 < B; b0 += c.mini_batch_size) {
            Batch mb = batch_rows(batch, b0, std::min(B, b0 + c.mini_batch_size));
            ResponseForward pol = forward_responses(*policy_.lm, policy_.v_head.get(), mb);
            ResponseForward ref = forward_responses(*reference_, nullptr, mb);
            lp_parts.push_back(pol.logprobs);
            val_parts.push_back(pol.values);
            Tensor plain = kl_estimate(KlPenalty::kl, pol.logprobs, ref.logprobs);
            Tensor full = kl_estimate(KlPenalty::full, pol.logprobs, ref.logprobs, pol.logp, ref.logp);
            kl_plain_parts.push_back(plain);
            kl_full_parts.push_back(full);
            kl_parts.push_back(c.kl_penalty == KlPenalty::kl     ? plain
                               : c.kl_penalty == KlPenalty::full ? full
                                                                 : kl_estimate(c.kl_penalty, pol.logprobs, ref.logprobs));
            ent_parts.push_back(entropy(pol.logp));
        }
    }
    const Tensor old_logprobs = cat(lp_parts, 0), old_values = cat(val_parts, 0);  // (B, N)
    const Tensor kl = cat(kl_parts, 0), kl_plain = cat(kl_plain_parts, 0);
    st.kl_mean = sum(to_dtype(kl_plain, DType::f64)).item<double>() / static_cast<double>(B);
    st.kl_full_mean = sum(to_dtype(cat(kl_full_parts, 0), DType::f64)).item<double>() / static_cast<double>(B);
    st.kl_token_std = std::sqrt(mean_and_var(kl_plain).second);
    st.kl_token_min = min(kl_plain).item<double>();
    st.kl_token_max = max(kl_plain).item<double>();
    st.entropy = mean_and_var(cat(ent_parts, 0)).first;

    // 4. Rewards, advantages, returns.
    st.kl_coef = kl_.value();
    Tensor rewards = compute_rewards(from_vector(scores, {B}), kl, st.kl_coef);
    Advantages a = gae(rewards, old_values, c.gamma, c.lam);
    const Tensor advantages = whiten(a.advantages);
    st.advantage_mean = mean_and_var(a.advantages).first;
    const auto [return_mean, var_r] = mean_and_var(a.returns);
    st.return_mean = return_mean;
    {
        const double var_e = mean_and_var(a.returns - to_dtype(old_values, DType::f64)).second;
        st.explained_variance = var_r > 0 ? 1.0 - var_e / var_r : (var_e > 0 ? 0.0 : 1.0);
    }

    // 5. PPO epochs over shuffled mini-batches.
    policy_.train(c.train_dropout);
    const int64_t backward_batch = c.mini_batch_size * c.grad_accum;
    std::vector<Tensor> params = trainable(policy_);
    double sum_pg = 0, sum_vf = 0, sum_clip = 0, sum_vclip = 0, sum_akl = 0, sum_ratio = 0;
    optimizer_->zero_grad();
    for (int64_t epoch = 0; epoch < c.ppo_epochs && !st.early_stopped; ++epoch) {
        Tensor order = randperm(B, &gen_);
        for (int64_t g0 = 0; g0 < B && !st.early_stopped; g0 += backward_batch) {
            for (int64_t m0 = g0; m0 < g0 + backward_batch; m0 += c.mini_batch_size) {
                Tensor rows = slice(order, 0, m0, m0 + c.mini_batch_size);
                ResponseForward f = forward_responses(*policy_.lm, policy_.v_head.get(),
                                                      select_rows(batch, rows), /*distributions=*/false);
                Tensor old_lp = index_select(old_logprobs, 0, rows);
                LossTerms pg = policy_loss(f.logprobs, old_lp, index_select(advantages, 0, rows), c.cliprange);
                LossTerms vf = value_loss(f.values, index_select(old_values, 0, rows),
                                          index_select(a.returns, 0, rows), c.cliprange_value);
                Tensor diff = f.logprobs.detach() - old_lp;  // log ratio
                const double ratio_mean = mean(exp(diff)).item<double>();
                const double policy_kl = -mean(diff).item<double>();
                ++st.minibatches;
                sum_pg += pg.loss.item<double>();
                sum_vf += vf.loss.item<double>();
                sum_clip += pg.clipfrac;
                sum_vclip += vf.clipfrac;
                sum_akl += 0.5 * mean(diff * diff).item<double>();
                sum_ratio += ratio_mean;
                if (ratio_mean > c.ratio_threshold) {
                    ++st.skipped_minibatches;  // trl #488: a spike in the ratio would blow up the loss
                } else {
                    Tensor loss = pg.loss + vf.loss * scalar_like(vf.loss, c.vf_coef);
                    (loss * scalar_like(loss, 1.0 / static_cast<double>(c.grad_accum))).backward();
                }
                if (c.early_stop_kl > 0 && policy_kl > 1.5 * c.early_stop_kl) {
                    st.early_stopped = true;  // drop this group's gradient, as trl's _early_stop
                    optimizer_->zero_grad();
                    break;
                }
            }
            if (st.early_stopped) break;
            if (c.max_grad_norm > 0) nn::clip_grad_norm(params, c.max_grad_norm);
            optimizer_->step();
            optimizer_->zero_grad();
        }
    }
    policy_.train(false);
    // A diverging run stops here, before anything of this step is saved (the run keeps its last
    // checkpoint): non-finite losses, or weights the update made non-finite.
    check(std::isfinite(sum_pg) && std::isfinite(sum_vf),
          "[ppo] step {}: the {} loss is not finite ({}); the learning rate (--lr {}) or the "
          "rewards are probably too large; nothing of this step was saved",
          st.step, std::isfinite(sum_pg) ? "value" : "policy", std::isfinite(sum_pg) ? sum_vf : sum_pg, c.lr);
    const std::string bad = nn::first_nonfinite(policy_.named_parameters());
    check(bad.empty(), "[ppo] step {}: the update made '{}' non-finite; the learning rate (--lr {}) "
          "is probably too large; nothing of this step was saved", st.step, bad, c.lr);
    const double n_mb = static_cast<double>(std::max<int64_t>(st.minibatches, 1));
    st.policy_loss = sum_pg / n_mb;
    st.value_loss = sum_vf / n_mb;
    st.clipfrac = sum_clip / n_mb;
    st.value_clipfrac = sum_vclip / n_mb;
    st.approx_kl = sum_akl / n_mb;
    st.ratio_mean = sum_ratio / n_mb;
    st.optimize_s = seconds_since(t_opt);

    // 6. The KL controller sees this step's KL per sequence.
    kl_.update(st.kl_mean, B);
    ++steps_done_;
    st.seconds = seconds_since(t_start);
    return st;
}

// --- the run: prompts, checkpoints, metrics, resume ---------------------------------------------

namespace {

constexpr const char* kState = "ppo_state.json";

nlohmann::json config_json(const PpoConfig& c) {
    return {{"steps", c.steps}, {"batch_size", c.batch_size}, {"mini_batch_size", c.mini_batch_size},
            {"grad_accum", c.grad_accum}, {"response_length", c.response_length},
            {"ppo_epochs", c.ppo_epochs}, {"lr", c.lr}, {"weight_decay", c.weight_decay},
            {"max_grad_norm", c.max_grad_norm}, {"init_kl_coef", c.init_kl_coef},
            {"adaptive_kl", c.adaptive_kl}, {"target_kl", c.target_kl}, {"horizon", c.horizon},
            {"gamma", c.gamma}, {"lam", c.lam}, {"cliprange", c.cliprange},
            {"cliprange_value", c.cliprange_value}, {"vf_coef", c.vf_coef},
            {"kl_penalty", kl_penalty_name(c.kl_penalty)}, {"score_scale", c.score_scale},
            {"score_norm", c.score_norm}, {"score_clip", c.score_clip},
            {"early_stop_kl", c.early_stop_kl}, {"ratio_threshold", c.ratio_threshold},
            {"shared_layers", c.shared_layers}, {"detach_value_head", c.detach_value_head},
            {"train_dropout", c.train_dropout}, {"save_every", c.save_every}, {"seed", c.seed}};
}

PpoConfig config_from_json(const nlohmann::json& j) {
    PpoConfig c;
    j.at("steps").get_to(c.steps);
    j.at("batch_size").get_to(c.batch_size);
    j.at("mini_batch_size").get_to(c.mini_batch_size);
    j.at("grad_accum").get_to(c.grad_accum);
    j.at("response_length").get_to(c.response_length);
    j.at("ppo_epochs").get_to(c.ppo_epochs);
    j.at("lr").get_to(c.lr);
    j.at("weight_decay").get_to(c.weight_decay);
    j.at("max_grad_norm").get_to(c.max_grad_norm);
    j.at("init_kl_coef").get_to(c.init_kl_coef);
    j.at("adaptive_kl").get_to(c.adaptive_kl);
    j.at("target_kl").get_to(c.target_kl);
    j.at("horizon").get_to(c.horizon);
    j.at("gamma").get_to(c.gamma);
    j.at("lam").get_to(c.lam);
    j.at("cliprange").get_to(c.cliprange);
    j.at("cliprange_value").get_to(c.cliprange_value);
    j.at("vf_coef").get_to(c.vf_coef);
    c.kl_penalty = parse_kl_penalty(j.at("kl_penalty").get<std::string>());
    j.at("score_scale").get_to(c.score_scale);
    j.at("score_norm").get_to(c.score_norm);
    j.at("score_clip").get_to(c.score_clip);
    j.at("early_stop_kl").get_to(c.early_stop_kl);
    j.at("ratio_threshold").get_to(c.ratio_threshold);
    j.at("shared_layers").get_to(c.shared_layers);
    j.at("detach_value_head").get_to(c.detach_value_head);
    j.at("train_dropout").get_to(c.train_dropout);
    j.at("save_every").get_to(c.save_every);
    j.at("seed").get_to(c.seed);
    return c;
}

nlohmann::json read_state(const fs::path& out) {
    const fs::path p = out / kState;
    check(fs::exists(p), "{}: missing; --resume needs a run saved by gradstack ppo in {}",
          p.string(), out.string());
    return read_json_file(p.string(), 16 * kMiB, "a PPO state");
}

// One checkpoint's files, into the step folder `out` (gpt/run_folder.h makes the set a unit).
void save_run(const fs::path& out, PpoTrainer& t, const PpoConfig& c, const std::string& model,
              Generator& gen) {
    const std::string step = std::to_string(t.steps_done());
    save_policy(t.policy(), out.string(), {{"step", step}});
    gpt::save_point();
    save_safetensors((out / "optimizer.safetensors").string(), t.optimizer().state_dict(),
                     {{"step", step}});
    gpt::save_point();
    const RunningMoments& m = t.score_moments();
    nlohmann::json j = {{"step", t.steps_done()},
                        {"model", model},
                        {"generator_counter", gen.counter()},
                        {"default_generator_counter", default_generator().counter()},
                        {"kl_coef", t.kl_controller().value()},
                        {"score_moments", {{"mean", m.mean}, {"var", m.var}, {"std", m.std}, {"count", m.count}}},
                        {"config", config_json(c)}};
    write_file_atomically((out / kState).string(), [&](OutputFile& f) { f.write(j.dump(2) + "\n"); });
}

void plot(const fs::path& out) {
    const std::string csv = (out / "metrics.csv").string();
    const std::string commands = fmt::format(
        "set datafile separator ','\nset key autotitle columnhead\nset multiplot layout 2,1\n"
        "set xlabel 'step'\nset ylabel 'score'\nplot '{0}' using 1:2 with lines lw 2 title 'score mean'\n"
        "set ylabel 'KL (nats per response)'\n"
        "plot '{0}' using 1:4 with lines lw 2 title 'KL mean', '{0}' using 1:13 with lines title 'exact KL mean'\n"
        "unset multiplot\n",
        csv);
    gpt::draw_png((out / "metrics.png").string(), commands);
}

}  // namespace

namespace {

PpoConfig config_of_state(const nlohmann::json& state, const fs::path& out) {
    try {
        return config_from_json(state.at("config"));
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not a PPO state ({})", (out / kState).string(), e.what());
    }
}

}  // namespace

PpoConfig saved_config(const std::string& out) {
    // The latest complete checkpoint (gpt/run_folder.h), not the top level a kill may have left
    // one step behind.
    const std::optional<fs::path> dir = gpt::latest_checkpoint(out, kState);
    check(dir.has_value(), "--resume: {} holds no complete PPO checkpoint to continue", out);
    return config_of_state(read_state(*dir), *dir);
}

std::map<std::string, std::string> config_flags(const PpoConfig& c) {
    std::map<std::string, std::string> flags;
    const nlohmann::json j = config_json(c);  // kept alive: items() refers into it
    for (const auto& [key, value] : j.items()) {
        std::string flag = "--" + key;
        std::replace(flag.begin(), flag.end(), '_', '-');
        flags[flag] = value.is_string() ? value.get<std::string>() : value.dump();
    }
    return flags;
}

RunResult run_ppo(const RunOptions& options, const Rows& prompts, const Reward& reward,
                  const std::function<void(const std::string&)>& log,
                  const std::atomic<bool>* stop) {
    const fs::path out(options.out);
    check(!prompts.empty(), "[ppo] no prompts");
    check(options.resume || (!fs::exists(out / kState) && !fs::exists(out / "model.safetensors") &&
                                !fs::exists(out / "checkpoints")),
          "{} already holds a run (or a model); pass --resume to continue it, or choose "
          "another --out", out.string());
    // The run folder: each checkpoint a unit in checkpoints/step-N, a lock, leftovers cleaned.
    gpt::RunFolder run(out, "gradstack ppo", kState);
    if (const int stale = run.clean_stale(); stale > 0)
        log(fmt::format("removed {} leftover(s) of an interrupted save in {}", stale, out.string()));
    PpoConfig c = options.config;
    nlohmann::json state;
    fs::path ckpt;  // the checkpoint resumed from
    if (options.resume) {
        const std::optional<fs::path> latest = run.latest();
        check(latest.has_value(), "--resume: {} holds no complete PPO checkpoint to continue",
              out.string());
        ckpt = *latest;
        run.publish_latest();
        state = read_state(ckpt);
        const int64_t steps = c.steps;
        c = config_of_state(state, out);  // the file is read once
        c.steps = steps;
        const int64_t saved_step = state.value("step", int64_t{0});
        check(steps >= saved_step, "--steps {} is below the {} steps the run in {} has done; "
              "--resume continues a run, it cannot shorten one", steps, saved_step, out.string());
    }
    c.validate();

    Generator gen(c.seed);
    Policy policy;
    std::shared_ptr<gpt::GPT2LMHeadModel> reference;
    auto warn = [&](const std::string& m) { log("warning: " + m); };
    int64_t done = 0;
    if (options.resume) {
        try {
            done = state.at("step").get<int64_t>();
            gpt::check_checkpoint_step(ckpt / "model.safetensors", done, kState);
            gpt::check_checkpoint_step(ckpt / "value_head.safetensors", done, kState);
            gpt::check_checkpoint_step(ckpt / "optimizer.safetensors", done, kState);
            policy = load_policy(ckpt.string(), c.detach_value_head, &gen, warn);
            reference = gpt::load_pretrained(state.at("model").get<std::string>());
            reference->eval();
            reference->requires_grad_(false);
            share_layers(*reference, *policy.lm, c.shared_layers);
        } catch (const nlohmann::json::exception& e) {
            fail("{}: not a PPO state ({})", (out / kState).string(), e.what());
        }
    } else {
        // Dropout draws from the process-wide generator (the model's layers hold no other), so a
        // run seeds it; its counter is saved with each checkpoint.
        default_generator().manual_seed(c.seed + 1);
        policy = load_policy(options.model, c.detach_value_head, &gen, warn);
        reference = create_reference(*policy.lm, c.shared_layers);
    }
    const int64_t n_positions = policy.lm->config().n_positions;
    for (size_t i = 0; i < prompts.size(); ++i)
        check(static_cast<int64_t>(prompts[i].size()) + c.response_length <= n_positions,
              "prompt {} has {} tokens; with --response-length {} that exceeds the model's "
              "n_positions = {}", i + 1, prompts[i].size(), c.response_length, n_positions);

    auto trainer = std::make_shared<PpoTrainer>(std::move(policy), reference, c, gen);
    gpt::MetricsCsv metrics{metrics_header(), {}};
    if (options.resume) {
        const nlohmann::json& m = state.at("score_moments");
        RunningMoments& rm = trainer->score_moments();
        rm = {m.at("mean").get<double>(), m.at("var").get<double>(), m.at("std").get<double>(),
              m.at("count").get<double>()};
        trainer->kl_controller().set_value(state.at("kl_coef").get<double>());
        trainer->optimizer().load_state_dict(load_safetensors((ckpt / "optimizer.safetensors").string()).tensors());
        gen.set_counter(state.at("generator_counter").get<uint64_t>());
        default_generator().set_counter(state.at("default_generator_counter").get<uint64_t>());
        trainer->set_steps_done(done);
        metrics.load(fs::exists(ckpt / "metrics.csv") ? ckpt / "metrics.csv" : out / "metrics.csv", done);
        log(fmt::format("resuming {} at step {} of {}", out.string(), done, c.steps));
    }

    RunResult result;
    result.trainer = trainer;
    const std::string model_dir = options.resume ? state.at("model").get<std::string>()
                                                 : fs::absolute(options.model).string();
    const auto t0 = Clock::now();
    const int64_t first = trainer->steps_done();
    while (trainer->steps_done() < c.steps) {
        Tensor idx = randint(0, static_cast<int64_t>(prompts.size()), {c.batch_size}, &gen);
        Rows queries;
        for (int64_t i = 0; i < c.batch_size; ++i) queries.push_back(prompts[idx.data<int64_t>()[i]]);
        StepStats s = trainer->step(queries, reward);
        result.stats.push_back(s);
        metrics.add(s.step, metrics_row(s));
        metrics.save(out / "metrics.csv");
        plot(out);
        const double elapsed = seconds_since(t0);
        const double per_step = elapsed / static_cast<double>(s.step - first);
        log(fmt::format("step {}/{} | score {:.3f} ± {:.3f} | kl {:.3f} | beta {:.4f} | entropy "
                        "{:.2f} | pg {:.4f} | vf {:.4f} | clip {:.3f} | approx_kl {:.4f} | {:.2f} s "
                        "(rollout {:.2f}, score {:.2f}, optimize {:.2f}) | ETA {}",
                        s.step, c.steps, s.score_mean, s.score_std, s.kl_mean, s.kl_coef, s.entropy,
                        s.policy_loss, s.value_loss, s.clipfrac, s.approx_kl, s.seconds, s.rollout_s,
                        s.score_s, s.optimize_s,
                        gpt::format_duration(per_step * static_cast<double>(c.steps - s.step))));
        if (s.kl_mean < 0)
            log(fmt::format("warning: mean KL is negative ({:.4f}) at step {}: the sampled estimate "
                            "log p - log p_ref is noisy over few tokens; its exact mean is {:.4f}",
                            s.kl_mean, s.step, s.kl_full_mean));
        if (s.skipped_minibatches > 0)
            log(fmt::format("warning: {} mini-batch(es) skipped at step {}: mean ratio above "
                            "--ratio-threshold {}", s.skipped_minibatches, s.step, c.ratio_threshold));
        const bool last = trainer->steps_done() == c.steps;
        const bool stopping = stop && stop->load();
        if (last || stopping || trainer->steps_done() % c.save_every == 0) {
            run.commit(trainer->steps_done(), [&](const fs::path& dir) {
                metrics.save(dir / "metrics.csv");
                gpt::save_point();
                save_run(dir, *trainer, c, model_dir, gen);  // its state file last
            });
        }
        if (stopping && !last) {
            result.interrupted = true;
            log(fmt::format("stopped at step {}; the checkpoint in {} is saved: --resume continues",
                            s.step, out.string()));
            break;
        }
    }
    return result;
}

}  // namespace gradstack::rl
