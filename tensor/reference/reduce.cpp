// Reference reductions: sum, max, min, logsumexp over a list of dims, and argmax, argmin, cumsum
// along one dim. Each walks x in C order and folds every element into the output element it
// belongs to (its position with the reduced coordinates set to 0), in float64 for floats. The fast
// twin is cpu/reduce.cpp (blocks of merged dims, 16-lane partial sums and extremes, column tiles).
// all and any have no reference: their fast kernel is the generic block loop, plain already.
// Read next: reference/sort.cpp.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/kernels/reduce.h"
#include "tensor/reference/strided.h"

namespace gradstack::reference {
namespace {

// For each C-order position of x, the C-order position in out (x's shape with `dims` set to 1)
// of the output element it reduces into.
std::vector<int64_t> output_positions(const Shape& shape, const std::vector<int64_t>& dims) {
    const int64_t nd = static_cast<int64_t>(shape.size());
    std::vector<bool> reduced(nd, false);
    for (int64_t d : dims) reduced[d] = true;
    const int64_t n = numel(shape);
    std::vector<int64_t> pos(n);
    for (int64_t e = 0; e < n; ++e) {
        int64_t rem = e, o = 0, scale = 1;
        for (int64_t d = nd - 1; d >= 0; --d) {
            const int64_t i = rem % shape[d];
            rem /= shape[d];
            if (!reduced[d]) o += i * scale, scale *= shape[d];
        }
        pos[e] = o;
    }
    return pos;
}

template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// out = sum over dims of x.
void sum_reference(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    check(out.dtype() == x.dtype(), "[sum] output {} for input {}", out.dtype(), x.dtype());
    check(x.dtype() != DType::b8, "[sum] is not defined for bool tensors; convert to int64 first");
    visit_numeric(x.dtype(), "sum", [&]<class T>() {
        const Strided<T> xs(x), os(out);
        const std::vector<int64_t> pos = output_positions(x.shape(), dims);
        std::vector<Acc<T>> acc(out.numel(), 0);
        for (int64_t e = 0; e < x.numel(); ++e) acc[pos[e]] += static_cast<Acc<T>>(xs[e]);
        for (int64_t o = 0; o < out.numel(); ++o) os[o] = static_cast<T>(acc[o]);
    });
}

// out = max (or min) over dims; a NaN, once met, is the result (torch.amax).
void extreme_reference(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims,
                       bool largest, std::string_view op) {
    check(out.dtype() == x.dtype(), "[{}] output {} for input {}", op, out.dtype(), x.dtype());
    kernels::check_nonempty(x.shape(), dims, op);
    visit_numeric(x.dtype(), op, [&]<class T>() {
        const Strided<T> xs(x), os(out);
        const std::vector<int64_t> pos = output_positions(x.shape(), dims);
        std::vector<T> best(out.numel());
        std::vector<bool> seen(out.numel(), false);
        for (int64_t e = 0; e < x.numel(); ++e) {
            const T v = xs[e];
            T& b = best[pos[e]];
            const bool b_nan = b != b, v_nan = v != v;  // x != x only for NaN
            if (!seen[pos[e]] || (!b_nan && (v_nan || (largest ? v > b : v < b)))) b = v;
            seen[pos[e]] = true;
        }
        for (int64_t o = 0; o < out.numel(); ++o) os[o] = best[o];
    });
}

void amax_reference(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    extreme_reference(out, x, dims, true, "max");
}
void amin_reference(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    extreme_reference(out, x, dims, false, "min");
}

// out = m + log(sum exp(x - m)) over dims, m the max (so no exp overflows); out = m when m is
// infinite or NaN (all -inf or no elements: -inf = log 0; a +inf: +inf; a NaN: NaN).
void logsumexp_reference(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    check(out.dtype() == x.dtype(), "[logsumexp] output {} for input {}", out.dtype(), x.dtype());
    visit_floating(x.dtype(), "logsumexp", [&]<class T>() {
        const Strided<T> xs(x), os(out);
        const std::vector<int64_t> pos = output_positions(x.shape(), dims);
        std::vector<double> m(out.numel(), -INFINITY), sum(out.numel(), 0);
        for (int64_t e = 0; e < x.numel(); ++e) {
            const double v = static_cast<double>(xs[e]);
            double& mo = m[pos[e]];
            if (!std::isnan(mo) && (std::isnan(v) || v > mo)) mo = v;
        }
        for (int64_t e = 0; e < x.numel(); ++e)
            sum[pos[e]] += std::exp(static_cast<double>(xs[e]) - m[pos[e]]);
        for (int64_t o = 0; o < out.numel(); ++o)
            os[o] = static_cast<T>(std::isfinite(m[o]) ? m[o] + std::log(sum[o]) : m[o]);
    });
}

// out[line] = the position along dim of the first max (or min) of the line; the first NaN wins.
void arg_extreme_reference(const Tensor& out, const Tensor& x, int64_t dim, bool largest,
                           std::string_view op) {
    check(out.dtype() == DType::i64, "[{}] output must be int64, got {}", op, out.dtype());
    kernels::check_nonempty(x.shape(), {dim}, op);
    visit_numeric(x.dtype(), op, [&]<class T>() {
        const Strided<T> xs(x);
        const Strided<int64_t> os(out);
        const Lines lines(x.shape(), dim);
        for (int64_t l = 0; l < lines.count(); ++l) {
            int64_t best = 0;
            for (int64_t j = 1; j < lines.n; ++j) {
                const T v = xs[lines.flat(l, j)], b = xs[lines.flat(l, best)];
                if (b != b) break;  // a NaN is already the answer
                if (v != v || (largest ? v > b : v < b)) best = j;
            }
            os[l] = best;  // out is x's shape with dim set to 1: line l is its position l
        }
    });
}

void argmax_reference(const Tensor& out, const Tensor& x, int64_t dim) {
    arg_extreme_reference(out, x, dim, true, "argmax");
}
void argmin_reference(const Tensor& out, const Tensor& x, int64_t dim) {
    arg_extreme_reference(out, x, dim, false, "argmin");
}

// out[..., i, ...] = sum_{j <= i} x[..., j, ...] along dim (sum_{j >= i} when reverse), the
// running sum in float64 (int64 for int64 and bool).
void cumsum_reference(const Tensor& out, const Tensor& x, int64_t dim, bool reverse) {
    const DType want = x.dtype() == DType::b8 ? DType::i64 : x.dtype();
    check(out.dtype() == want, "[cumsum] output {} for input {}; expected {}", out.dtype(),
          x.dtype(), want);
    check(out.shape() == x.shape(), "[cumsum] output {} for input {}", shape_str(out.shape()),
          shape_str(x.shape()));
    visit_dtype(x.dtype(), [&]<class T>() {
        using Out = std::conditional_t<std::is_same_v<T, bool>, int64_t, T>;
        using Sum = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
        const Strided<T> xs(x);
        const Strided<Out> os(out);
        const Lines lines(x.shape(), dim);
        for (int64_t l = 0; l < lines.count(); ++l) {
            Sum running = 0;
            for (int64_t step = 0; step < lines.n; ++step) {
                const int64_t j = reverse ? lines.n - 1 - step : step;
                running += static_cast<Sum>(xs[lines.flat(l, j)]);
                os[lines.flat(l, j)] = static_cast<Out>(running);
            }
        }
    });
}

}  // namespace

const bool sum_reference_on_cpu = kernels::sum.set_reference(&sum_reference);
const bool amax_reference_on_cpu = kernels::amax.set_reference(&amax_reference);
const bool amin_reference_on_cpu = kernels::amin.set_reference(&amin_reference);
const bool logsumexp_reference_on_cpu = kernels::logsumexp.set_reference(&logsumexp_reference);
const bool argmax_reference_on_cpu = kernels::argmax.set_reference(&argmax_reference);
const bool argmin_reference_on_cpu = kernels::argmin.set_reference(&argmin_reference);
const bool cumsum_reference_on_cpu = kernels::cumsum.set_reference(&cumsum_reference);

}  // namespace gradstack::reference
