// The noise schedules, the forward process, the DDPM loss and the two samplers (see diffusion.h).
// Schedule arithmetic is done in double on the host; per-row coefficients of q_sample become
// (B, 1) tensors so that one batch mixes timesteps.
#include "vae/diffusion.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/losses.h"
#include "vae/denoiser.h"

namespace gradstack::vae {

std::vector<double> linear_betas(int64_t T) {
    check(T >= 1, "--timesteps must be >= 1, got {}", T);
    const double scale = 1000.0 / static_cast<double>(T);
    const double lo = scale * 1e-4, hi = scale * 0.02;
    std::vector<double> b(T);
    for (int64_t i = 0; i < T; ++i)
        b[i] = std::min(0.999, T == 1 ? lo : lo + (hi - lo) * static_cast<double>(i) /
                                                   static_cast<double>(T - 1));
    return b;
}

std::vector<double> cosine_betas(int64_t T) {
    check(T >= 1, "--timesteps must be >= 1, got {}", T);
    const double s = 0.008, pi = std::acos(-1.0);
    auto f = [&](double t) {
        const double c = std::cos((t / static_cast<double>(T) + s) / (1 + s) * pi / 2);
        return c * c;
    };
    std::vector<double> b(T);
    for (int64_t i = 0; i < T; ++i)
        b[i] = std::min(1.0 - f(static_cast<double>(i + 1)) / f(static_cast<double>(i)), 0.999);
    return b;
}

NoiseSchedule::NoiseSchedule(std::vector<double> betas) : betas_(std::move(betas)) {
    check(!betas_.empty(), "[diffusion] a schedule needs >= 1 step");
    alpha_bar_.assign(betas_.size() + 1, 1.0);
    for (std::size_t i = 0; i < betas_.size(); ++i) {
        check(betas_[i] > 0 && betas_[i] < 1, "[diffusion] beta_{} = {} is outside (0, 1)", i + 1,
              betas_[i]);
        alpha_bar_[i + 1] = alpha_bar_[i] * (1.0 - betas_[i]);
    }
}

NoiseSchedule NoiseSchedule::make(const std::string& name, int64_t T) {
    check(T >= 1, "--timesteps must be >= 1, got {}", T);
    if (name == "linear") return NoiseSchedule(linear_betas(T));
    if (name == "cosine") return NoiseSchedule(cosine_betas(T));
    fail("--schedule {}: unknown (linear or cosine)", name);
}

double NoiseSchedule::posterior_coef_x0(int64_t t) const {
    return beta(t) * std::sqrt(alpha_bar(t - 1)) / (1.0 - alpha_bar(t));
}
double NoiseSchedule::posterior_coef_xt(int64_t t) const {
    return (1.0 - alpha_bar(t - 1)) * std::sqrt(alpha(t)) / (1.0 - alpha_bar(t));
}
double NoiseSchedule::posterior_variance(int64_t t) const {
    return beta(t) * (1.0 - alpha_bar(t - 1)) / (1.0 - alpha_bar(t));
}

Tensor NoiseSchedule::q_sample(const Tensor& x0, const Tensor& t, const Tensor& noise) const {
    check(x0.dim() == 2 && noise.shape() == x0.shape() && t.dim() == 1 && t.size(0) == x0.size(0),
          "[diffusion] q_sample needs x0 and noise (B, D) and t (B,), got {}, {}, {}",
          shape_str(x0.shape()), shape_str(noise.shape()), shape_str(t.shape()));
    std::vector<int64_t> ts = to_vector<int64_t>(t);
    std::vector<double> a(ts.size()), s(ts.size());
    for (std::size_t i = 0; i < ts.size(); ++i) {
        check(ts[i] >= 1 && ts[i] <= steps(), "[diffusion] t = {} is outside 1..{}", ts[i], steps());
        a[i] = std::sqrt(alpha_bar(ts[i]));
        s[i] = std::sqrt(1.0 - alpha_bar(ts[i]));
    }
    const int64_t B = x0.size(0);
    Tensor ca = to_dtype(from_vector<double>(a, {B, 1}), x0.dtype());
    Tensor cs = to_dtype(from_vector<double>(s, {B, 1}), x0.dtype());
    return x0 * ca + noise * cs;
}

Tensor NoiseSchedule::predict_x0(const Tensor& xt, int64_t t, const Tensor& eps) const {
    Tensor x0 = (xt - eps * std::sqrt(1.0 - alpha_bar(t))) / std::sqrt(alpha_bar(t));
    return x0_clip > 0 ? clamp(x0, -x0_clip, x0_clip) : x0;
}

Tensor NoiseSchedule::ancestral_step(const Tensor& xt, int64_t t, const Tensor& eps,
                                     const Tensor& noise) const {
    Tensor x0 = predict_x0(xt, t, eps);
    Tensor mean = x0 * posterior_coef_x0(t) + xt * posterior_coef_xt(t);
    return t > 1 ? mean + noise * std::sqrt(posterior_variance(t)) : mean;
}

Tensor NoiseSchedule::ddim_step(const Tensor& xt, int64_t t, int64_t t_prev, const Tensor& eps,
                                double eta, const Tensor& noise) const {
    check(t_prev >= 0 && t_prev < t, "[ddim] t_prev {} must be in [0, t = {})", t_prev, t);
    const double ab = alpha_bar(t), ab_prev = alpha_bar(t_prev);
    const double sigma = eta * std::sqrt((1 - ab_prev) / (1 - ab)) * std::sqrt(1 - ab / ab_prev);
    Tensor x0 = predict_x0(xt, t, eps);
    const double dir = std::sqrt(std::max(0.0, 1 - ab_prev - sigma * sigma));
    Tensor x = x0 * std::sqrt(ab_prev) + eps * dir;
    return sigma > 0 ? x + noise * sigma : x;
}

std::vector<int64_t> NoiseSchedule::ddim_timesteps(int64_t K) const {
    check(K >= 1 && K <= steps(), "--ddim-steps {} must be in 1..{} (the diffusion's timesteps)",
          K, steps());
    std::vector<int64_t> ts;
    for (int64_t k = K; k >= 1; --k)
        ts.push_back(static_cast<int64_t>(std::llround(static_cast<double>(k) *
                                                       static_cast<double>(steps()) /
                                                       static_cast<double>(K))));
    ts.push_back(0);
    return ts;
}

Tensor ddpm_loss(MLPSkipNet& model, const NoiseSchedule& schedule, const Tensor& x0, const Tensor& t,
                 const Tensor& noise) {
    Tensor xt = schedule.q_sample(x0, t, noise);
    return nn::mse_loss(model.forward(xt, t), noise);
}

Tensor ddpm_loss(MLPSkipNet& model, const NoiseSchedule& schedule, const Tensor& x0, Generator* gen) {
    const int64_t B = x0.size(0);
    Tensor t = randint(1, schedule.steps() + 1, {B}, gen);
    Tensor noise = randn(x0.shape(), x0.dtype(), gen);
    return ddpm_loss(model, schedule, x0, t, noise);
}

Tensor sample_diffusion(MLPSkipNet& model, const NoiseSchedule& schedule, int64_t n,
                        int64_t ddim_steps, double eta, Generator* gen) {
    NoGradGuard no_grad;
    check(n >= 1, "-n must be >= 1, got {}", n);
    check(eta >= 0 && eta <= 1, "--eta must be in [0, 1], got {}", eta);
    const DenoiserConfig& c = model.config();
    Tensor x = randn({n, c.latent}, c.dtype, gen);
    auto steps_t = [&](int64_t t) { return full({n}, static_cast<double>(t), DType::i64); };
    if (ddim_steps == 0) {
        for (int64_t t = schedule.steps(); t >= 1; --t) {
            Tensor eps = model.forward(x, steps_t(t));
            x = schedule.ancestral_step(x, t, eps, randn(x.shape(), x.dtype(), gen));
        }
        return x;
    }
    std::vector<int64_t> ts = schedule.ddim_timesteps(ddim_steps);
    for (std::size_t k = 0; k + 1 < ts.size(); ++k) {
        Tensor eps = model.forward(x, steps_t(ts[k]));
        x = schedule.ddim_step(x, ts[k], ts[k + 1], eps, eta, randn(x.shape(), x.dtype(), gen));
    }
    return x;
}

}  // namespace gradstack::vae
