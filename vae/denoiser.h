// The denoiser eps_theta(x_t, t) of the latent diffusion model, like DMLP's MLPSkipNet (from
// Diffusion Autoencoders): a time-conditioned MLP whose every hidden layer after the first also
// sees the input x_t again (the "skip"):
//   e   = time_mlp(sinusoidal(t))                      time_mlp = Linear, SiLU, Linear
//   h_0 = x_t
//   h_l = SiLU(LayerNorm(W_l [h_{l-1}, x_t] * (1 + U_l e)))   l = 1..layers (no x_t for l = 1)
//   eps = W_out h_L
// Read next: diffusion.cpp (how it is trained and sampled).
#pragma once

#include <memory>

#include "nn/layers/container.h"
#include "nn/layers/layer_norm.h"
#include "nn/layers/linear.h"

namespace gradstack::vae {

// x * sigmoid(x).
Tensor silu(const Tensor& x);

// The transformer's sinusoidal position code for diffusion steps (guided-diffusion's
// timestep_embedding): for i < dim/2, freq_i = 10000^(-i / (dim/2)), out = [cos(t freq), sin(t
// freq)] (B, dim); t int64 (B,). dim even, >= 2. No gradient (t is an integer).
Tensor timestep_embedding(const Tensor& t, int64_t dim, DType dtype);

struct DenoiserConfig {
    int64_t latent = 32;     // D
    int64_t hidden = 256;
    int64_t layers = 4;      // hidden layers
    int64_t time_dim = 64;   // sinusoidal channels
    DType dtype = DType::f32;
    void validate() const;   // throws naming the flag
};

// One hidden layer: Linear, times (1 + time scale), LayerNorm, SiLU.
class SkipLayer : public nn::Module {
public:
    SkipLayer(int64_t in, int64_t out, int64_t cond, DType dtype, Generator* gen);
    Tensor forward(const Tensor& x, const Tensor& cond);  // (B, in), (B, cond) -> (B, out)
    std::shared_ptr<nn::Linear> linear, time;
    std::shared_ptr<nn::LayerNorm> norm;
};

class MLPSkipNet : public nn::Module {
public:
    explicit MLPSkipNet(const DenoiserConfig& config, Generator* gen = nullptr);
    // x_t (B, D), t int64 (B,) -> predicted noise (B, D).
    Tensor forward(const Tensor& xt, const Tensor& t);
    const DenoiserConfig& config() const { return config_; }

    std::shared_ptr<nn::Linear> time_in, time_out;  // the time MLP
    std::shared_ptr<nn::ModuleList<SkipLayer>> layers;
    std::shared_ptr<nn::Linear> out;

private:
    DenoiserConfig config_;
};

}  // namespace gradstack::vae
