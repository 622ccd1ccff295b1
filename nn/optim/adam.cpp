// Adam's and AdamW's update as one fused loop per parameter: the optimizer hot path of GPT-2
// training, one read and write of p, m and v and one read of g per step (see adam.h). Beside it
// the reference update (adam_reference below): the textbook formulas with m_hat and v_hat, in
// float64, run instead when the kernel set is `reference` (GRADSTACK_KERNELS, tensor/dispatch.h).
// Read next: schedule.cpp.
#include "nn/optim/adam.h"

#include <cmath>

#include "nn/optim/fused.h"
#include "tensor/cpu/loops.h"
#include "tensor/dispatch.h"
#include "tensor/kernels/optim.h"

namespace gradstack::nn {

namespace {
void check_config(const AdamConfig& c, const char* name, const char* where) {
    check(std::isfinite(c.beta1) && c.beta1 >= 0 && c.beta1 < 1 && std::isfinite(c.beta2) &&
              c.beta2 >= 0 && c.beta2 < 1,
          "[{}] {}betas ({}, {}) must be in [0, 1)", name, where, c.beta1, c.beta2);
    check(std::isfinite(c.eps) && c.eps >= 0, "[{}] {}eps {} must be >= 0", name, where, c.eps);
}
// The reference update of one parameter, element by element in float64 (t = state.step):
//   g     = g + weight_decay p                  (Adam only: L2)
//   p     = p (1 - lr weight_decay)             (AdamW only: decoupled)
//   m     = beta1 m + (1 - beta1) g
//   v     = beta2 v + (1 - beta2) g^2
//   m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)
//   p     = p - lr m_hat / (sqrt(v_hat) + eps)
// Only the stored p, m, v are rounded to the parameter's dtype.
template <class T>
void adam_reference(T* p, const T* g, T* m, T* v, int64_t n, const AdamConfig& c, double lr,
                    double weight_decay, bool decoupled, int64_t step) {
    const double t = static_cast<double>(step);
    for (int64_t k = 0; k < n; ++k) {
        double gk = static_cast<double>(g[k]), pk = static_cast<double>(p[k]);
        if (!decoupled) gk += weight_decay * pk;
        if (decoupled) pk *= 1 - lr * weight_decay;
        const double mk = c.beta1 * static_cast<double>(m[k]) + (1 - c.beta1) * gk;
        const double vk = c.beta2 * static_cast<double>(v[k]) + (1 - c.beta2) * gk * gk;
        const double m_hat = mk / (1 - std::pow(c.beta1, t));
        const double v_hat = vk / (1 - std::pow(c.beta2, t));
        m[k] = static_cast<T>(mk);
        v[k] = static_cast<T>(vk);
        p[k] = static_cast<T>(pk - lr * m_hat / (std::sqrt(v_hat) + c.eps));
    }
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamConfig config)
    : Adam("adam", {{std::move(params), config.lr, config.weight_decay}}, config, false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamConfig config)
    : Adam("adam", std::move(groups), config, false) {}

Adam::Adam(const char* name, std::vector<ParamGroup> groups, AdamConfig config, bool decoupled)
    : Optimizer(name, std::move(groups)), config_(config), decoupled_(decoupled) {
    check_config(config_, name, "");
}

AdamW::AdamW(std::vector<Tensor> params, AdamConfig config)
    : Adam("adamw", {{std::move(params), config.lr, config.weight_decay}}, config, true) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamConfig config)
    : Adam("adamw", std::move(groups), config, true) {}

std::vector<std::string> Adam::state_names() const {
    return {"exp_avg", "exp_avg_sq"};
}

std::vector<std::pair<std::string, double>> Adam::hyper() const {
    return {{"beta1", config_.beta1},
            {"beta2", config_.beta2},
            {"eps", config_.eps},
            {"decoupled_weight_decay", decoupled_ ? 1.0 : 0.0}};
}

void Adam::set_hyper(const std::map<std::string, double>& values) {
    const double decoupled = values.at("decoupled_weight_decay");
    check(decoupled == (decoupled_ ? 1.0 : 0.0),
          "[{}] state dict: 'hyper.decoupled_weight_decay' is {}, so it comes from {}, not {}",
          name(), decoupled, decoupled == 1 ? "adamw" : "adam", name());
    AdamConfig c = config_;
    c.beta1 = values.at("beta1");
    c.beta2 = values.at("beta2");
    c.eps = values.at("eps");
    check_config(c, name().c_str(), "state dict: ");
    config_ = c;
}

void Adam::update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
                  ParamState& state) {
    if (state.buffers.empty()) {
        state.buffers.emplace_back("exp_avg", zeros_like(param));
        state.buffers.emplace_back("exp_avg_sq", zeros_like(param));
    }
    const Tensor& exp_avg = state.buffers[0].second;
    const Tensor& exp_avg_sq = state.buffers[1].second;

    // Per-step scalars in double, as PyTorch computes them from Python floats.
    const double t = static_cast<double>(state.step);
    const double bias_correction1 = 1 - std::pow(config_.beta1, t);
    const double bias_correction2_sqrt = std::sqrt(1 - std::pow(config_.beta2, t));
    const double step_size = group.lr / bias_correction1;
    const bool l2 = !decoupled_ && group.weight_decay != 0;

    // A parameter on another device (a GPU) runs the same loop as that device's kernel
    // (tensor/kernels/optim.h), in place; the kernel leaves the version bumps to us.
    if (param.device().type != DeviceType::cpu) {
        kernels::adam_update(param, grad, exp_avg, exp_avg_sq, group.lr, config_.beta1,
                             config_.beta2, config_.eps, group.weight_decay, decoupled_,
                             bias_correction1, bias_correction2_sqrt);
        for (const Tensor* t : {&param, &exp_avg, &exp_avg_sq}) t->storage()->bump_version();
        return;
    }
    if (kernel_set() == KernelSet::reference) {
        detail::update_in_place(
            param, grad, {exp_avg, exp_avg_sq}, [&]<class T>(T* p, const T* g, int64_t n) {
                adam_reference(p, g, exp_avg.data<T>(), exp_avg_sq.data<T>(), n, config_, group.lr,
                               group.weight_decay, decoupled_, state.step);
            });
        return;
    }
    detail::update_in_place(
        param, grad, {exp_avg, exp_avg_sq}, [&]<class T>(T* p, const T* g, int64_t n) {
            // Each scalar is rounded to T once, as PyTorch does when a Python float meets a
            // float32 tensor; the per-element operations follow PyTorch's order, so results agree
            // to float rounding.
            const T wd = T(group.weight_decay);
            const T shrink = T(decoupled_ ? 1 - group.lr * group.weight_decay : 1);
            const T beta1 = T(config_.beta1), one_minus_beta1 = T(1 - config_.beta1);
            const T beta2 = T(config_.beta2), one_minus_beta2 = T(1 - config_.beta2);
            const T bc2_sqrt = T(bias_correction2_sqrt), eps = T(config_.eps);
            const T neg_step_size = T(-step_size);
            T* m = exp_avg.data<T>();
            T* v = exp_avg_sq.data<T>();
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelGrain)
            for (int64_t k = 0; k < n; ++k) {
                T gk = g[k];
                if (l2) gk = gk + wd * p[k];  // Adam: weight decay joins the gradient
                const T pk = p[k] * shrink;   // AdamW: decay the weight (1 for Adam)
                const T mk = m[k] * beta1 + one_minus_beta1 * gk;
                const T vk = v[k] * beta2 + one_minus_beta2 * gk * gk;
                m[k] = mk;
                v[k] = vk;
                const T denom = std::sqrt(vk) / bc2_sqrt + eps;  // sqrt(v_hat) + eps, scaled
                p[k] = pk + neg_step_size * mk / denom;
            }
        });
}

}  // namespace gradstack::nn
