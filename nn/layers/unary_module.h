// UnaryModule: a module with one tensor in and one tensor out, the kind Sequential chains.
#pragma once

#include "nn/module.h"

namespace gradstack::nn {

class UnaryModule : public Module {
public:
    virtual Tensor forward(const Tensor& x) = 0;
    Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace gradstack::nn
