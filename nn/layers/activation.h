// Stateless layers: GELU (GPT-2's tanh form, gelu_new), ReLU and Dropout, as modules so that
// Sequential can chain them and train()/eval() reaches Dropout.
#pragma once

#include "nn/layers/unary_module.h"
#include "tensor/random.h"

namespace gradstack::nn {

class GELU : public UnaryModule {
public:
    Tensor forward(const Tensor& x) override;
};

class ReLU : public UnaryModule {
public:
    Tensor forward(const Tensor& x) override;
};

// Zeroes each element with probability p in training mode and scales the rest by 1/(1-p);
// the identity in eval mode. Masks come from `gen` (the default generator when null), so a seed
// reproduces them.
class Dropout : public UnaryModule {
public:
    explicit Dropout(double p, Generator* gen = nullptr);
    Tensor forward(const Tensor& x) override;
    double p() const { return p_; }
    Generator* generator() const { return gen_; }  // null: the default generator

private:
    double p_;
    Generator* gen_;
};

}  // namespace gradstack::nn
