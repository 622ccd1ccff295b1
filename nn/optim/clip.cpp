// clip_grad_norm: one pass to sum squares in double, one in-place scale when the norm is too big.
// Read next: nn/README.md.
#include "nn/optim/clip.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops/elementwise.h"
#include "tensor/cpu/loops.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/reduce.h"

namespace gradstack::nn {

namespace {
template <class T>
double sum_of_squares(const T* g, int64_t n) {
    double sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum) if (n >= cpu::kParallelGrain)
    for (int64_t k = 0; k < n; ++k) sum += double(g[k]) * double(g[k]);
    return sum;
}
}  // namespace

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
    check(std::isfinite(max_norm) && max_norm > 0, "[clip_grad_norm] max_norm {} must be > 0",
          max_norm);
    NoGradGuard no_grad;
    std::vector<Tensor> grads;
    double sum = 0;
    for (size_t i = 0; i < params.size(); ++i) {
        check(params[i].defined(), "[clip_grad_norm] parameter {} is undefined", i);
        const Tensor& g = params[i].grad();
        if (!g.defined()) continue;
        if (g.device().type != DeviceType::cpu) {
            // Another device (a GPU): the same sum of squares in double, as kernels there, and
            // one double back per parameter.
            const Tensor g64 = kernels::to_dtype(g, DType::f64);
            std::vector<int64_t> all(static_cast<size_t>(g64.dim()));
            for (int64_t d = 0; d < g64.dim(); ++d) all[static_cast<size_t>(d)] = d;
            const Tensor squares = kernels::binary(kernels::mul, g64, g64);
            sum += kernels::sum_keepdim(squares, all).item<double>();
            grads.push_back(g);
            continue;
        }
        const Tensor c = kernels::contiguous(g);
        sum += c.dtype() == DType::f32 ? sum_of_squares(c.data<float>(), c.numel())
                                       : sum_of_squares(c.data<double>(), c.numel());
        grads.push_back(g);
    }
    const double norm = std::sqrt(sum);
    const double coef = max_norm / (norm + 1e-6);
    if (coef < 1) {  // false for a nan norm
        for (Tensor& g : grads) mul_(g, coef);
    }
    return norm;
}

}  // namespace gradstack::nn
