// The optimizer base: parameter checks, the step loop that skips parameters without a gradient,
// and the flat state dict with a load that validates every key before changing anything.
// Read next: sgd.cpp, adam.cpp (the update rules).
#include "nn/optim/optimizer.h"

#include <cmath>
#include <set>

#include "autograd/grad_mode.h"
#include "tensor/kernels/copy.h"

namespace gradstack::nn {

std::vector<ParamGroup> decay_groups(const NamedTensors& params, double weight_decay, double lr) {
    ParamGroup decay{{}, lr, weight_decay};
    ParamGroup no_decay{{}, lr, 0.0};
    for (const auto& [name, p] : params) {
        check(p.defined(), "[decay_groups] parameter '{}' is undefined", name);
        if (!p.requires_grad()) continue;  // frozen: nothing to optimize (as nanoGPT)
        (p.dim() >= 2 ? decay : no_decay).params.push_back(p);
    }
    std::vector<ParamGroup> groups;
    if (!decay.params.empty()) groups.push_back(std::move(decay));
    if (!no_decay.params.empty()) groups.push_back(std::move(no_decay));
    return groups;
}

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups)
    : name_(std::move(name)), groups_(std::move(groups)) {
    std::set<const TensorImpl*> seen;
    size_t count = 0;
    for (size_t g = 0; g < groups_.size(); ++g) {
        const ParamGroup& group = groups_[g];
        check(std::isfinite(group.lr) && group.lr >= 0, "[{}] group {} has lr {}; it must be >= 0",
              name_, g, group.lr);
        check(std::isfinite(group.weight_decay) && group.weight_decay >= 0,
              "[{}] group {} has weight_decay {}; it must be >= 0", name_, g, group.weight_decay);
        for (size_t i = 0; i < group.params.size(); ++i) {
            const Tensor& p = group.params[i];
            check(p.defined(), "[{}] parameter {} of group {} is undefined", name_, i, g);
            check(is_floating(p.dtype()),
                  "[{}] parameter {} of group {} is {}; only float32 and float64 parameters "
                  "can be optimized",
                  name_, i, g, p.dtype());
            check(p.is_leaf(),
                  "[{}] parameter {} of group {} was computed by an op; optimize the leaf "
                  "tensor it came from",
                  name_, i, g);
            check(seen.insert(p.impl()).second,
                  "[{}] parameter {} of group {} appears more than once", name_, i, g);
        }
        count += group.params.size();
        state_.emplace_back(group.params.size());
    }
    check(count > 0, "[{}] got no parameters to optimize", name_);
}

void Optimizer::step() {
    NoGradGuard no_grad;
    for (size_t g = 0; g < groups_.size(); ++g) {
        const ParamGroup& group = groups_[g];
        check(group.params.size() == state_[g].size(),
              "[{}] group {} had {} parameters and now has {}; build a new optimizer instead",
              name_, g, state_[g].size(), group.params.size());
        for (size_t i = 0; i < group.params.size(); ++i) {
            const Tensor& p = group.params[i];
            const Tensor& grad = p.grad();
            if (!grad.defined()) continue;
            check(p.device() == grad.device(),
                  "[{}] parameter {} of group {} is on {} with its gradient on {}: move both to "
                  "one device",
                  name_, i, g, p.device(), grad.device());
            check(grad.shape() == p.shape() && grad.dtype() == p.dtype(),
                  "[{}] gradient {} {} of parameter {} of group {} does not match it ({} {})",
                  name_, grad.dtype(), shape_str(grad.shape()), i, g, p.dtype(),
                  shape_str(p.shape()));
            ParamState& s = state_[g][i];
            ++s.step;
            update(group, p, grad, s);
        }
    }
    ++steps_;
}

void Optimizer::zero_grad() {
    for (ParamGroup& group : groups_)
        for (Tensor& p : group.params) p.zero_grad();
}

void Optimizer::set_lr(double lr) {
    check(std::isfinite(lr) && lr >= 0, "[{}] set_lr({}): lr must be >= 0", name_, lr);
    for (ParamGroup& group : groups_) group.lr = lr;
}

namespace {
std::string state_key(size_t g, size_t i, const std::string& what) {
    return fmt::format("state.{}.{}.{}", g, i, what);
}
}  // namespace

