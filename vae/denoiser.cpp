// MLPSkipNet (see denoiser.h). A composition of autograd ops: its gradients come from Linear,
// LayerNorm, cat and the elementwise ops; the catalog in tests/vae checks them in float64.
#include "vae/denoiser.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/init.h"

namespace gradstack::vae {

Tensor silu(const Tensor& x) { return x * sigmoid(x); }

Tensor timestep_embedding(const Tensor& t, int64_t dim, DType dtype) {
    check(dim >= 2 && dim % 2 == 0, "[timestep embedding] dim must be even and >= 2, got {}", dim);
    check(t.dim() == 1, "[timestep embedding] t must be (B,), got {}", shape_str(t.shape()));
    // Computed on the host: there is no cos/sin op, and t carries no gradient.
    const int64_t half = dim / 2, B = t.size(0);
    std::vector<int64_t> steps = to_vector<int64_t>(to_dtype(t, DType::i64));
    std::vector<double> out(B * dim);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < half; ++i) {
            const double freq = std::exp(-std::log(10000.0) * static_cast<double>(i) /
                                         static_cast<double>(half));
            const double arg = static_cast<double>(steps[b]) * freq;
            out[b * dim + i] = std::cos(arg);
            out[b * dim + half + i] = std::sin(arg);
        }
    return to_dtype(from_vector<double>(out, {B, dim}), dtype);  // (B, dim)
}

void DenoiserConfig::validate() const {
    check(latent >= 1, "[denoiser] latent size must be >= 1, got {}", latent);
    check(hidden >= 1, "--hidden must be >= 1, got {}", hidden);
    check(layers >= 1, "--layers must be >= 1, got {}", layers);
    check(time_dim >= 2 && time_dim % 2 == 0, "--time-dim must be even and >= 2, got {}", time_dim);
}

SkipLayer::SkipLayer(int64_t in, int64_t out, int64_t cond, DType dtype, Generator* gen) {
    linear = register_module("linear", std::make_shared<nn::Linear>(nn::LinearConfig{in, out, true, dtype}, gen));
    time = register_module("time", std::make_shared<nn::Linear>(nn::LinearConfig{cond, out, true, dtype}, gen));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(nn::LayerNormConfig{out, 1e-5, dtype}));
}

Tensor SkipLayer::forward(const Tensor& x, const Tensor& cond) {
    Tensor h = linear->forward(x) * (time->forward(cond) + 1.0);  // DMLP's condition bias of 1
    return silu(norm->forward(h));
}

MLPSkipNet::MLPSkipNet(const DenoiserConfig& c, Generator* gen) : config_(c) {
    c.validate();
    auto lin = [&](const char* name, int64_t in, int64_t out) {
        return register_module(name, std::make_shared<nn::Linear>(nn::LinearConfig{in, out, true, c.dtype}, gen));
    };
    time_in = lin("time_in", c.time_dim, c.hidden);
    time_out = lin("time_out", c.hidden, c.hidden);
    layers = register_module("layers", std::make_shared<nn::ModuleList<SkipLayer>>());
    for (int64_t l = 0; l < c.layers; ++l)
        layers->push_back(std::make_shared<SkipLayer>(l == 0 ? c.latent : c.hidden + c.latent,
                                                      c.hidden, c.hidden, c.dtype, gen));
    out = lin("out", c.hidden, c.latent);
}

Tensor MLPSkipNet::forward(const Tensor& xt, const Tensor& t) {
    check(xt.dim() == 2 && xt.size(1) == config_.latent,
          "[denoiser] x_t must be (B, latent={}), got {}", config_.latent, shape_str(xt.shape()));
    check(t.dim() == 1 && t.size(0) == xt.size(0) && t.dtype() == DType::i64,
          "[denoiser] t must be int64 (B={}), got {}", xt.size(0), shape_str(t.shape()));
    Tensor e = time_out->forward(silu(time_in->forward(timestep_embedding(t, config_.time_dim, xt.dtype()))));
    Tensor h = xt;
    for (int64_t l = 0; l < config_.layers; ++l)
        h = (*layers)[l].forward(l == 0 ? h : cat({h, xt}, 1), e);  // (B, hidden)
    return out->forward(h);
}

}  // namespace gradstack::vae
