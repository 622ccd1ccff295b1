// The arithmetic of PPO with a KL-penalised reward, after trl's PPOTrainer, each piece a function
// that can be checked by hand (tests/rl/test_ppo_math.cpp):
//   KL estimate per token   k_t  (kl: lp - lp_ref, abs: |lp - lp_ref|, mse: (lp - lp_ref)^2 / 2,
//                                 full: sum_v p(v) (log p(v) - log p_ref(v)))
//   reward per token        r_t = -beta k_t, plus the score at the last token
//   GAE                     delta_t = r_t + gamma V_{t+1} - V_t   (V_N = 0)
//                           A_t = delta_t + gamma lambda A_{t+1},  returns R_t = A_t + V_t
//   whitening               A <- (A - mean A) / sqrt(var A + 1e-8)   (unbiased var, batch-wide)
//   policy loss             mean max(-A ratio, -A clip(ratio, 1 - eps, 1 + eps)),
//                           ratio = exp(lp_new - lp_old)
//   value loss              0.5 mean max((V - R)^2, (V_old + clip(V - V_old, -eps_v, eps_v) - R)^2)
//   KL controllers          fixed, or adaptive: beta *= 1 + clip(KL / target - 1, -0.2, 0.2) n / horizon
// Read next: ppo.h (the loop that puts them together).
#pragma once

#include <string>
#include <utility>

#include "tensor/tensor.h"

namespace gradstack::rl {

enum class KlPenalty { kl, abs, mse, full };
// "kl" | "abs" | "mse" | "full"; throws gradstack::Error naming --kl-penalty otherwise.
KlPenalty parse_kl_penalty(const std::string& name);
std::string kl_penalty_name(KlPenalty p);

// Per-token KL estimate (B, N). logprobs / ref_logprobs (B, N) of the sampled tokens; for `full`,
// logp / ref_logp (B, N, V) are the whole log-distributions (unused otherwise).
Tensor kl_estimate(KlPenalty kind, const Tensor& logprobs, const Tensor& ref_logprobs,
                   const Tensor& logp = {}, const Tensor& ref_logp = {});

// r = -kl_coef * kl (B, N), with scores (B,) added at the last token. float64 result.
Tensor compute_rewards(const Tensor& scores, const Tensor& kl, double kl_coef);

struct Advantages {
    Tensor advantages;  // (B, N) float64, not whitened
    Tensor returns;     // (B, N) float64, advantages + values
};
// Generalised advantage estimation over each row, right to left, with V after the last token 0.
Advantages gae(const Tensor& rewards, const Tensor& values, double gamma, double lam);

// Mean and variance (Bessel-corrected, as torch.var; 0 for one element) of every element, in
// float64.
std::pair<double, double> mean_and_var(const Tensor& x);

// (x - mean) / sqrt(var + 1e-8) over every element (var with Bessel's correction, as torch.var);
// with shift_mean false the mean is added back (trl's whiten(shift_mean=False)).
Tensor whiten(const Tensor& x, bool shift_mean = true);

struct LossTerms {
    Tensor loss;      // 0-d, differentiable
    double clipfrac;  // fraction of elements where the clipped branch was the larger
};
// PPO's clipped surrogate. logprobs (B, N) carry the gradient; old_logprobs and advantages are
// constants.
LossTerms policy_loss(const Tensor& logprobs, const Tensor& old_logprobs, const Tensor& advantages,
                      double cliprange);
// The clipped value loss (with the 0.5). values (B, N) carry the gradient.
LossTerms value_loss(const Tensor& values, const Tensor& old_values, const Tensor& returns,
                     double cliprange_value);

// Policy entropy per position, -sum_v p(v) log p(v), from log-distributions (..., V) -> (...).
Tensor entropy(const Tensor& logp);

// The KL coefficient beta: fixed, or Ziegler et al.'s adaptive controller (trl's
// AdaptiveKLController), which moves beta so that the batch KL tracks `target`.
class KlController {
public:
    KlController(double init_kl_coef, bool adaptive, double target, double horizon);
    double value() const { return value_; }
    void set_value(double v) { value_ = v; }  // restoring a checkpoint
    // After a step whose mean KL (per sequence) was `current`, over n_steps samples.
    void update(double current, int64_t n_steps);

private:
    double value_;
    bool adaptive_;
    double target_, horizon_;
};

// Running mean and standard deviation of the scores across steps, for --score-scale and
// --score-norm (trl's RunningMoments: parallel-variance update, unbiased std).
struct RunningMoments {
    double mean = 0, var = 1, std = 1, count = 1e-24;
    void update(const std::vector<double>& xs);
};

}  // namespace gradstack::rl
