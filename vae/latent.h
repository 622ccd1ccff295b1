// The latent variable of the VAE: the Gaussian posterior q(z|x) = N(mu, diag(exp(logvar))) made by
// a linear head on the pooled encoder state, the reparameterised sample z = mu + sigma * eps, its
// KL divergence to the prior N(0, I) (with free bits), the cyclical KL weight of Optimus, and the
// active-units count. Read next: encoder.h, decoder.h, model.h.
#pragma once

#include <cstdint>
#include <memory>

#include "nn/layers/linear.h"
#include "tensor/tensor.h"

namespace gradstack::vae {

// mu and log-variance of q(z|x), each (B, latent).
struct Posterior {
    Tensor mu;
    Tensor logvar;
};

// One Linear from the pooled state (B, C) to 2 * latent values: [mu | logvar] (Optimus's
// `linear`, chunked in two).
class GaussianHead : public nn::Module {
public:
    GaussianHead(int64_t in_features, int64_t latent, DType dtype = DType::f32,
                 Generator* gen = nullptr);
    Posterior forward(const Tensor& pooled);  // (B, C) -> mu, logvar (B, latent)
    int64_t latent() const { return latent_; }

    std::shared_ptr<nn::Linear> proj;  // "proj": C -> 2 latent

private:
    int64_t latent_;
};

// z = mu + exp(logvar / 2) * eps, eps (B, latent) given by the caller (standard normal noise),
// so that the sample is a differentiable function of mu and logvar.
Tensor reparameterize(const Posterior& q, const Tensor& eps);

// KL(N(mu, sigma^2) || N(0, 1)) per element: 0.5 (mu^2 + exp(logvar) - 1 - logvar), (B, latent).
Tensor kl_per_dim(const Posterior& q);

// The KL term of the loss: the batch mean of the KL of each latent dim, summed over dims, where
// with free_bits > 0 each dim contributes max(KL_d, free_bits) (Kingma et al. 2016): a dim whose
// KL is under the threshold gets no gradient pushing it further towards the prior, so the decoder
// keeps a few nats per dim to use. free_bits = 0 gives the plain KL. 0-d.
Tensor kl_loss(const Posterior& q, double free_bits = 0);

// The weight of the KL term over training. cycles = 0: always beta_max. Otherwise training is cut
// into `cycles` equal periods (Fu et al. 2019, Optimus's frange_cycle_zero_linear); in each, the
// weight is 0 for the first ratio_zero of the period, rises linearly to beta_max over the next
// ratio_increase, and stays at beta_max for the rest.
struct KlSchedule {
    double beta_max = 1.0;
    int64_t cycles = 0;
    double ratio_zero = 0.25;
    double ratio_increase = 0.25;
    int64_t total_steps = 1;

    // Throws gradstack::Error for a negative beta or cycles, ratios outside [0, 1] or adding up to
    // more than 1 (ratio_increase must be > 0 when cycles > 0), or total_steps < 1.
    void validate() const;
    double operator()(int64_t step) const;  // step 0 .. total_steps - 1
};

// Active units (Burda et al. 2016): the number of latent dims whose posterior mean varies across
// the data, Var_x(mu_d(x)) > threshold (0.01 as usual). mu (N, latent), N >= 2.
int64_t active_units(const Tensor& mu, double threshold = 0.01);

}  // namespace gradstack::vae
