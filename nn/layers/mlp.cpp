// MLP (see mlp.h).
#include "nn/layers/mlp.h"

#include "autograd/ops.h"

namespace gradstack::nn {

MLP::MLP(MLPConfig c, Generator* gen) : config_(c) {
    check(c.n_embd > 0 && c.n_inner > 0, "[MLP] sizes must be positive, got {} and {}", c.n_embd,
          c.n_inner);
    c_fc = register_module("c_fc", std::make_shared<Conv1D>(Conv1DConfig{c.n_embd, c.n_inner, c.init_std, c.dtype}, gen));
    c_proj = register_module("c_proj", std::make_shared<Conv1D>(Conv1DConfig{c.n_inner, c.n_embd, c.proj_init_std, c.dtype}, gen));
    dropout_ = register_module("dropout", std::make_shared<Dropout>(c.resid_pdrop, gen));
}

Tensor MLP::forward(const Tensor& x) {
    return dropout_->forward(c_proj->forward(gelu(c_fc->forward(x))));
}

}  // namespace gradstack::nn
