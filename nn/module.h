// Module: the base of every layer and model. A module registers its parameters, buffers and
// submodules by name in its constructor; names join with dots, exactly like PyTorch state dicts
// ("h.0.attn.c_attn.weight"), so loading a Hugging Face checkpoint is a name lookup.
// Read next: nn/layers/linear.h (the smallest layer), then the other layers.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace gradstack::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    // Modules own parameters by identity; copy one with deep_copy() (below).
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    // Parameters of this module and all submodules, depth first in registration order.
    NamedTensors named_parameters() const;
    std::vector<Tensor> parameters() const;
    NamedTensors named_buffers() const;
    // Parameters and persistent buffers: what a checkpoint holds.
    NamedTensors state_dict() const;
    // Direct children, in registration order.
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
        return children_;
    }

    // Drops every parameter's gradient.
    void zero_grad();
    // Training mode (dropout active) for this module and all submodules.
    void train(bool on = true);
    void eval() { train(false); }
    bool is_training() const { return training_; }
    // Freezes (false) or unfreezes every parameter.
    void requires_grad_(bool on);
    int64_t num_parameters() const;

    // Copies values from `tensors` (name -> tensor, e.g. a checkpoint) into this module's state
    // dict, converting dtypes. Everything is checked before anything is copied: with `strict`,
    // a missing, unexpected or misshaped name throws listing every problem by name; without, the
    // matching names are loaded and the returned report lists the rest.
    struct LoadResult {
        std::vector<std::string> missing, unexpected, mismatched;
        bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
        std::string describe() const;
    };
    LoadResult load_state_dict(const NamedTensors& tensors, bool strict = true,
                               const std::string& source = "state dict");

    // Copies every parameter and buffer value from `other`, which must have the same names and
    // shapes (throws naming the first mismatch). Storage stays this module's own.
    void copy_from(const Module& other);
    // Moves every parameter and buffer to `device`, in place (all handles see the move).
    void to(Device device);

    // One line per parameter: name, shape, dtype, count; then the total.
    std::string summary() const;

protected:
    // Called from a subclass constructor. Parameters get requires_grad; buffers do not, and are
    // saved in state_dict() when persistent.
    Tensor register_parameter(const std::string& name, Tensor value);
    Tensor register_buffer(const std::string& name, Tensor value, bool persistent = true);
    template <class M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
        add_child(name, module);
        return module;
    }

private:
    void add_child(const std::string& name, std::shared_ptr<Module> module);
    void collect(const std::string& prefix, NamedTensors& params, NamedTensors* buffers,
                 bool persistent_only) const;

    NamedTensors params_;
    NamedTensors buffers_;
    std::vector<bool> buffer_persistent_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
    bool training_ = true;
};

// A fresh module of the same type and configuration with copied values (e.g. PPO's frozen
// reference model). M must expose `config()` and a constructor taking it.
template <class M>
std::shared_ptr<M> deep_copy(const M& m) {
    auto copy = std::make_shared<M>(m.config());
    copy->copy_from(m);
    copy->train(m.is_training());
    return copy;
}

// The name of the first tensor holding a NaN or an infinity, "" when all are finite: the check
// that a diverged run (or a damaged file) never becomes a saved checkpoint. Reads contiguous
// tensors in place, no copies.
std::string first_nonfinite(const NamedTensors& tensors);

}  // namespace gradstack::nn
