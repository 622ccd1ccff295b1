// Internal to nn/optim: runs an optimizer's update as one fused loop over raw float data. The
// update rules (sgd.cpp, adam.cpp) are plain per-element loops; this helper hands them contiguous
// pointers of the right type and does the in-place bookkeeping around them.
// Read next: adam.cpp (the loop GPT-2 training spends its optimizer time in).
#pragma once

#include "tensor/kernels/copy.h"
#include "tensor/tensor.h"

namespace gradstack::nn::detail {

// Calls body.template operator()<T>(p, g, n) with T = float or double (the parameter's dtype),
// p and g pointing at n contiguous elements of param and grad. A strided parameter is updated
// through a contiguous copy that is written back. Buffers the body writes (exp_avg, ...) must be
// contiguous tensors the optimizer created; pass them in `buffers` to have their versions bumped.
// The parameter's storage version is bumped, so autograd notices the write.
template <class F>
void update_in_place(const Tensor& param, const Tensor& grad, const std::vector<Tensor>& buffers,
                     F&& body) {
    Tensor p = param.is_contiguous() ? param : kernels::clone(param);
    const Tensor g = kernels::contiguous(grad);
    if (p.dtype() == DType::f32)
        body.template operator()<float>(p.data<float>(), g.data<float>(), p.numel());
    else
        body.template operator()<double>(p.data<double>(), g.data<double>(), p.numel());
    if (p.is_same(param))
        param.storage()->bump_version();
    else
        kernels::copy_(param, p);  // bumps the version itself
    for (const Tensor& b : buffers) b.storage()->bump_version();
}

}  // namespace gradstack::nn::detail
