// A denoising diffusion model (Ho et al. 2020) of latent vectors x_0 (B, D), as DMLP learns the
// VAE's latent space:
//   forward process  q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),  abar_t = prod_s<=t alpha_s
//   denoiser         eps_theta(x_t, t) predicts the noise; loss = mean (eps_theta - eps)^2,
//                    t ~ U{1..T}
//   samplers         ancestral (the posterior q(x_{t-1} | x_t, x_0) with x_0 predicted), and
//                    DDIM (Song et al. 2021) on K <= T evenly spaced steps, eta in [0, 1].
// Schedules: linear (DDPM's 1e-4 .. 0.02 for T = 1000, scaled by 1000 / T as Nichol & Dhariwal do
// so any T ends near pure noise) and cosine (Nichol & Dhariwal 2021). Read next: denoiser.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace gradstack::vae {

// beta_t = min(0.999, linspace(scale * 1e-4, scale * 0.02, T)[t - 1]), scale = 1000 / T (the
// clip matters only for T < 20, where the scaled end would pass 1).
std::vector<double> linear_betas(int64_t T);
// abar(t) = f(t) / f(0), f(t) = cos^2(pi/2 (t/T + s) / (1 + s)), s = 0.008;
// beta_t = min(1 - abar(t) / abar(t - 1), 0.999).
std::vector<double> cosine_betas(int64_t T);

class NoiseSchedule {
public:
    // betas[t - 1] for t = 1..T, each in (0, 1). Throws otherwise.
    explicit NoiseSchedule(std::vector<double> betas);
    // "linear" or "cosine" with T >= 1 steps; throws naming --schedule / --timesteps otherwise.
    static NoiseSchedule make(const std::string& name, int64_t T);

    int64_t steps() const { return static_cast<int64_t>(betas_.size()); }
    double beta(int64_t t) const { return betas_.at(t - 1); }              // t = 1..T
    double alpha(int64_t t) const { return 1.0 - beta(t); }
    double alpha_bar(int64_t t) const { return alpha_bar_.at(t); }          // t = 0..T, abar_0 = 1

    // q(x_{t-1} | x_t, x_0) = N(c0 x_0 + ct x_t, var):
    //   c0 = beta_t sqrt(abar_{t-1}) / (1 - abar_t),  ct = (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t),
    //   var = beta_t (1 - abar_{t-1}) / (1 - abar_t)  (0 at t = 1).
    double posterior_coef_x0(int64_t t) const;
    double posterior_coef_xt(int64_t t) const;
    double posterior_variance(int64_t t) const;

    // x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise, t int64 (B,) with values in 1..T, x_0 and
    // noise (B, D). Differentiable in x_0.
    Tensor q_sample(const Tensor& x0, const Tensor& t, const Tensor& noise) const;
    // x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), one t for the batch; clamped to
    // [-x0_clip, x0_clip] when x0_clip > 0 (guided diffusion's clip_denoised). Where abar_t is
    // tiny (the cosine schedule's last steps, abar_T ~ 1e-7 at T = 100) the division magnifies
    // the denoiser's error in eps a thousandfold, and DDIM's large steps carry it on.
    Tensor predict_x0(const Tensor& xt, int64_t t, const Tensor& eps) const;
    // One ancestral step: posterior mean at the predicted x_0, plus sqrt(var) * noise.
    Tensor ancestral_step(const Tensor& xt, int64_t t, const Tensor& eps, const Tensor& noise) const;
    // One DDIM step from t to t_prev < t (0 gives x_0):
    //   x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps + sigma noise,
    //   sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev).
    // With t_prev = t - 1 and eta = 1 it is the ancestral step.
    Tensor ddim_step(const Tensor& xt, int64_t t, int64_t t_prev, const Tensor& eps, double eta,
                     const Tensor& noise) const;
    // The K steps DDIM visits, from T down: t_k = round(k T / K) for k = K..1, then 0.
    std::vector<int64_t> ddim_timesteps(int64_t K) const;

    double x0_clip = 0;  // 0: no clamp

private:
    std::vector<double> betas_;
    std::vector<double> alpha_bar_;  // T + 1 values, alpha_bar_[0] = 1
};

// The model eps_theta(x_t, t): (B, D) and int64 (B,) -> (B, D).
class MLPSkipNet;

// The DDPM loss on x_0 (B, D): t ~ U{1..T} and noise ~ N(0, I) from `gen`, x_t = q_sample, mean
// squared error of the predicted noise. Differentiable in x_0 and the denoiser's parameters.
Tensor ddpm_loss(MLPSkipNet& model, const NoiseSchedule& schedule, const Tensor& x0, Generator* gen);
// The same with t and noise given (tests, reproducible evaluation).
Tensor ddpm_loss(MLPSkipNet& model, const NoiseSchedule& schedule, const Tensor& x0, const Tensor& t,
                 const Tensor& noise);

// n samples (n, D) from N(0, I) at t = T down to x_0: ancestral over all T steps when
// ddim_steps == 0, else DDIM on ddim_steps steps with `eta`. No gradients.
Tensor sample_diffusion(MLPSkipNet& model, const NoiseSchedule& schedule, int64_t n, int64_t ddim_steps,
                        double eta, Generator* gen);

}  // namespace gradstack::vae
