// The Gaussian latent (see latent.h). Everything here is a short composition of autograd ops, so
// the gradients come from their parts: d z / d mu = 1, d z / d logvar = z_noise * sigma / 2, and
// d KL / d mu = mu, d KL / d logvar = (exp(logvar) - 1) / 2 per element.
#include "vae/latent.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "tensor/error.h"

namespace gradstack::vae {

GaussianHead::GaussianHead(int64_t in_features, int64_t latent, DType dtype, Generator* gen)
    : latent_(latent) {
    check(latent > 0, "[vae] the latent size must be >= 1, got {}", latent);
    check(in_features > 0, "[vae] the pooled size must be >= 1, got {}", in_features);
    proj = register_module("proj", std::make_shared<nn::Linear>(
                                       nn::LinearConfig{in_features, 2 * latent, true, dtype}, gen));
}

Posterior GaussianHead::forward(const Tensor& pooled) {
    check(pooled.dim() == 2, "[vae head] pooled state must be (B, C), got {}",
          shape_str(pooled.shape()));
    Tensor out = proj->forward(pooled);  // (B, 2 latent)
    return {slice(out, 1, 0, latent_), slice(out, 1, latent_, 2 * latent_)};
}

Tensor reparameterize(const Posterior& q, const Tensor& eps) {
    check(eps.shape() == q.mu.shape(), "[vae] noise {} must have mu's shape {}",
          shape_str(eps.shape()), shape_str(q.mu.shape()));
    return q.mu + exp(q.logvar * 0.5) * eps;
}

Tensor kl_per_dim(const Posterior& q) {
    return (q.mu * q.mu + exp(q.logvar) - 1.0 - q.logvar) * 0.5;  // (B, latent)
}

Tensor kl_loss(const Posterior& q, double free_bits) {
    check(free_bits >= 0, "[vae] free bits must be >= 0, got {}", free_bits);
    Tensor per_dim = mean(kl_per_dim(q), {0});  // (latent,): batch mean of each dim's KL
    if (free_bits > 0) per_dim = maximum(per_dim, scalar_like(per_dim, free_bits));
    return sum(per_dim);
}

void KlSchedule::validate() const {
    check(beta_max >= 0, "--beta must be >= 0, got {}", beta_max);
    check(cycles >= 0, "--kl-cycles must be >= 0, got {}", cycles);
    check(ratio_zero >= 0 && ratio_zero <= 1 && ratio_increase >= 0 && ratio_increase <= 1 &&
              ratio_zero + ratio_increase <= 1,
          "--kl-ratio-zero {} and --kl-ratio-increase {} must lie in [0, 1] and add up to <= 1",
          ratio_zero, ratio_increase);
    check(cycles == 0 || ratio_increase > 0, "--kl-ratio-increase must be > 0 with --kl-cycles");
    check(total_steps >= 1, "[vae] the KL schedule needs >= 1 step, got {}", total_steps);
}

double KlSchedule::operator()(int64_t step) const {
    if (cycles == 0) return beta_max;
    const double period = static_cast<double>(total_steps) / static_cast<double>(cycles);
    const double pos = std::fmod(static_cast<double>(step), period) / period;  // in [0, 1)
    if (pos < ratio_zero) return 0.0;
    return beta_max * std::min(1.0, (pos - ratio_zero) / ratio_increase);
}

int64_t active_units(const Tensor& mu, double threshold) {
    check(mu.dim() == 2 && mu.size(0) >= 2, "[vae] active units need mu (N >= 2, latent), got {}",
          shape_str(mu.shape()));
    std::vector<double> v = to_vector<double>(to_dtype(var(mu, {0}, 0), DType::f64));
    return std::count_if(v.begin(), v.end(), [&](double x) { return x > threshold; });
}

}  // namespace gradstack::vae
