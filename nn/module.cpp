// Module registry and the operations that walk it (see module.h).
#include "nn/module.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "autograd/grad_mode.h"
#include "tensor/backend.h"
#include "tensor/kernels/copy.h"

namespace gradstack::nn {

namespace {
void check_name(const std::string& name, const char* what) {
    check(!name.empty() && name.find('.') == std::string::npos,
          "[Module] {} name '{}' must be non-empty and contain no '.'", what, name);
}
}  // namespace

Tensor Module::register_parameter(const std::string& name, Tensor value) {
    check_name(name, "parameter");
    for (const auto& [n, t] : params_)
        check(n != name, "[Module] parameter '{}' registered twice", name);
    if (!value.requires_grad()) value.requires_grad_(true);
    params_.emplace_back(name, value);
    return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
    check_name(name, "buffer");
    buffers_.emplace_back(name, value);
    buffer_persistent_.push_back(persistent);
    return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
    check_name(name, "submodule");
    check(module != nullptr, "[Module] submodule '{}' is null", name);
    for (const auto& [n, m] : children_)
        check(n != name, "[Module] submodule '{}' registered twice", name);
    children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, NamedTensors& params, NamedTensors* buffers,
                     bool persistent_only) const {
    for (const auto& [n, t] : params_) params.emplace_back(prefix + n, t);
    if (buffers) {
        for (size_t i = 0; i < buffers_.size(); ++i)
            if (!persistent_only || buffer_persistent_[i])
                buffers->emplace_back(prefix + buffers_[i].first, buffers_[i].second);
    }
    for (const auto& [n, m] : children_) m->collect(prefix + n + ".", params, buffers, persistent_only);
}

NamedTensors Module::named_parameters() const {
    NamedTensors out;
    collect("", out, nullptr, false);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [n, t] : named_parameters()) out.push_back(t);
    return out;
}

NamedTensors Module::named_buffers() const {
    NamedTensors params, buffers;
    collect("", params, &buffers, false);
    return buffers;
}

NamedTensors Module::state_dict() const {
    NamedTensors params, buffers;
    collect("", params, &buffers, true);
    params.insert(params.end(), buffers.begin(), buffers.end());
    return params;
}

void Module::zero_grad() {
    for (Tensor& p : parameters()) p.zero_grad();
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [n, m] : children_) m->train(on);
}

void Module::requires_grad_(bool on) {
    for (Tensor& p : parameters()) p.requires_grad_(on);
}

int64_t Module::num_parameters() const {
    int64_t n = 0;
    for (auto& [name, t] : named_parameters()) n += t.numel();
    return n;
}

void Module::copy_from(const Module& other) {
    NamedTensors mine = state_dict(), theirs = other.state_dict();
    std::map<std::string, Tensor> by_name(theirs.begin(), theirs.end());
    check(mine.size() == theirs.size(), "[copy_from] modules have {} and {} tensors", mine.size(),
          theirs.size());
    NoGradGuard no_grad;
    for (auto& [name, t] : mine) {
        auto it = by_name.find(name);
        check(it != by_name.end(), "[copy_from] '{}' is missing in the source module", name);
        check(it->second.shape() == t.shape(), "[copy_from] '{}' has shape {} here but {} there",
              name, shape_str(t.shape()), shape_str(it->second.shape()));
        kernels::copy_(t, it->second);
    }
}

std::string Module::LoadResult::describe() const {
    std::string out;
    for (const auto& k : missing) out += "\n  missing: " + k;
    for (const auto& k : unexpected) out += "\n  unexpected: " + k;
    for (const auto& k : mismatched) out += "\n  shape mismatch: " + k;
    return out;
}

Module::LoadResult Module::load_state_dict(const NamedTensors& tensors, bool strict,
                                           const std::string& source) {
    std::map<std::string, Tensor> given;
    LoadResult r;
    for (const auto& [name, t] : tensors) {
        check(given.emplace(name, t).second, "[load_state_dict] {}: '{}' appears twice", source, name);
    }
    NamedTensors mine = state_dict();
    std::map<std::string, Tensor> expected(mine.begin(), mine.end());
    for (const auto& [name, t] : mine) {
        auto it = given.find(name);
        if (it == given.end()) r.missing.push_back(name);
        else if (it->second.shape() != t.shape())
            r.mismatched.push_back(fmt::format("{} expected {}, got {}", name, shape_str(t.shape()),
                                               shape_str(it->second.shape())));
    }
    for (const auto& [name, t] : tensors)
        if (!expected.count(name)) r.unexpected.push_back(name);
    check(!strict || r.ok(), "[load_state_dict] {} does not match the model:{}", source,
          r.describe());
    NoGradGuard no_grad;
    for (auto& [name, t] : mine) {
        auto it = given.find(name);
        if (it != given.end() && it->second.shape() == t.shape()) kernels::copy_(t, it->second);
    }
    return r;
}

void Module::to(Device device) {
    check_device(device, "[Module::to]");
    NoGradGuard no_grad;
    NamedTensors all;  // parameters and every buffer, the non-persistent ones too
    collect("", all, &all, false);
    for (auto& [name, t] : all) {
        if (t.device() == device) continue;  // done (a tied weight is listed twice)
        // In place: the tensor's own TensorImpl gets the moved storage, so every handle on it
        // (the module's field, an optimizer's list, a tied weight) sees the move.
        const Tensor moved = kernels::to_device(t.detach(), device);
        TensorImpl* impl = t.impl();
        impl->storage = moved.storage();
        impl->strides = moved.strides();
        impl->offset = 0;
        impl->is_contiguous = true;
        if (t.requires_grad() && t.grad().defined())
            t.set_grad(kernels::to_device(t.grad(), device));
    }
}

std::string Module::summary() const {
    std::string out;
    int64_t total = 0;
    for (auto& [name, t] : named_parameters()) {
        out += fmt::format("{:<40} {:<16} {:<8} {:>12}\n", name, shape_str(t.shape()), t.dtype(),
                           t.numel());
        total += t.numel();
    }
    out += fmt::format("{} parameters\n", total);
    return out;
}

namespace {

template <class T>
bool all_finite(const Tensor& t) {
    const T* d = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i)
        if (!std::isfinite(d[i])) return false;
    return true;
}

}  // namespace

std::string first_nonfinite(const NamedTensors& tensors) {
    for (const auto& [name, tensor] : tensors) {
        if (!is_floating(tensor.dtype())) continue;
        const Tensor host = kernels::to_device(tensor, Device::cpu());
        const Tensor t = host.is_contiguous() ? host : kernels::contiguous(host);
        const bool ok = t.dtype() == DType::f64 ? all_finite<double>(t) : all_finite<float>(t);
        if (!ok) return name;
    }
    return "";
}

}  // namespace gradstack::nn
