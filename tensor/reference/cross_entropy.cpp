// Reference cross-entropy over the last (class) dim, forward and backward: logits [..., C] read as
// N rows of C, one row at a time in float64. The fast twin is cpu/cross_entropy.cpp (a vectorised
// exp, the backward's lse split in two floats). Read next: reference/dropout.cpp.
#include <cmath>

#include "tensor/kernels/nn.h"
#include "tensor/reference/strided.h"

namespace gradstack::reference {
namespace {

// The target of row r, checked: [0, C) or ignore_index.
int64_t target_of(const Strided<int64_t>& target, int64_t r, int64_t C, int64_t ignore_index) {
    const int64_t t = target[r];
    check(t == ignore_index || (t >= 0 && t < C),
          "[cross_entropy] target {} at flat position {} is out of range for {} classes "
          "(ignore_index is {})",
          t, r, C, ignore_index);
    return t;
}

// For row r with target t (ls = label_smoothing):
//   lse  = log sum_c exp(x_c) = m + log sum_c exp(x_c - m), m = max_c x_c (so exp cannot overflow)
//   loss = (1 - ls) (lse - x_t) + ls (lse - (1/C) sum_c x_c)
// -log softmax_t = lse - x_t; the second term is the mean of -log softmax_c over the classes
// (the target mixed with a uniform distribution). Rows with t = ignore_index: loss 0, lse 0.
template <class T>
void cross_entropy_rows(const Tensor& loss_t, const Tensor& lse_t, const Tensor& logits_t,
                        const Tensor& target_t, int64_t ignore_index, double ls) {
    const int64_t C = logits_t.size(-1), N = target_t.numel();
    const Strided<T> x(logits_t), loss(loss_t);
    const Strided<double> lse(lse_t);
    const Strided<int64_t> target(target_t);
    for (int64_t r = 0; r < N; ++r) target_of(target, r, C, ignore_index);
    for (int64_t r = 0; r < N; ++r) {
        const int64_t t = target[r];
        if (t == ignore_index) {
            loss[r] = T(0);
            lse[r] = 0;
            continue;
        }
        double m = -INFINITY, sum_x = 0;
        for (int64_t c = 0; c < C; ++c) {
            const double v = static_cast<double>(x[r * C + c]);
            if (v > m) m = v;
            sum_x += v;
        }
        double sum_exp = 0;
        for (int64_t c = 0; c < C; ++c) sum_exp += std::exp(static_cast<double>(x[r * C + c]) - m);
        const double l = m + std::log(sum_exp);
        const double nll = l - static_cast<double>(x[r * C + t]);
        const double smooth = l - sum_x / static_cast<double>(C);
        loss[r] = static_cast<T>(ls == 0 ? nll : (1 - ls) * nll + ls * smooth);
        lse[r] = l;
    }
}

// d loss_r / d x_c = softmax_c - (1 - ls) [c == t] - ls / C, softmax_c = exp(x_c - lse), times
// the row's upstream gradient gloss_r; 0 on ignored rows.
template <class T>
void cross_entropy_backward_rows(const Tensor& gx_t, const Tensor& gloss_t, const Tensor& logits_t,
                                 const Tensor& lse_t, const Tensor& target_t, int64_t ignore_index,
                                 double ls) {
    const int64_t C = logits_t.size(-1), N = target_t.numel();
    const Strided<T> gx(gx_t), gloss(gloss_t), x(logits_t);
    const Strided<double> lse(lse_t);
    const Strided<int64_t> target(target_t);
    for (int64_t r = 0; r < N; ++r) target_of(target, r, C, ignore_index);
    for (int64_t r = 0; r < N; ++r) {
        const int64_t t = target[r];
        for (int64_t c = 0; c < C; ++c) {
            if (t == ignore_index) {
                gx[r * C + c] = T(0);
                continue;
            }
            const double p = std::exp(static_cast<double>(x[r * C + c]) - lse[r]);
            const double onehot = c == t ? 1.0 : 0.0;
            gx[r * C + c] = static_cast<T>(static_cast<double>(gloss[r]) *
                                           (p - (1 - ls) * onehot - ls / static_cast<double>(C)));
        }
    }
}

void cross_entropy_reference(const Tensor& loss, const Tensor& lse, const Tensor& logits,
                             const Tensor& target, int64_t ignore_index, double label_smoothing) {
    check(target.dtype() == DType::i64, "[cross_entropy] target must be int64, got {}",
          target.dtype());
    check(lse.dtype() == DType::f64, "[cross_entropy] lse must be float64, got {}", lse.dtype());
    visit_floating(logits.dtype(), "cross_entropy", [&]<class T>() {
        cross_entropy_rows<T>(loss, lse, logits, target, ignore_index, label_smoothing);
    });
}

void cross_entropy_backward_reference(const Tensor& gx, const Tensor& gloss, const Tensor& logits,
                                      const Tensor& lse, const Tensor& target,
                                      int64_t ignore_index, double label_smoothing) {
    visit_floating(logits.dtype(), "cross_entropy_backward", [&]<class T>() {
        cross_entropy_backward_rows<T>(gx, gloss, logits, lse, target, ignore_index,
                                       label_smoothing);
    });
}

}  // namespace

const bool cross_entropy_reference_on_cpu =
    kernels::cross_entropy.set_reference(&cross_entropy_reference);
const bool cross_entropy_backward_reference_on_cpu =
    kernels::cross_entropy_backward.set_reference(&cross_entropy_backward_reference);

}  // namespace gradstack::reference
