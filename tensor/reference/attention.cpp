// Reference causal attention, forward and backward: for each (batch, head, query row) every score
// of the (B, nh, T, S) matrix is computed into a plain row, in float64, then softmax, dropout and
// the weighted sum of values, written out as the formulas of kernels/nn.h read. The fast twin is
// cpu/attention.cpp (keys packed per head, 4 query rows by 16 keys per register tile, a vectorised
// exp and Philox). Read next: reference/matmul.cpp.
#include <cmath>
#include <vector>

#include "tensor/kernels/nn.h"
#include "tensor/reference/strided.h"
#include "tensor/view.h"

namespace gradstack::reference {
namespace {

// The sizes of one call, and its inputs read through their strides.
using Attention = kernels::AttentionShape;  // sizes, checked by kernels::check_attention

// Element (b, h, i, d) of a 4-d tensor.
template <class T>
double at(const Strided<T>& t, int64_t b, int64_t h, int64_t i, int64_t d) {
    return static_cast<double>(
        t.p[b * t.strides[0] + h * t.strides[1] + i * t.strides[2] + d * t.strides[3]]);
}

// Row i of head (b, h), shared by the forward and the backward. Query i sits at position
// S - T + i and sees keys j <= S - T + i:
//   s_j  = q_i . k_j / sqrt(hs)  where key j is visible, else lowest (T's lowest finite value)
//   s_j += mask_ij               (when there is a mask)
//   m    = max_j s_j
// fills s (S scores) and returns m.
template <class T>
double scores(const Attention& a, const Strided<T>& q, const Strided<T>& k, const Strided<T>& mask,
              int64_t b, int64_t h, int64_t i, std::vector<double>& s) {
    double m = -INFINITY;
    for (int64_t j = 0; j < a.S; ++j) {
        if (j <= a.S - a.T + i) {
            double dot = 0;
            for (int64_t d = 0; d < a.hs; ++d) dot += at(q, b, h, i, d) * at(k, b, h, j, d);
            s[j] = dot / std::sqrt(static_cast<double>(a.hs));
        } else {
            s[j] = lowest<T>();
        }
        if (a.masked) s[j] += at(mask, b, h, i, j);
        if (s[j] > m) m = s[j];
    }
    return m;
}

// The dropout factor of element (b, h, i, j) of the (B, nh, T, S) probabilities: keep / (1 - p).
double factor(const Attention& a, double p, uint64_t seed, uint64_t counter, int64_t b, int64_t h,
              int64_t i, int64_t j) {
    if (p == 0) return 1;
    const auto e = static_cast<uint64_t>(((b * a.H + h) * a.T + i) * a.S + j);
    return keep(seed, counter, e, p) ? 1 / (1 - p) : 0;
}

// Forward, per row (s and m from scores()):
//   P_j   = exp(s_j - m) / sum_l exp(s_l - m)       (softmax over all S keys)
//   P'_j  = P_j keep_j / (1 - p)                    (dropout)
//   out_i = sum_j P'_j v_j
//   lse_i = log sum_l exp(s_l - m)                  (the log-sum-exp minus the max; kernels/nn.h)
template <class T>
void forward(const Tensor& out_t, const Tensor& lse_t, const Tensor& q_t, const Tensor& k_t,
             const Tensor& v_t, const Tensor& mask_t, double p, uint64_t seed, uint64_t counter) {
    const Attention a = kernels::check_attention(q_t, k_t, v_t, mask_t, p);
    const Strided<T> q(q_t), k(k_t), v(v_t), out(out_t), lse(lse_t);
    const Tensor mask_full =
        a.masked ? views::expand(mask_t, Shape{a.B, a.H, a.T, a.S}) : Tensor();
    const Strided<T> mask = a.masked ? Strided<T>(mask_full) : q;  // q: unused placeholder
    std::vector<double> s(a.S), Pd(a.S);
    for (int64_t b = 0; b < a.B; ++b)
        for (int64_t h = 0; h < a.H; ++h)
            for (int64_t i = 0; i < a.T; ++i) {
                const double m = scores(a, q, k, mask, b, h, i, s);
                double z = 0;
                for (int64_t j = 0; j < a.S; ++j) z += std::exp(s[j] - m);
                for (int64_t j = 0; j < a.S; ++j)
                    Pd[j] = std::exp(s[j] - m) / z * factor(a, p, seed, counter, b, h, i, j);
                for (int64_t d = 0; d < a.hs; ++d) {
                    double o = 0;
                    for (int64_t j = 0; j < a.S; ++j) o += Pd[j] * at(v, b, h, j, d);
                    out[((b * a.H + h) * a.T + i) * a.hs + d] = static_cast<T>(o);
                }
                lse[(b * a.H + h) * a.T + i] = static_cast<T>(std::log(z));
            }
}

// Backward, per row, with P_j = exp(s_j - m - lse_i) recomputed from the saved lse and
// f_j = keep_j / (1 - p):
//   dP'_j = gout_i . v_j                  (out_i = sum_j P'_j v_j)
//   dP_j  = f_j dP'_j                     (P'_j = P_j f_j)
//   D     = sum_l P_l dP_l
//   dS_j  = P_j (dP_j - D)                (softmax backward)
//   ds_j  = dS_j / sqrt(hs) for visible keys, 0 for the others (their score is a constant)
//   dq_i  = sum_j ds_j k_j,   dk_j += ds_j q_i,   dv_j += P'_j gout_i
template <class T>
void backward(const Tensor& gout_t, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t,
              const Tensor& mask_t, const Tensor& lse_t, double p, uint64_t seed,
              uint64_t counter, const Tensor& dq_t, const Tensor& dk_t, const Tensor& dv_t) {
    const Attention a = kernels::check_attention(q_t, k_t, v_t, mask_t, p);
    check(gout_t.shape() == q_t.shape() && gout_t.dtype() == q_t.dtype(),
          "[attention] the output gradient must be {} {}, got {} {}", q_t.dtype(),
          shape_str(q_t.shape()), gout_t.dtype(), shape_str(gout_t.shape()));
    check(lse_t.defined(), "[attention] the backward needs the forward's lse");
    const Strided<T> q(q_t), k(k_t), v(v_t), gout(gout_t), lse(lse_t);
    const Tensor mask_full =
        a.masked ? views::expand(mask_t, Shape{a.B, a.H, a.T, a.S}) : Tensor();
    const Strided<T> mask = a.masked ? Strided<T>(mask_full) : q;  // q: unused placeholder
    const int64_t kv = a.B * a.H * a.S * a.hs;
    std::vector<double> dk(kv, 0), dv(kv, 0);
    std::vector<double> s(a.S), P(a.S), f(a.S), dP(a.S);
    const double root = std::sqrt(static_cast<double>(a.hs));
    for (int64_t b = 0; b < a.B; ++b)
        for (int64_t h = 0; h < a.H; ++h)
            for (int64_t i = 0; i < a.T; ++i) {
                const double m = scores(a, q, k, mask, b, h, i, s);
                const double l = static_cast<double>(lse[(b * a.H + h) * a.T + i]);
                double D = 0;
                for (int64_t j = 0; j < a.S; ++j) {
                    P[j] = std::exp(s[j] - m - l);
                    f[j] = factor(a, p, seed, counter, b, h, i, j);
                    double dp = 0;
                    for (int64_t d = 0; d < a.hs; ++d) dp += at(gout, b, h, i, d) * at(v, b, h, j, d);
                    dP[j] = f[j] * dp;
                    D += P[j] * dP[j];
                }
                for (int64_t j = 0; j < a.S; ++j) {
                    const bool visible = j <= a.S - a.T + i;
                    const double ds = visible ? P[j] * (dP[j] - D) / root : 0;
                    const int64_t row = ((b * a.H + h) * a.S + j) * a.hs;
                    for (int64_t d = 0; d < a.hs; ++d) {
                        dk[row + d] += ds * at(q, b, h, i, d);
                        dv[row + d] += P[j] * f[j] * at(gout, b, h, i, d);
                    }
                }
                if (dq_t.defined()) {
                    const Strided<T> dq(dq_t);
                    for (int64_t d = 0; d < a.hs; ++d) {
                        double g = 0;
                        for (int64_t j = 0; j <= a.S - a.T + i; ++j)
                            g += P[j] * (dP[j] - D) / root * at(k, b, h, j, d);
                        dq[((b * a.H + h) * a.T + i) * a.hs + d] = static_cast<T>(g);
                    }
                }
            }
    if (dk_t.defined()) {
        const Strided<T> out(dk_t);
        for (int64_t e = 0; e < kv; ++e) out[e] = static_cast<T>(dk[e]);
    }
    if (dv_t.defined()) {
        const Strided<T> out(dv_t);
        for (int64_t e = 0; e < kv; ++e) out[e] = static_cast<T>(dv[e]);
    }
}

void attention_forward_reference(const Tensor& out, const Tensor& lse, const Tensor& q,
                                 const Tensor& k, const Tensor& v, const Tensor& mask, double p,
                                 uint64_t seed, uint64_t counter) {
    check(out.defined() && lse.defined(), "[attention] the forward needs out and lse");
    visit_floating(q.dtype(), "attention", [&]<class T>() {
        forward<T>(out, lse, q, k, v, mask, p, seed, counter);
    });
}

void attention_backward_reference(const Tensor& gout, const Tensor& q, const Tensor& k,
                                  const Tensor& v, const Tensor& mask, const Tensor& lse, double p,
                                  uint64_t seed, uint64_t counter, const Tensor& dq,
                                  const Tensor& dk, const Tensor& dv) {
    visit_floating(q.dtype(), "attention", [&]<class T>() {
        backward<T>(gout, q, k, v, mask, lse, p, seed, counter, dq, dk, dv);
    });
}

}  // namespace

const bool attention_forward_reference_on_cpu =
    kernels::attention_forward.set_reference(&attention_forward_reference);
const bool attention_backward_reference_on_cpu =
    kernels::attention_backward.set_reference(&attention_backward_reference);

}  // namespace gradstack::reference
