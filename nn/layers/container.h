// Containers: Sequential (runs unary modules in order; children named "0", "1", ...) and ModuleList
// (holds modules under "0", "1", ... without a forward, like GPT-2's `h`).
#pragma once

#include <memory>
#include <vector>

#include "nn/layers/unary_module.h"

namespace gradstack::nn {

class Sequential : public UnaryModule {
public:
    Sequential() = default;
    explicit Sequential(std::vector<std::shared_ptr<UnaryModule>> layers);
    void push_back(std::shared_ptr<UnaryModule> layer);
    Tensor forward(const Tensor& x) override;
    size_t size() const { return layers_.size(); }

private:
    std::vector<std::shared_ptr<UnaryModule>> layers_;
};

template <class M>
class ModuleList : public Module {
public:
    void push_back(std::shared_ptr<M> m) {
        items_.push_back(register_module(std::to_string(items_.size()), std::move(m)));
    }
    size_t size() const { return items_.size(); }
    M& operator[](size_t i) { return *items_.at(i); }
    const M& operator[](size_t i) const { return *items_.at(i); }
    auto begin() { return items_.begin(); }
    auto end() { return items_.end(); }

private:
    std::vector<std::shared_ptr<M>> items_;
};

}  // namespace gradstack::nn
