// Reference softmax and log_softmax, forward and backward: each line along `dim` (every other
// index held fixed) is one distribution, computed in float64 with the plainest loops. The fast
// twin is cpu/softmax.cpp (rows made contiguous, a vectorised exp, fused passes).
// Read next: reference/layer_norm.cpp.
#include <cmath>
#include <vector>

#include "tensor/kernels/nn.h"
#include "tensor/reference/strided.h"

namespace gradstack::reference {
namespace {

void check_same(const Tensor& a, const Tensor& b, const char* op) {
    check(a.dtype() == b.dtype() && a.shape() == b.shape(), "[{}] {} {} does not match {} {}", op,
          a.dtype(), shape_str(a.shape()), b.dtype(), shape_str(b.shape()));
}

// Over each line x_0 .. x_{n-1}, with m = max_j x_j (subtracted so that no exp overflows; it
// cancels in the ratio):
//   softmax:     y_i = exp(x_i - m) / sum_j exp(x_j - m)
//   log_softmax: y_i = (x_i - m) - log(sum_j exp(x_j - m))
template <class T>
void softmax_lines(const Tensor& out, const Tensor& x_t, int64_t dim, bool log) {
    const Strided<T> x(x_t), y(out);
    const Lines lines(x_t.shape(), dim);
    std::vector<double> v(lines.n);
    for (int64_t l = 0; l < lines.count(); ++l) {
        double m = -INFINITY;
        for (int64_t j = 0; j < lines.n; ++j) {
            v[j] = static_cast<double>(x[lines.flat(l, j)]);
            if (v[j] > m) m = v[j];  // NaN is skipped here and reaches y through the sum
        }
        double sum = 0;
        for (int64_t j = 0; j < lines.n; ++j) sum += std::exp(v[j] - m);
        for (int64_t j = 0; j < lines.n; ++j) {
            const double value = log ? (v[j] - m) - std::log(sum) : std::exp(v[j] - m) / sum;
            y[lines.flat(l, j)] = static_cast<T>(value);
        }
    }
}

// Backward from the forward output y (per line):
//   softmax:     dy_i/dx_j = y_i (delta_ij - y_j), so gx_j = y_j (gy_j - sum_i gy_i y_i)
//   log_softmax: dy_i/dx_j = delta_ij - exp(y_j), so gx_j = gy_j - exp(y_j) sum_i gy_i
template <class T>
void softmax_backward_lines(const Tensor& gx_t, const Tensor& gy_t, const Tensor& y_t,
                            int64_t dim, bool log) {
    const Strided<T> gx(gx_t), gy(gy_t), y(y_t);
    const Lines lines(y_t.shape(), dim);
    for (int64_t l = 0; l < lines.count(); ++l) {
        double dot = 0;
        for (int64_t j = 0; j < lines.n; ++j) {
            const int64_t f = lines.flat(l, j);
            dot += static_cast<double>(gy[f]) * (log ? 1.0 : static_cast<double>(y[f]));
        }
        for (int64_t j = 0; j < lines.n; ++j) {
            const int64_t f = lines.flat(l, j);
            const double g = static_cast<double>(gy[f]), yj = static_cast<double>(y[f]);
            gx[f] = static_cast<T>(log ? g - std::exp(yj) * dot : yj * (g - dot));
        }
    }
}

void softmax_reference(const Tensor& out, const Tensor& x, int64_t dim) {
    check_same(out, x, "softmax");
    visit_floating(x.dtype(), "softmax",
                   [&]<class T>() { softmax_lines<T>(out, x, dim, false); });
}

void log_softmax_reference(const Tensor& out, const Tensor& x, int64_t dim) {
    check_same(out, x, "log_softmax");
    visit_floating(x.dtype(), "log_softmax",
                   [&]<class T>() { softmax_lines<T>(out, x, dim, true); });
}

void softmax_backward_reference(const Tensor& gx, const Tensor& gy, const Tensor& y, int64_t dim) {
    check_same(gx, gy, "softmax_backward");
    check_same(gx, y, "softmax_backward");
    visit_floating(y.dtype(), "softmax_backward",
                   [&]<class T>() { softmax_backward_lines<T>(gx, gy, y, dim, false); });
}

void log_softmax_backward_reference(const Tensor& gx, const Tensor& gy, const Tensor& y,
                                    int64_t dim) {
    check_same(gx, gy, "log_softmax_backward");
    check_same(gx, y, "log_softmax_backward");
    visit_floating(y.dtype(), "log_softmax_backward",
                   [&]<class T>() { softmax_backward_lines<T>(gx, gy, y, dim, true); });
}

}  // namespace

const bool softmax_reference_on_cpu = kernels::softmax.set_reference(&softmax_reference);
const bool log_softmax_reference_on_cpu =
    kernels::log_softmax.set_reference(&log_softmax_reference);
const bool softmax_backward_reference_on_cpu =
    kernels::softmax_backward.set_reference(&softmax_backward_reference);
const bool log_softmax_backward_reference_on_cpu =
    kernels::log_softmax_backward.set_reference(&log_softmax_backward_reference);

}  // namespace gradstack::reference
