// PPO with a KL-penalised reward (Ziegler et al. 2019; trl's PPOTrainer): each step samples
// responses to a batch of queries from the policy, scores them, turns score and KL against the
// frozen reference into per-token rewards, estimates advantages with GAE and runs a few epochs of
// clipped policy and value updates over shuffled mini-batches. run_ppo adds what a run needs: the
// prompts, checkpoints, metrics.csv + metrics.png, --resume with identical statistics.
// Read next: ppo.cpp (step), rollout.h, ppo_math.h.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/optim/adam.h"
#include "rl/ppo_math.h"
#include "rl/reward.h"
#include "rl/rollout.h"
#include "rl/value_head.h"

namespace gradstack::rl {

// Defaults are those of trl's original PPOTrainer (and `gradstack ppo --help`).
struct PpoConfig {
    int64_t steps = 100;
    int64_t batch_size = 64;       // rollouts per step
    int64_t mini_batch_size = 16;  // rows per forward/backward in the optimisation
    int64_t grad_accum = 1;        // mini-batches per optimizer step
    int64_t response_length = 16;  // new tokens per response, exactly
    int64_t ppo_epochs = 4;
    double lr = 1.41e-5;
    double weight_decay = 0.0;     // AdamW's; 0 is trl's Adam
    double max_grad_norm = 0.0;    // global-norm clipping; 0: off (trl's default)
    double init_kl_coef = 0.2;
    bool adaptive_kl = false;
    double target_kl = 6.0;        // the adaptive controller's target (KL per sequence)
    double horizon = 10000;
    double gamma = 1.0, lam = 0.95;
    double cliprange = 0.2, cliprange_value = 0.2;
    double vf_coef = 0.1;
    KlPenalty kl_penalty = KlPenalty::kl;
    bool score_scale = false;      // divide scores by their running std
    bool score_norm = false;       // and subtract their running mean first
    double score_clip = 0.0;       // clip scores to [-c, c] after scaling; 0: off
    double early_stop_kl = 0.0;    // stop a step's epochs when mean(old - new log p) > 1.5 x this
    double ratio_threshold = 10.0; // skip a mini-batch whose mean ratio exceeds this (trl #488)
    int64_t shared_layers = 0;     // bottom blocks shared with (and frozen like) the reference
    bool detach_value_head = false;
    bool train_dropout = false;    // dropout on during optimisation (trl >= 0.4); off: eval mode
    int64_t save_every = 10;       // steps between checkpoints (and at the end)
    uint64_t seed = 0;

    // Throws gradstack::Error naming the flag for values out of range or inconsistent sizes.
    void validate() const;
};

// Everything one step measured. Means over the batch unless said otherwise; KL in nats.
struct StepStats {
    int64_t step = 0;
    double score_mean = 0, score_std = 0;  // raw scores, before scaling or clipping
    double kl_mean = 0;       // per sequence: sum over its tokens of log p - log p_ref (trl's objective/kl)
    double kl_full_mean = 0;  // per sequence: sum over its tokens of the exact KL(p || p_ref)
    double kl_token_std = 0, kl_token_min = 0, kl_token_max = 0;  // of log p - log p_ref per token
    double kl_coef = 0;       // beta used for this step's rewards
    double entropy = 0;       // mean over tokens of the policy's entropy at the rollout
    double policy_loss = 0, value_loss = 0;  // means over the mini-batches run
    double clipfrac = 0, value_clipfrac = 0;
    double approx_kl = 0;     // 0.5 mean (log p_new - log p_old)^2
    double ratio_mean = 0;
    double advantage_mean = 0, return_mean = 0;  // before whitening
    double explained_variance = 0;  // 1 - Var(R - V) / Var(R) over the rollout (1 when both are 0)
    int64_t minibatches = 0, skipped_minibatches = 0;
    bool early_stopped = false;
    double rollout_s = 0, score_s = 0, optimize_s = 0, seconds = 0;
};

// The metrics.csv header: the contract's columns first, then the rest of StepStats.
std::string metrics_header();
std::string metrics_row(const StepStats& s);

class PpoTrainer {
public:
    // `reference` is frozen (create_reference); `gen` draws prompts, samples and shuffles.
    PpoTrainer(Policy policy, std::shared_ptr<gpt::GPT2LMHeadModel> reference, PpoConfig config,
               Generator& gen);

    // One PPO step on these queries: rollout, scoring with `reward`, optimisation.
    StepStats step(const Rows& queries, const Reward& reward);

    Policy& policy() { return policy_; }
    gpt::GPT2LMHeadModel& reference() { return *reference_; }
    nn::AdamW& optimizer() { return *optimizer_; }
    KlController& kl_controller() { return kl_; }
    RunningMoments& score_moments() { return moments_; }
    int64_t steps_done() const { return steps_done_; }
    void set_steps_done(int64_t n) { steps_done_ = n; }

private:
    Policy policy_;
    std::shared_ptr<gpt::GPT2LMHeadModel> reference_;
    PpoConfig config_;
    Generator& gen_;
    std::unique_ptr<nn::AdamW> optimizer_;
    KlController kl_;
    RunningMoments moments_;
    int64_t steps_done_ = 0;
};

struct RunOptions {
    std::string model;   // the starting checkpoint: the policy's first weights and the reference
    std::string out;     // the run folder
    bool resume = false;
    PpoConfig config;
};

struct RunResult {
    std::vector<StepStats> stats;  // the steps run by this call
    bool interrupted = false;
    std::shared_ptr<PpoTrainer> trainer;  // policy and reference, for samples afterwards
};

// Runs (or with resume continues) a PPO run in options.out: each step draws batch_size prompts
// (uniformly, with replacement) from `prompts`, logs one progress line, appends to metrics.csv and
// redraws metrics.png; every save_every steps and at the end it saves the policy (Hugging Face
// layout + value_head.safetensors), optimizer.safetensors and ppo_state.json (written last; every
// file records the step, and --resume refuses a set whose steps disagree). An existing run is never
// overwritten: without resume, a folder holding one is an error. With resume, the saved settings
// are used (options.config only contributes `steps`). `stop` is polled after every step.
RunResult run_ppo(const RunOptions& options, const Rows& prompts, const Reward& reward,
                  const std::function<void(const std::string&)>& log,
                  const std::atomic<bool>* stop = nullptr);

// The settings a saved run used (DIR/ppo_state.json), for a caller that wants to compare flags.
PpoConfig saved_config(const std::string& out);
// Each setting under its `gradstack ppo` flag ("--lr" -> "1.41e-05", "--adaptive-kl" -> "true").
std::map<std::string, std::string> config_flags(const PpoConfig& config);

}  // namespace gradstack::rl
