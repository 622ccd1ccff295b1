// Reference ordering and sampling kernels: topk and argsort by a stable sort of each line's
// (value, position) pairs, and multinomial by a linear walk of the cumulative sum (with
// replacement) or repeated selection of the smallest exponential key (without). The random
// numbers are the fast kernel's, block for block, so both draw the same ids. The fast twin is
// cpu/sort.cpp (a heap for topk, a binary search over the cumulative sum, partial_sort).
// Read next: reference/elementwise.cpp.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "tensor/kernels/index.h"
#include "tensor/reference/strided.h"

namespace gradstack::reference {
namespace {

// The order of values as a sort key: NaN above every number (PyTorch's order), then the value.
template <class T>
std::pair<bool, T> key(T v) {
    if constexpr (std::is_floating_point_v<T>)
        if (std::isnan(v)) return {true, T(0)};
    return {false, v};
}

// The positions 0..n-1 of one line along dim, ordered best first (largest first when `largest`),
// equal values in position order (the sort is stable).
template <class T>
std::vector<int64_t> ordered_line(const Strided<T>& x, const Lines& lines, int64_t l,
                                  bool largest) {
    std::vector<int64_t> order(lines.n);
    for (int64_t j = 0; j < lines.n; ++j) order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        const auto ka = key(x[lines.flat(l, a)]), kb = key(x[lines.flat(l, b)]);
        return largest ? ka > kb : ka < kb;
    });
    return order;
}

// indices[line, :k] = the first k positions of the line's order.
void topk_reference(const Tensor& indices, const Tensor& x, int64_t k, int64_t dim, bool largest) {
    const Shape s = kernels::check_topk(indices, x, k, dim);
    visit_numeric(x.dtype(), "topk", [&]<class T>() {
        const Strided<T> xs(x);
        const Strided<int64_t> out(indices);
        const Lines lines(x.shape(), dim), out_lines(s, dim);
        for (int64_t l = 0; l < lines.count(); ++l) {
            const std::vector<int64_t> order = ordered_line(xs, lines, l, largest);
            for (int64_t j = 0; j < k; ++j) out[out_lines.flat(l, j)] = order[j];
        }
    });
}

// indices[line, :] = the line's whole order (ascending unless `descending`).
void argsort_reference(const Tensor& indices, const Tensor& x, int64_t dim, bool descending) {
    kernels::check_argsort(indices, x);
    visit_numeric(x.dtype(), "argsort", [&]<class T>() {
        const Strided<T> xs(x);
        const Strided<int64_t> out(indices);
        const Lines lines(x.shape(), dim);
        for (int64_t l = 0; l < lines.count(); ++l) {
            const std::vector<int64_t> order = ordered_line(xs, lines, l, descending);
            for (int64_t j = 0; j < lines.n; ++j) out[lines.flat(l, j)] = order[j];
        }
    });
}

// S draws from each row w of probs (N, C), with the fast kernel's random numbers: the generator
// reserves N * per_row blocks, and draw j of row r reads u(r, j), a uniform in [0, 1) from block
// base + r per_row + j.
//   with replacement (or S = 1), per_row = S: draw s is the first c with w_0 + ... + w_c > u total
//     (never a zero-weight category: the last c with w_c > 0 when rounding reaches the total);
//   without, per_row = C: category c (w_c > 0) gets key -log(1 - u(r, c)) / w_c, an Exp(w_c)
//     clock; the S smallest keys in increasing order are the S draws (Efraimidis-Spirakis).
void multinomial_reference(const Tensor& out, const Tensor& probs, bool replacement,
                           Generator& gen) {
    check(probs.dim() == 2, "[multinomial] kernel expects probs of shape (N, C), got {}",
          shape_str(probs.shape()));
    check(out.dtype() == DType::i64 && out.dim() == 2 && out.size(0) == probs.size(0),
          "[multinomial] output is {} {}, expected int64 ({}, S)", out.dtype(),
          shape_str(out.shape()), probs.size(0));
    const int64_t N = probs.size(0), C = probs.size(1), S = out.size(1);
    visit_floating(probs.dtype(), "multinomial", [&]<class T>() {
        const Strided<T> p(probs);
        const Strided<int64_t> o(out);
        for (int64_t r = 0; r < N; ++r) {
            double total = 0;
            int64_t nonzero = 0;
            for (int64_t c = 0; c < C; ++c) {
                const double w = static_cast<double>(p[r * C + c]);
                check(w >= 0 && !std::isinf(w),
                      "[multinomial] row {} has probability {} at column {}; probabilities must "
                      "be finite and non-negative",
                      r, w, c);
                total += w;
                nonzero += w > 0;
            }
            check(total > 0, "[multinomial] row {} sums to 0; it needs a positive entry", r);
            check(replacement || nonzero >= S,
                  "[multinomial] cannot draw {} samples without replacement from row {}, which "
                  "has only {} non-zero entries",
                  S, r, nonzero);
        }
        const bool inverse_cdf = replacement || S == 1;
        const int64_t per_row = inverse_cdf ? S : C;
        const uint64_t base = gen.advance(static_cast<uint64_t>(N * per_row));
        auto u = [&](int64_t r, int64_t j) {
            const auto w = gen.block(base + static_cast<uint64_t>(r * per_row + j));
            return uniform_double(w[0], w[1]);
        };
        for (int64_t r = 0; r < N; ++r) {
            if (inverse_cdf) {
                double total = 0;
                int64_t last = 0;
                for (int64_t c = 0; c < C; ++c) {
                    total += static_cast<double>(p[r * C + c]);
                    if (p[r * C + c] > 0) last = c;
                }
                for (int64_t s = 0; s < S; ++s) {
                    const double target = u(r, s) * total;
                    double cum = 0;
                    int64_t c = 0;
                    for (; c < C; ++c) {
                        cum += static_cast<double>(p[r * C + c]);
                        if (cum > target) break;
                    }
                    o[r * S + s] = std::min(c, last);
                }
            } else {
                std::vector<std::pair<double, int64_t>> keys;  // (key, category), w > 0 only
                for (int64_t c = 0; c < C; ++c)
                    if (p[r * C + c] > 0)
                        keys.emplace_back(-std::log1p(-u(r, c)) / static_cast<double>(p[r * C + c]),
                                          c);
                for (int64_t s = 0; s < S; ++s) {  // the smallest key not yet drawn, S times
                    size_t best = s;
                    for (size_t q = s + 1; q < keys.size(); ++q)
                        if (keys[q] < keys[best]) best = q;
                    std::swap(keys[s], keys[best]);
                    o[r * S + s] = keys[s].second;
                }
            }
        }
    });
}

}  // namespace

const bool topk_reference_on_cpu = kernels::topk.set_reference(&topk_reference);
const bool argsort_reference_on_cpu = kernels::argsort.set_reference(&argsort_reference);
const bool multinomial_reference_on_cpu =
    kernels::multinomial.set_reference(&multinomial_reference);

}  // namespace gradstack::reference
