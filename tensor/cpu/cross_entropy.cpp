// CPU cross-entropy over the last (class) dim, fused: the forward finds each row's log-sum-exp
// once (max pass, exp-sum pass in double) and saves it; the backward turns it back into the
// softmax in one pass, softmax - smoothed one-hot. The [N, C] probabilities are never stored,
// which for GPT-2's 50257-word vocabulary is most of the memory of the loss.
// Read next: cpu/dropout.cpp, autograd/ops/nn.cpp.
// Read next, the reference twin: reference/cross_entropy.cpp (cross_entropy forward and backward),
// the same math as plain float64 loops; GRADSTACK_KERNELS=reference runs it instead
// (tensor/dispatch.h).
#include <cmath>
#include <string>

#include "tensor/cpu/row_math.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/nn.h"

namespace gradstack::cpu {
namespace {

// "(1, 2)": the multi-index of flat C-order position `flat` in `shape`, for error messages.
std::string position_str(const Shape& shape, int64_t flat) {
    Shape index(shape.size());
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        index[d] = flat % shape[d];
        flat /= shape[d];
    }
    return shape_str(index);
}

// Throws for the first target outside [0, C) that is not ignore_index. Runs before the parallel
// loops, which must not throw.
void check_targets(const Tensor& target, int64_t C, int64_t ignore_index) {
    const int64_t* t = target.data<int64_t>();
    for (int64_t r = 0; r < target.numel(); ++r) {
        if (t[r] == ignore_index || (t[r] >= 0 && t[r] < C)) continue;
        fail(
            "[cross_entropy] target {} at position {} is out of range for {} classes "
            "(ignore_index is {})",
            t[r], position_str(target.shape(), r), C, ignore_index);
    }
}

// Fresh contiguous scratch when `t` is not contiguous; copy back with finish().
Tensor writable(const Tensor& t) {
    return t.is_contiguous() ? t : empty(t.shape(), t.dtype(), t.device());
}
void finish(const Tensor& dst, const Tensor& scratch) {
    if (!scratch.is_same(dst)) kernels::copy(dst, scratch);
}

// loss = (1 - ls) nll + ls smooth, where nll = lse - x_t and smooth = mean_c(-log p_c)
// = lse - mean_c x_c (PyTorch's label smoothing: the target mixed with a uniform distribution).
template <class T>
void cross_entropy_impl(const Tensor& loss, const Tensor& lse, const Tensor& logits_in,
                        const Tensor& target_in, int64_t ignore_index, double ls) {
    const Tensor logits = kernels::contiguous(logits_in);
    const Tensor target = kernels::contiguous(target_in);
    const int64_t C = logits.size(-1), N = target.numel();
    check_targets(target, C, ignore_index);
    const Tensor loss_c = writable(loss), lse_c = writable(lse);
    const T* px = logits.data<T>();
    const int64_t* pt = target.data<int64_t>();
    T* ploss = loss_c.data<T>();
    double* plse = lse_c.data<double>();
    parallel_rows(N, C, [&](int64_t r) {
        if (pt[r] == ignore_index) {
            ploss[r] = T(0);
            plse[r] = 0;
            return;
        }
        const T* x = px + r * C;
        const T m = row_max(x, C);
        const double l = static_cast<double>(m) + std::log(row_sum_exp(x, C, m));
        double value = l - static_cast<double>(x[pt[r]]);
        if (ls != 0) {
            const double smooth = l - row_sum(x, C) / static_cast<double>(C);
            value = (1 - ls) * value + ls * smooth;
        }
        ploss[r] = static_cast<T>(value);
        plse[r] = l;
    });
    finish(loss, loss_c);
    finish(lse, lse_c);
}

// d loss_r / d x_c = p_c - (1 - ls) [c == t] - ls / C, with p_c = exp(x_c - lse) the softmax.
template <class T>
void cross_entropy_backward_impl(const Tensor& gx, const Tensor& gloss_in, const Tensor& logits_in,
                                 const Tensor& lse_in, const Tensor& target_in,
                                 int64_t ignore_index, double ls) {
    const Tensor logits = kernels::contiguous(logits_in);
    const Tensor target = kernels::contiguous(target_in);
    const Tensor gloss = kernels::contiguous(gloss_in), lse = kernels::contiguous(lse_in);
    const int64_t C = logits.size(-1), N = target.numel();
    const Tensor gx_c = writable(gx);
    const T* px = logits.data<T>();
    const int64_t* pt = target.data<int64_t>();
    const T* pg = gloss.data<T>();
    const double* plse = lse.data<double>();
    T* pgx = gx_c.data<T>();
    const T uniform = static_cast<T>(ls / static_cast<double>(C));
    const T on_target = static_cast<T>(1 - ls);
    parallel_rows(N, C, [&](int64_t r) {
        T* g = pgx + r * C;
        if (pt[r] == ignore_index) {
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) g[c] = T(0);
            return;
        }
        const T* x = px + r * C;
        // lse = hi + lo in two floats, and x - lse = (x - hi) - lo: x - hi is exact for the
        // logits that matter (those near lse), so logits near 1000 keep their digits, and the
        // loop stays in T (a double inside it would halve the vector width).
        const T hi = static_cast<T>(plse[r]);
        const T lo = static_cast<T>(plse[r] - static_cast<double>(hi));
        const T scale = pg[r];
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) g[c] = scale * (exp_of((x[c] - hi) - lo) - uniform);
        const int64_t t = pt[r];
        const T p_t = exp_of((x[t] - hi) - lo);
        g[t] = scale * ((p_t - on_target) - uniform);
    });
    finish(gx, gx_c);
}

void cross_entropy_cpu(const Tensor& loss, const Tensor& lse, const Tensor& logits,
                       const Tensor& target, int64_t ignore_index, double label_smoothing) {
    check(target.dtype() == DType::i64, "[cross_entropy] target must be int64, got {}",
          target.dtype());
    check(lse.dtype() == DType::f64, "[cross_entropy] lse must be float64, got {}", lse.dtype());
    visit_floating(logits.dtype(), "cross_entropy", [&]<class T>() {
        cross_entropy_impl<T>(loss, lse, logits, target, ignore_index, label_smoothing);
    });
}

void cross_entropy_backward_cpu(const Tensor& gx, const Tensor& gloss, const Tensor& logits,
                                const Tensor& lse, const Tensor& target, int64_t ignore_index,
                                double label_smoothing) {
    visit_floating(logits.dtype(), "cross_entropy_backward", [&]<class T>() {
        cross_entropy_backward_impl<T>(gx, gloss, logits, lse, target, ignore_index,
                                       label_smoothing);
    });
}

}  // namespace

const bool cross_entropy_on_cpu = kernels::cross_entropy.set(DeviceType::cpu, &cross_entropy_cpu);
const bool cross_entropy_backward_on_cpu =
    kernels::cross_entropy_backward.set(DeviceType::cpu, &cross_entropy_backward_cpu);

}  // namespace gradstack::cpu
