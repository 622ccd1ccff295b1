// Reference GPT-2 gelu (gelu_new) and its derivative, in float64 with libm's tanh: the two
// elementwise kernels whose fast float32 form is rewritten for speed (cpu/elementwise.cpp
// evaluates x sigmoid(2u) through a vectorised exp). Every other elementwise kernel (add, exp,
// where, ...) is one plain `map` of its scalar formula already and has no reference: under
// GRADSTACK_KERNELS=reference it runs its fast kernel. Read next: the README's reference section.
#include <cmath>

#include "tensor/kernels/elementwise.h"
#include "tensor/reference/strided.h"
#include "tensor/view.h"

namespace gradstack::reference {
namespace {

constexpr double kC = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kA = 0.044715;

// gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
void gelu_reference(const Tensor& out, const Tensor& x) {
    check(x.dtype() == out.dtype(), "[gelu] input {} but output {}", x.dtype(), out.dtype());
    visit_floating(x.dtype(), "gelu", [&]<class T>() {
        const Strided<T> xs(views::expand(x, out.shape())), os(out);
        for (int64_t e = 0; e < out.numel(); ++e) {
            const double v = static_cast<double>(xs[e]);
            os[e] = static_cast<T>(0.5 * v * (1 + std::tanh(kC * (v + kA * v * v * v))));
        }
    });
}

// out = gy gelu'(x),  gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx,
// du/dx = sqrt(2/pi) (1 + 3 0.044715 x^2)
void gelu_backward_reference(const Tensor& out, const Tensor& gy, const Tensor& x) {
    check(x.dtype() == out.dtype() && gy.dtype() == out.dtype(),
          "[gelu_backward] dtype mismatch: {}, {} -> {}", gy.dtype(), x.dtype(), out.dtype());
    visit_floating(x.dtype(), "gelu_backward", [&]<class T>() {
        const Strided<T> gs(views::expand(gy, out.shape())), xs(views::expand(x, out.shape())),
            os(out);
        for (int64_t e = 0; e < out.numel(); ++e) {
            const double v = static_cast<double>(xs[e]);
            const double t = std::tanh(kC * (v + kA * v * v * v));
            const double du = kC * (1 + 3 * kA * v * v);
            os[e] = static_cast<T>(static_cast<double>(gs[e]) *
                                   (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du));
        }
    });
}

}  // namespace

const bool gelu_reference_on_cpu = kernels::gelu.set_reference(&gelu_reference);
const bool gelu_backward_reference_on_cpu =
    kernels::gelu_backward.set_reference(&gelu_backward_reference);

}  // namespace gradstack::reference
