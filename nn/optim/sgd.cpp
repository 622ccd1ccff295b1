// SGD's update as one fused loop per parameter (see sgd.h for the equations).
// Read next: adam.cpp.
#include "nn/optim/sgd.h"

#include <cmath>

#include "nn/optim/fused.h"
#include "tensor/cpu/loops.h"
#include "tensor/kernels/elementwise.h"

namespace gradstack::nn {

namespace {
void check_config(const SgdConfig& c, const char* where) {
    check(std::isfinite(c.momentum) && c.momentum >= 0 && c.momentum <= 1,
          "[sgd] {}momentum {} must be in [0, 1]", where, c.momentum);
    check(std::isfinite(c.dampening) && c.dampening >= 0 && c.dampening <= 1,
          "[sgd] {}dampening {} must be in [0, 1]", where, c.dampening);
    check(!c.nesterov || (c.momentum > 0 && c.dampening == 0),
          "[sgd] {}nesterov needs momentum > 0 and dampening 0, got momentum {} and dampening {}",
          where, c.momentum, c.dampening);
}
}  // namespace

Sgd::Sgd(std::vector<Tensor> params, SgdConfig config)
    : Sgd(std::vector<ParamGroup>{{std::move(params), config.lr, config.weight_decay}}, config) {}

Sgd::Sgd(std::vector<ParamGroup> groups, SgdConfig config)
    : Optimizer("sgd", std::move(groups)), config_(config) {
    check_config(config_, "");
}

std::vector<std::string> Sgd::state_names() const {
    if (config_.momentum == 0) return {};
    return {"momentum_buffer"};
}

std::vector<std::pair<std::string, double>> Sgd::hyper() const {
    return {{"momentum", config_.momentum},
            {"dampening", config_.dampening},
            {"nesterov", config_.nesterov ? 1.0 : 0.0}};
}

void Sgd::set_hyper(const std::map<std::string, double>& values) {
    SgdConfig c = config_;
    c.momentum = values.at("momentum");
    c.dampening = values.at("dampening");
    const double nesterov = values.at("nesterov");
    check(nesterov == 0 || nesterov == 1,
          "[sgd] state dict: 'hyper.nesterov' is {}; it must be 0 "
          "or 1",
          nesterov);
    c.nesterov = nesterov == 1;
    check_config(c, "state dict: ");
    config_ = c;
}

void Sgd::update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
                 ParamState& state) {
    const bool use_momentum = config_.momentum != 0;
    const bool first = state.buffers.empty();
    if (use_momentum && first) state.buffers.emplace_back("momentum_buffer", empty_like(param));
    std::vector<Tensor> buffers;
    if (use_momentum) buffers.push_back(state.buffers[0].second);

    const bool decay = group.weight_decay != 0;
    const bool nesterov = config_.nesterov;
    if (param.device().type != DeviceType::cpu) {
        // A parameter on another device (a GPU): the loop below as elementwise kernels, in the
        // same order, each scalar a 0-d tensor of the parameter's dtype (rounded to it once).
        auto scalar = [&](double v) { return scalar_tensor(v, param.dtype(), param.device()); };
        auto times = [](const Tensor& a, const Tensor& b) {
            return kernels::binary(kernels::mul, a, b);
        };
        Tensor d = grad;
        if (decay) d = kernels::binary(kernels::add, d, times(scalar(group.weight_decay), param));
        if (use_momentum) {
            const Tensor& b = buffers[0];
            if (first)
                kernels::copy(b, d);
            else
                kernels::add(b, times(b, scalar(config_.momentum)),
                             times(scalar(1 - config_.dampening), d));
            if (nesterov)
                d = kernels::binary(kernels::add, d, times(scalar(config_.momentum), b));
            else
                d = b;
        }
        kernels::add(param, param, times(scalar(-group.lr), d));
        param.storage()->bump_version();
        for (const Tensor& b : buffers) b.storage()->bump_version();
        return;
    }
    // Each scalar is rounded to the parameter's type once, as PyTorch does for a Python float.
    detail::update_in_place(param, grad, buffers, [&]<class T>(T* p, const T* g, int64_t n) {
        const T wd = T(group.weight_decay), mom = T(config_.momentum);
        const T keep = T(1 - config_.dampening), neg_lr = T(-group.lr);
        T* b = use_momentum ? buffers[0].data<T>() : nullptr;
#pragma omp parallel for schedule(static) if (n >= cpu::kParallelGrain)
        for (int64_t k = 0; k < n; ++k) {
            T d = g[k];
            if (decay) d = d + wd * p[k];
            if (b) {
                const T bk = first ? d : b[k] * mom + keep * d;
                b[k] = bk;
                d = nesterov ? d + mom * bk : bk;
            }
            p[k] = p[k] + neg_lr * d;
        }
    });
}

}  // namespace gradstack::nn
