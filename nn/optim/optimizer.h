// Optimizer: the base of SGD, Adam and AdamW. It holds parameter groups (each with its own lr and
// weight decay), per-parameter state created on the first update, and turns that state into a flat
// list of named tensors (state_dict) that a checkpoint can save and load_state_dict can restore.
// Read next: sgd.h (the smallest optimizer), adam.h (the one GPT-2 training uses), schedule.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace gradstack::nn {

// Same alias as nn/module.h (a repeated alias of the same type is legal C++).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Parameters that share a learning rate and a weight decay (PyTorch's param_groups).
struct ParamGroup {
    std::vector<Tensor> params;
    double lr = 1e-3;
    double weight_decay = 0;
};

// nanoGPT's split: parameters with dim >= 2 (matmul weights, embeddings) get `weight_decay`; the
// others (biases, LayerNorm weights and biases) get none. Both groups use `lr`; the no-decay
// group comes second. A group with no parameters is left out.
std::vector<ParamGroup> decay_groups(const NamedTensors& params, double weight_decay, double lr);

class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // One update of every parameter that has a gradient (parameters without one are skipped and
    // keep their state), in place, with grad mode off. Each write bumps the storage version, so a
    // graph that saved a parameter before the step refuses to run its backward afterwards.
    void step();
    // Drops every parameter's gradient (the next backward starts from nothing).
    void zero_grad();

    // The groups, in construction order. Changing lr or weight_decay here is how a schedule
    // drives the optimizer; adding, removing or reordering parameters is not supported.
    std::vector<ParamGroup>& param_groups() { return groups_; }
    const std::vector<ParamGroup>& param_groups() const { return groups_; }
    // Sets lr of every group (the usual way to apply a schedule: opt.set_lr(schedule(step))).
    void set_lr(double lr);
    // Number of step() calls so far (restored by load_state_dict).
    int64_t step_count() const { return steps_; }
    const std::string& name() const { return name_; }

    // Everything needed to resume, as named tensors (buffers share memory with the optimizer, so
    // save them before the next step):
    //   "state.step"                  int64 0-d, step() calls so far
    //   "state.<g>.<i>.step"          int64 0-d, updates of parameter i of group g (its bias
    //                                 correction counts these, as PyTorch does)
    //   "state.<g>.<i>.<buffer>"      the parameter's buffers, e.g. exp_avg, exp_avg_sq,
    //                                 momentum_buffer (same shape and dtype as the parameter);
    //                                 absent for a parameter that was never updated
    //   "param_groups.<g>.lr"         float64 0-d
    //   "param_groups.<g>.weight_decay"  float64 0-d
    //   "param_groups.<g>.params"     int64 0-d, number of parameters in the group
    //   "hyper.<name>"                float64 0-d, optimizer-wide settings (beta1, momentum, ...)
    NamedTensors state_dict() const;
    // Restores a state_dict() of an optimizer built with the same groups (same parameter counts
    // and shapes). Hyper-parameters, group lr/weight_decay and step counts are taken from `state`;
    // buffers are copied (the optimizer never aliases the caller's tensors). Throws
    // gradstack::Error naming the key for a missing or unexpected key, a wrong shape or dtype, a
    // tensor that should be 0-d, or a group/parameter count that differs; on error nothing changes.
    void load_state_dict(const NamedTensors& state);

protected:
    // `name` prefixes error messages ("[adam] ..."). Throws for an undefined, non-float, non-leaf
    // or repeated parameter, or a negative lr or weight decay.
    Optimizer(std::string name, std::vector<ParamGroup> groups);

    struct ParamState {
        int64_t step = 0;      // updates this parameter has had, including the current one
        NamedTensors buffers;  // in state_names() order; empty until the first update
    };

    // Updates `param` in place from `grad` (same shape, dtype and device: step() checks).
    // state.step has already been incremented; buffers are empty on the first update, and
    // update() creates them.
    virtual void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
                        ParamState& state) = 0;
    // Names of the per-parameter buffers, in the order update() stores them.
    virtual std::vector<std::string> state_names() const = 0;
    // Optimizer-wide settings, saved as "hyper.<name>".
    virtual std::vector<std::pair<std::string, double>> hyper() const = 0;
    // Sets them from a loaded state dict (every name of hyper() is present); throws
    // gradstack::Error for an invalid value or one that may not change (e.g. AdamW into Adam).
    virtual void set_hyper(const std::map<std::string, double>& values) = 0;

private:
    std::string name_;
    std::vector<ParamGroup> groups_;
    std::vector<std::vector<ParamState>> state_;  // state_[g][i] for groups_[g].params[i]
    int64_t steps_ = 0;
};

}  // namespace gradstack::nn
