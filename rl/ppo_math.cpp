// PPO's arithmetic (see ppo_math.h). The per-row loops run in float64 on the CPU; the two losses
// are built from autograd ops so that backward() reaches the policy.
#include "rl/ppo_math.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"

namespace gradstack::rl {

KlPenalty parse_kl_penalty(const std::string& name) {
    if (name == "kl") return KlPenalty::kl;
    if (name == "abs") return KlPenalty::abs;
    if (name == "mse") return KlPenalty::mse;
    if (name == "full") return KlPenalty::full;
    fail("--kl-penalty '{}' is not one of kl, abs, mse, full", name);
}

std::string kl_penalty_name(KlPenalty p) {
    switch (p) {
        case KlPenalty::kl: return "kl";
        case KlPenalty::abs: return "abs";
        case KlPenalty::mse: return "mse";
        case KlPenalty::full: return "full";
    }
    return "?";
}

Tensor kl_estimate(KlPenalty kind, const Tensor& logprobs, const Tensor& ref_logprobs,
                   const Tensor& logp, const Tensor& ref_logp) {
    switch (kind) {
        case KlPenalty::kl: return logprobs - ref_logprobs;
        case KlPenalty::abs: return abs(logprobs - ref_logprobs);
        case KlPenalty::mse: {
            Tensor d = logprobs - ref_logprobs;
            return d * d * scalar_like(d, 0.5);
        }
        case KlPenalty::full:
            check(logp.defined() && ref_logp.defined() && logp.shape() == ref_logp.shape(),
                  "[kl_estimate] the full KL needs both log-distributions (B, N, V)");
            // KL(p || p_ref) = sum_v p(v) (log p(v) - log p_ref(v)), torch's
            // kl_div(ref_logp, logp, log_target=True).sum(-1) as trl computes it.
            return sum(exp(logp) * (logp - ref_logp), {-1});
    }
    fail("[kl_estimate] unknown penalty");
}

namespace {

// A float64 contiguous copy, for the loops below.
Tensor f64(const Tensor& t) { return contiguous(to_dtype(t.detach(), DType::f64)); }

}  // namespace

Tensor compute_rewards(const Tensor& scores, const Tensor& kl, double kl_coef) {
    check(kl.dim() == 2 && scores.dim() == 1 && scores.size(0) == kl.size(0),
          "[compute_rewards] scores {} and kl {} must be (B,) and (B, N)", shape_str(scores.shape()),
          shape_str(kl.shape()));
    Tensor r = f64(kl) * scalar_tensor(-kl_coef, DType::f64);
    r = contiguous(r);
    Tensor s = f64(scores);
    const int64_t B = kl.size(0), N = kl.size(1);
    double* pr = r.data<double>();
    for (int64_t b = 0; b < B; ++b) pr[b * N + N - 1] += s.data<double>()[b];
    return r;
}

Advantages gae(const Tensor& rewards, const Tensor& values, double gamma, double lam) {
    check(rewards.dim() == 2 && rewards.shape() == values.shape(),
          "[gae] rewards {} and values {} must be the same (B, N)", shape_str(rewards.shape()),
          shape_str(values.shape()));
    Tensor r = f64(rewards), v = f64(values);
    const int64_t B = r.size(0), N = r.size(1);
    Tensor adv = zeros({B, N}, DType::f64), ret = zeros({B, N}, DType::f64);
    const double *pr = r.data<double>(), *pv = v.data<double>();
    double *pa = adv.data<double>(), *pt = ret.data<double>();
    for (int64_t b = 0; b < B; ++b) {
        double last = 0;
        for (int64_t t = N - 1; t >= 0; --t) {
            const double next_value = t + 1 < N ? pv[b * N + t + 1] : 0.0;
            const double delta = pr[b * N + t] + gamma * next_value - pv[b * N + t];
            last = delta + gamma * lam * last;
            pa[b * N + t] = last;
            pt[b * N + t] = last + pv[b * N + t];
        }
    }
    return {adv, ret};
}

std::pair<double, double> mean_and_var(const Tensor& x) {
    Tensor d = f64(x);
    const double* p = d.data<double>();
    const int64_t n = d.numel();
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m += p[i];
    m /= static_cast<double>(n);
    double v = 0;
    for (int64_t i = 0; i < n; ++i) v += (p[i] - m) * (p[i] - m);
    return {m, n > 1 ? v / static_cast<double>(n - 1) : 0.0};
}

Tensor whiten(const Tensor& x, bool shift_mean) {
    Tensor d = f64(x);
    const int64_t n = d.numel();
    check(n >= 2, "[whiten] needs at least 2 elements, got {}", n);
    const double* p = d.data<double>();
    const auto [mean, var] = mean_and_var(d);
    const double scale = 1.0 / std::sqrt(var + 1e-8);
    Tensor out = zeros(d.shape(), DType::f64);
    double* o = out.data<double>();
    for (int64_t i = 0; i < n; ++i) o[i] = (p[i] - mean) * scale + (shift_mean ? 0.0 : mean);
    return to_dtype(out, x.dtype());
}

namespace {

double fraction_greater(const Tensor& a, const Tensor& b) {
    return mean(to_dtype(gt(a.detach(), b.detach()), DType::f64)).item<double>();
}

}  // namespace

LossTerms policy_loss(const Tensor& logprobs, const Tensor& old_logprobs, const Tensor& advantages,
                      double cliprange) {
    check(logprobs.shape() == old_logprobs.shape() && logprobs.shape() == advantages.shape(),
          "[policy_loss] logprobs {}, old_logprobs {} and advantages {} must have one shape",
          shape_str(logprobs.shape()), shape_str(old_logprobs.shape()), shape_str(advantages.shape()));
    Tensor adv = to_dtype(advantages.detach(), logprobs.dtype());
    Tensor ratio = exp(logprobs - old_logprobs.detach());
    Tensor unclipped = neg(adv) * ratio;
    Tensor clipped = neg(adv) * clamp(ratio, 1.0 - cliprange, 1.0 + cliprange);
    return {mean(maximum(unclipped, clipped)), fraction_greater(clipped, unclipped)};
}

LossTerms value_loss(const Tensor& values, const Tensor& old_values, const Tensor& returns,
                     double cliprange_value) {
    check(values.shape() == old_values.shape() && values.shape() == returns.shape(),
          "[value_loss] values {}, old_values {} and returns {} must have one shape",
          shape_str(values.shape()), shape_str(old_values.shape()), shape_str(returns.shape()));
    Tensor old = to_dtype(old_values.detach(), values.dtype());
    Tensor ret = to_dtype(returns.detach(), values.dtype());
    Tensor clipped_values = old + clamp(values - old, -cliprange_value, cliprange_value);
    Tensor e1 = values - ret, e2 = clipped_values - ret;
    Tensor l1 = e1 * e1, l2 = e2 * e2;
    return {mean(maximum(l1, l2)) * scalar_like(values, 0.5), fraction_greater(l2, l1)};
}

Tensor entropy(const Tensor& logp) { return neg(sum(exp(logp) * logp, {-1})); }

KlController::KlController(double init_kl_coef, bool adaptive, double target, double horizon)
    : value_(init_kl_coef), adaptive_(adaptive), target_(target), horizon_(horizon) {
    check(init_kl_coef >= 0 && std::isfinite(init_kl_coef), "--init-kl-coef {} must be >= 0",
          init_kl_coef);
    check(!adaptive || (target > 0 && std::isfinite(target)), "--target-kl {} must be > 0", target);
    check(!adaptive || (horizon > 0 && std::isfinite(horizon)), "--horizon {} must be > 0", horizon);
}

void KlController::update(double current, int64_t n_steps) {
    if (!adaptive_) return;
    const double error = std::clamp(current / target_ - 1.0, -0.2, 0.2);
    value_ *= 1.0 + error * static_cast<double>(n_steps) / horizon_;
}

void RunningMoments::update(const std::vector<double>& xs) {
    const double n = static_cast<double>(xs.size());
    if (xs.empty()) return;
    double m = 0;
    for (double x : xs) m += x;
    m /= n;
    double v = 0;
    for (double x : xs) v += (x - m) * (x - m);
    v /= n;  // biased, as torch.var_mean(unbiased=False)
    const double delta = m - mean, total = count + n;
    const double old_sum = var * count + delta * delta * count * n / total;
    mean += delta * n / total;
    var = (old_sum + v * n) / total;
    std = std::sqrt(var * total / std::max(total - 1.0, 1e-24));
    count = total;
}

}  // namespace gradstack::rl
