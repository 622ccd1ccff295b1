// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// with torch.optim.SGD's exact update (its steps match PyTorch's to float32 rounding).
// Read next: adam.h.
#pragma once

#include "nn/optim/optimizer.h"

namespace gradstack::nn {

struct SgdConfig {
    double lr = 1e-3;
    double momentum = 0;
    double dampening = 0;
    double weight_decay = 0;  // L2: added to the gradient as weight_decay * p
    bool nesterov = false;    // needs momentum > 0 and dampening == 0
};

// One step, per parameter p with gradient g (PyTorch's equations):
//   d = g + weight_decay * p
//   b = d                                   on the first update of p (no dampening)
//   b = momentum * b + (1 - dampening) * d  afterwards                 (only when momentum != 0)
//   d = d + momentum * b  (nesterov)   or   d = b                      (only when momentum != 0)
//   p = p - lr * d
// State per parameter: "momentum_buffer" (b), only when momentum != 0.
class Sgd : public Optimizer {
public:
    // One group with config.lr and config.weight_decay.
    Sgd(std::vector<Tensor> params, SgdConfig config = {});
    // Groups carry their own lr and weight_decay; config's are ignored.
    Sgd(std::vector<ParamGroup> groups, SgdConfig config = {});
    // Throws gradstack::Error for momentum or dampening outside [0, 1] or nesterov without
    // momentum > 0 and dampening == 0.

    const SgdConfig& config() const { return config_; }

protected:
    void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
                ParamState& state) override;
    std::vector<std::string> state_names() const override;
    std::vector<std::pair<std::string, double>> hyper() const override;
    void set_hyper(const std::map<std::string, double>& values) override;

private:
    SgdConfig config_;
};

}  // namespace gradstack::nn
