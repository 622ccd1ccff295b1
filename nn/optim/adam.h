// Adam and AdamW (Kingma & Ba; Loshchilov & Hutter) with torch.optim.Adam/AdamW's exact float
// math (PyTorch 1.13, amsgrad off): bias correction, eps outside the square root, and weight decay
// either added to the gradient (Adam, L2) or applied to the weights (AdamW, decoupled).
// Read next: schedule.h (the learning rate over training), clip.h.
#pragma once

#include "nn/optim/optimizer.h"

namespace gradstack::nn {

struct AdamConfig {
    double lr = 1e-3;
    double beta1 = 0.9;    // decay of the gradient's running mean, in [0, 1)
    double beta2 = 0.999;  // decay of the squared gradient's running mean, in [0, 1)
    double eps = 1e-8;
    double weight_decay = 0;  // PyTorch's AdamW default is 0.01: AdamW's constructor uses that
};

// One step t (1, 2, ... counted per parameter) for parameter p with gradient g:
//   Adam:   g = g + weight_decay * p               (L2, inside the moments)
//   AdamW:  p = p * (1 - lr * weight_decay)        (decoupled, before the update)
//   m = beta1 * m + (1 - beta1) * g                 "exp_avg"
//   v = beta2 * v + (1 - beta2) * g * g             "exp_avg_sq"
//   p = p - lr * m_hat / (sqrt(v_hat) + eps)        m_hat = m / (1 - beta1^t),
//                                                   v_hat = v / (1 - beta2^t)
// evaluated as PyTorch does, p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps),
// in the parameter's dtype, as one pass over p, g, m and v (OpenMP for large tensors). Under the
// reference kernel set (GRADSTACK_KERNELS=reference, tensor/dispatch.h) the step runs the formulas
// above as written, m_hat and v_hat included, in float64 (adam_reference in adam.cpp).
class Adam : public Optimizer {
public:
    // One group with config.lr and config.weight_decay.
    Adam(std::vector<Tensor> params, AdamConfig config = {});
    // Groups carry their own lr and weight_decay (see decay_groups); config's are ignored.
    Adam(std::vector<ParamGroup> groups, AdamConfig config = {});
    // Both throw gradstack::Error for betas outside [0, 1) or a negative eps.

    const AdamConfig& config() const { return config_; }
    bool decoupled_weight_decay() const { return decoupled_; }

protected:
    Adam(const char* name, std::vector<ParamGroup> groups, AdamConfig config, bool decoupled);

    void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
                ParamState& state) override;
    std::vector<std::string> state_names() const override;
    std::vector<std::pair<std::string, double>> hyper() const override;
    void set_hyper(const std::map<std::string, double>& values) override;

private:
    AdamConfig config_;
    bool decoupled_;
};

// Adam with decoupled weight decay (torch.optim.AdamW). Its state dict says so
// ("hyper.decoupled_weight_decay" = 1), and loading it into an Adam throws, and vice versa.
class AdamW : public Adam {
public:
    AdamW(std::vector<Tensor> params, AdamConfig config = AdamConfig{.weight_decay = 0.01});
    AdamW(std::vector<ParamGroup> groups, AdamConfig config = AdamConfig{.weight_decay = 0.01});
};

}  // namespace gradstack::nn
