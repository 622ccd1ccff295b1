// Losses (see losses.h). cross_entropy, the loss GPT-2 trains with, is the fused op of
// autograd/ops/nn.h (re-exported in losses.h). For logits [N, C] and targets t (ls = label
// smoothing; rows with t = ignore_index count 0 and are left out of the mean):
//   lse_r  = log sum_c exp(logits_rc)                          (m + log sum exp(x - m), m the max)
//   loss_r = (1 - ls) (lse_r - logits_rt) + ls (lse_r - (1/C) sum_c logits_rc)
//   d loss_r / d logits_rc = softmax_rc - (1 - ls) [c == t] - ls / C
// so the [N, C] softmax is never stored. Its kernels: tensor/cpu/cross_entropy.cpp (fast) and
// tensor/reference/cross_entropy.cpp (the same formulas as plain float64 loops;
// GRADSTACK_KERNELS=reference runs it).
#include "nn/losses.h"

#include <limits>

#include "autograd/ops.h"

namespace gradstack::nn {

namespace {
Tensor reduce(const Tensor& per_element, Reduction reduction) {
    switch (reduction) {
        case Reduction::none: return per_element;
        case Reduction::sum: return sum(per_element);
        case Reduction::mean: return mean(per_element);
    }
    return per_element;
}
}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    check(input.shape() == target.shape(), "[mse_loss] input {} and target {} differ in shape",
          shape_str(input.shape()), shape_str(target.shape()));
    Tensor d = input - target;
    return reduce(d * d, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& y, Reduction reduction) {
    check(x.shape() == y.shape(), "[binary_cross_entropy_with_logits] logits {} and target {} "
          "differ in shape", shape_str(x.shape()), shape_str(y.shape()));
    // Two branches, each fed only the inputs it is exact and finite for (clamp), so neither the
    // loss nor its gradient overflows: x >= 0: x - x y + log(1 + e^-x); x < 0: -x y + log(1 + e^x).
    const double inf = std::numeric_limits<double>::infinity();
    Tensor xp = clamp(x, 0, inf), xn = clamp(x, -inf, 0);
    Tensor pos = xp - xp * y + log(1.0 + exp(-xp));
    Tensor neg = -(xn * y) + log(1.0 + exp(xn));
    return reduce(where(ge(x, scalar_like(x, 0)), pos, neg), reduction);
}

Tensor kl_divergence(const Tensor& p, const Tensor& q, int64_t dim, bool log_probs) {
    check(p.shape() == q.shape(), "[kl_divergence] p {} and q {} differ in shape",
          shape_str(p.shape()), shape_str(q.shape()));
    Tensor logp = log_probs ? p : log_softmax(p, dim);
    Tensor logq = log_probs ? q : log_softmax(q, dim);
    Tensor per_row = sum(exp(logp) * (logp - logq), {dim});
    return mean(per_row);
}

}  // namespace gradstack::nn
