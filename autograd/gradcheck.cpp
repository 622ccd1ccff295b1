// gradcheck (see gradcheck.h). For each checked input element x_k:
//   numeric_k  = (L(x + eps e_k) - L(x - eps e_k)) / (2 eps)
//   analytic_k = (dL/dx)_k from one backward() with seed r
// and the two must agree within atol + rtol * |numeric_k|.
#include "autograd/gradcheck.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/reduce.h"
#include "tensor/kernels/copy.h"
#include "tensor/random.h"
#include "tensor/view.h"

namespace gradstack {

GradcheckResult gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& x = inputs[i];
        if (!x.requires_grad()) continue;
        check(x.dtype() == DType::f64, "[gradcheck] input {} is {}; gradcheck needs float64", i,
              x.dtype());
        check(x.is_contiguous() && x.is_leaf(), "[gradcheck] input {} must be a contiguous leaf; "
              "build views inside the function under test", i);
        for (size_t j = 0; j < i; ++j)
            check(!inputs[j].requires_grad() || inputs[j].storage() != x.storage(),
                  "[gradcheck] inputs {} and {} share memory; make separate leaves", j, i);
    }
    // The projection r and the scalar L(x) = sum(r * f(x)).
    Tensor y0;
    {
        NoGradGuard no_grad;
        y0 = fn(inputs);
    }
    check(y0.dtype() == DType::f64, "[gradcheck] the function returned {}; it must return float64",
          y0.dtype());
    Generator gen(options.seed);
    Tensor r = randn(y0.shape(), DType::f64, &gen);
    auto L = [&]() {
        NoGradGuard no_grad;
        return sum(fn(inputs) * r).item<double>();
    };
    // Analytic: one backward with seed r.
    for (const Tensor& x : inputs)
        if (x.defined()) const_cast<Tensor&>(x).zero_grad();
    Tensor y = fn(inputs);
    check(y.requires_grad(), "[gradcheck] the output does not require grad: no checked input "
                             "reaches it");
    y.backward(r);

    GradcheckResult result;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& x = inputs[i];
        if (!x.requires_grad()) continue;
        Tensor g = x.grad();
        std::vector<double> analytic =
            g.defined() ? to_vector<double>(g) : std::vector<double>(x.numel(), 0.0);
        // Element k is perturbed in place: through its host pointer on the CPU, through a
        // one-element view filled by the device's kernel elsewhere (a GPU's memory cannot be
        // written from the host).
        const bool on_host = x.device().type == DeviceType::cpu;
        const std::vector<double> values = on_host ? std::vector<double>() : to_vector<double>(x);
        const Tensor flat = *views::try_view(x, {x.numel()});  // x is a contiguous leaf
        auto set = [&](int64_t k, double value) {
            if (on_host)
                x.data<double>()[k] = value;
            else
                kernels::fill(views::slice(flat, 0, k, k + 1), value);
        };
        for (int64_t k = 0; k < x.numel(); ++k) {
            const double saved = on_host ? x.data<double>()[k] : values[static_cast<size_t>(k)];
            set(k, saved + options.eps);
            double plus = L();
            set(k, saved - options.eps);
            double minus = L();
            set(k, saved);
            double numeric = (plus - minus) / (2 * options.eps);
            double err = std::abs(analytic[k] - numeric);
            result.max_abs_error = std::max(result.max_abs_error, err);
            if (result.ok && !(err <= options.atol + options.rtol * std::abs(numeric))) {
                result.ok = false;
                result.message = fmt::format(
                    "input {} {} element {}: analytic {:.8g} vs numeric {:.8g} (error {:.3g})", i,
                    shape_str(x.shape()), k, analytic[k], numeric, err);
            }
        }
    }
    return result;
}

}  // namespace gradstack