NamedTensors Optimizer::state_dict() const {
    NamedTensors out;
    out.emplace_back("state.step", scalar_tensor(static_cast<double>(steps_), DType::i64));
    for (size_t g = 0; g < groups_.size(); ++g) {
        const std::string prefix = fmt::format("param_groups.{}.", g);
        out.emplace_back(prefix + "lr", scalar_tensor(groups_[g].lr, DType::f64));
        out.emplace_back(prefix + "weight_decay",
                         scalar_tensor(groups_[g].weight_decay, DType::f64));
        out.emplace_back(prefix + "params",
                         scalar_tensor(static_cast<double>(groups_[g].params.size()), DType::i64));
    }
    for (const auto& [name, value] : hyper())
        out.emplace_back("hyper." + name, scalar_tensor(value, DType::f64));
    for (size_t g = 0; g < state_.size(); ++g) {
        for (size_t i = 0; i < state_[g].size(); ++i) {
            const ParamState& s = state_[g][i];
            if (s.step == 0) continue;  // never updated: no state yet
            out.emplace_back(state_key(g, i, "step"),
                             scalar_tensor(static_cast<double>(s.step), DType::i64));
            for (const auto& [name, t] : s.buffers) out.emplace_back(state_key(g, i, name), t);
        }
    }
    return out;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
    const char* where = "load_state_dict";
    std::map<std::string, Tensor> by_name;
    for (const auto& [key, t] : state) {
        check(t.defined(), "[{}] {}: '{}' is an undefined tensor", name_, where, key);
        check(by_name.emplace(key, t).second, "[{}] {}: key '{}' appears twice", name_, where, key);
    }
    std::set<std::string> used;
    auto find = [&](const std::string& key) -> const Tensor* {
        auto it = by_name.find(key);
        if (it == by_name.end()) return nullptr;
        used.insert(key);
        return &it->second;
    };
    // A 0-d number of the expected kind: int64 counts, float hyper-parameters.
    auto number = [&](const std::string& key, bool integer) -> const Tensor& {
        const Tensor* t = find(key);
        check(t != nullptr, "[{}] {}: missing '{}'", name_, where, key);
        check(t->dim() == 0, "[{}] {}: '{}' must be a 0-d tensor, got shape {}", name_, where, key,
              shape_str(t->shape()));
        check(integer ? t->dtype() == DType::i64 : is_floating(t->dtype()),
              "[{}] {}: '{}' must be {}, got {}", name_, where, key, integer ? "int64" : "float",
              t->dtype());
        return *t;
    };

    // Scalars first: step count, groups, hyper-parameters.
    const int64_t steps = number("state.step", true).item<int64_t>();
    check(steps >= 0, "[{}] {}: 'state.step' is {}; it must be >= 0", name_, where, steps);
    std::vector<std::pair<double, double>> lr_wd;
    for (size_t g = 0; g < groups_.size(); ++g) {
        const std::string prefix = fmt::format("param_groups.{}.", g);
        const double lr = number(prefix + "lr", false).item<double>();
        const double wd = number(prefix + "weight_decay", false).item<double>();
        check(std::isfinite(lr) && lr >= 0 && std::isfinite(wd) && wd >= 0,
              "[{}] {}: group {} has lr {} and weight_decay {}; both must be >= 0", name_, where, g,
              lr, wd);
        const int64_t count = number(prefix + "params", true).item<int64_t>();
        check(count == static_cast<int64_t>(groups_[g].params.size()),
              "[{}] {}: group {} has {} parameters in the state dict but {} here", name_, where, g,
              count, groups_[g].params.size());
        lr_wd.emplace_back(lr, wd);
    }
    const auto old_hyper = hyper();
    std::map<std::string, double> new_hyper;
    for (const auto& [name, value] : old_hyper)
        new_hyper[name] = number("hyper." + name, false).item<double>();
    set_hyper(new_hyper);  // validates before it changes anything

    // Then the per-parameter state; the buffers it needs depend on the hyper-parameters just set
    // (SGD has a momentum buffer only when momentum != 0), so undo set_hyper on any error.
    std::vector<std::vector<ParamState>> new_state(groups_.size());
    try {
        const std::vector<std::string> names = state_names();
        for (size_t g = 0; g < groups_.size(); ++g) {
            new_state[g].resize(groups_[g].params.size());
            for (size_t i = 0; i < groups_[g].params.size(); ++i) {
                const Tensor& p = groups_[g].params[i];
                if (by_name.count(state_key(g, i, "step")) == 0) continue;  // never updated
                ParamState& s = new_state[g][i];
                s.step = number(state_key(g, i, "step"), true).item<int64_t>();
                check(s.step >= 1, "[{}] {}: '{}' is {}; it must be >= 1", name_, where,
                      state_key(g, i, "step"), s.step);
                for (const std::string& name : names) {
                    const std::string key = state_key(g, i, name);
                    const Tensor* t = find(key);
                    check(t != nullptr, "[{}] {}: missing '{}'", name_, where, key);
                    check(t->shape() == p.shape() && t->dtype() == p.dtype(),
                          "[{}] {}: '{}' is {} {} but its parameter is {} {}", name_, where, key,
                          t->dtype(), shape_str(t->shape()), p.dtype(), shape_str(p.shape()));
                    check(t->device() == p.device(),
                          "[{}] {}: '{}' is not on the parameter's device", name_, where, key);
                    s.buffers.emplace_back(name, kernels::clone(*t));
                }
            }
        }
        for (const auto& [key, t] : by_name)
            check(used.count(key) != 0, "[{}] {}: unexpected key '{}'", name_, where, key);
    } catch (...) {
        set_hyper(std::map<std::string, double>(old_hyper.begin(), old_hyper.end()));
        throw;
    }

    steps_ = steps;
    for (size_t g = 0; g < groups_.size(); ++g) {
        groups_[g].lr = lr_wd[g].first;
        groups_[g].weight_decay = lr_wd[g].second;
    }
    state_ = std::move(new_state);
}

}  // namespace gradstack::nn
