// CPU ordering and sampling kernels: topk and argsort write indices (the values are gathered by
// the differentiable op, which gives them a gradient for free), multinomial draws category ids.
// Each works row by row along the last dim of a contiguous copy, rows in parallel.
// Read next: autograd/ops/index.cpp.
// Read next, the reference twin: reference/sort.cpp (topk, argsort, multinomial), the same math as
// plain float64 loops; GRADSTACK_KERNELS=reference runs it instead (tensor/dispatch.h).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/cpu/loops.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/index.h"
#include "tensor/view.h"

namespace gradstack::cpu {
namespace {

// a > b with NaN above every number (PyTorch's order for sort and topk).
template <class T>
bool greater(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(a)) return !std::isnan(b);
    }
    return a > b;
}

// The output order of (value, position) pairs: best value first, then lower position first.
// It is a strict total order, so any sorting algorithm gives the stable result.
template <class T>
struct Before {
    bool largest;
    bool operator()(const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) const {
        bool a_better = largest ? greater(a.first, b.first) : greater(b.first, a.first);
        bool b_better = largest ? greater(b.first, a.first) : greater(a.first, b.first);
        return a_better || (!b_better && a.second < b.second);
    }
};

// The permutation that moves `dim` to the end.
std::vector<int64_t> dim_last(int64_t ndim, int64_t dim) {
    std::vector<int64_t> perm;
    for (int64_t d = 0; d < ndim; ++d)
        if (d != dim) perm.push_back(d);
    perm.push_back(dim);
    return perm;
}

// Runs row(x_row, n, out_row) for every row along `dim`: x_row points at n contiguous values,
// out_row at the row's indices (also contiguous). Rows run in parallel when the work is large.
template <class T, class Row>
void for_each_row(const Tensor& out, const Tensor& x, int64_t dim, Row&& row) {
    std::vector<int64_t> perm = dim_last(x.dim(), dim);
    Tensor xr = kernels::contiguous(views::permute(x, perm));
    Tensor outr = views::permute(out, perm);
    Tensor buffer = outr.is_contiguous() ? outr : empty(outr.shape(), DType::i64);
    const int64_t n = x.shape()[dim], k = out.shape()[dim];
    const int64_t rows = k == 0 ? 0 : buffer.numel() / k;
    const T* px = xr.data<T>();
    int64_t* po = buffer.data<int64_t>();
#pragma omp parallel for schedule(dynamic, 1) if (rows > 1 && rows * n >= kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) row(px + r * n, n, po + r * k);
    if (!buffer.is_same(outr)) kernels::copy(outr, buffer);
}

// The k best of n values: a heap of the k best seen so far, with the worst of them on top. Most
// values of a long row (a 50257-way logit row) lose to the top in one comparison.
template <class T>
void topk_row(const T* v, int64_t n, int64_t k, bool largest, int64_t* out) {
    if (k == 0) return;
    using Item = std::pair<T, int64_t>;
    Before<T> before{largest};
    std::vector<Item> heap;
    heap.reserve(k);
    for (int64_t i = 0; i < k; ++i) heap.emplace_back(v[i], i);
    std::make_heap(heap.begin(), heap.end(), before);
    for (int64_t i = k; i < n; ++i) {
        // i is past every position in the heap, so v[i] enters only when strictly better.
        if (largest ? greater(v[i], heap.front().first) : greater(heap.front().first, v[i])) {
            std::pop_heap(heap.begin(), heap.end(), before);
            heap.back() = {v[i], i};
            std::push_heap(heap.begin(), heap.end(), before);
        }
    }
    std::sort_heap(heap.begin(), heap.end(), before);  // best first
    for (int64_t i = 0; i < k; ++i) out[i] = heap[i].second;
}

void topk_cpu(const Tensor& indices, const Tensor& x, int64_t k, int64_t dim, bool largest) {
    kernels::check_topk(indices, x, k, dim);
    visit_numeric(x.dtype(), "topk", [&]<class T>() {
        for_each_row<T>(indices, x, dim, [&](const T* v, int64_t n, int64_t* out) {
            topk_row(v, n, k, largest, out);
        });
    });
}

void argsort_cpu(const Tensor& indices, const Tensor& x, int64_t dim, bool descending) {
    kernels::check_argsort(indices, x);
    visit_numeric(x.dtype(), "argsort", [&]<class T>() {
        for_each_row<T>(indices, x, dim, [&](const T* v, int64_t n, int64_t* out) {
            std::vector<std::pair<T, int64_t>> items(n);
            for (int64_t i = 0; i < n; ++i) items[i] = {v[i], i};
            std::sort(items.begin(), items.end(), Before<T>{descending});
            for (int64_t i = 0; i < n; ++i) out[i] = items[i].second;
        });
    });
}

// --- multinomial. Row r takes its random numbers from the generator blocks
// base + r * per_row + j, so each row's draws are fixed by the seed whatever thread runs it.
//   with replacement (or a single draw): sample s inverts the cumulative sum at u_s * total;
//   without: each category with weight w_i > 0 gets a key E_i / w_i, E_i ~ Exp(1). The smallest
//   key is category i with probability w_i / sum(w) (a race of exponential clocks), and by
//   memorylessness the next smallest follows the same law over the rest: the S smallest keys, in
//   order, are S successive draws without replacement (Efraimidis and Spirakis 2006).

template <class T>
void multinomial_rows(const Tensor& out, const Tensor& probs, bool replacement, Generator& gen) {
    Tensor p = kernels::contiguous(probs);
    const int64_t N = p.shape()[0], C = p.shape()[1], S = out.shape()[1];
    const T* pp = p.data<T>();
    // Pass 1: validate each row (in parallel; the first bad row throws afterwards, serially).
    std::vector<int64_t> bad_column(N, -1), nonzero(N, 0);
    std::vector<double> total(N, 0);
#pragma omp parallel for schedule(static) if (N > 1 && N * C >= kParallelGrain)
    for (int64_t r = 0; r < N; ++r) {
        const T* w = pp + r * C;
        for (int64_t c = 0; c < C; ++c) {
            if (!(w[c] >= 0) || std::isinf(w[c])) {  // negative, NaN or inf
                bad_column[r] = c;
                break;
            }
            total[r] += static_cast<double>(w[c]);
            nonzero[r] += w[c] > 0;
        }
    }
    for (int64_t r = 0; r < N; ++r) {
        if (bad_column[r] >= 0)
            fail(
                "[multinomial] row {} has probability {} at column {}; probabilities must be "
                "finite and non-negative",
                r, static_cast<double>(pp[r * C + bad_column[r]]), bad_column[r]);
        check(total[r] > 0, "[multinomial] row {} sums to 0; it needs a positive entry", r);
        check(replacement || nonzero[r] >= S,
              "[multinomial] cannot draw {} samples without replacement from row {}, which has "
              "only {} non-zero entries",
              S, r, nonzero[r]);
    }
    // Pass 2: draw. One draw without replacement is one draw with it (the decoding case), and the
    // inverse-cumsum path needs one random number instead of C.
    const bool inverse_cdf = replacement || S == 1;
    const int64_t per_row = inverse_cdf ? S : C;
    const uint64_t base = gen.advance(static_cast<uint64_t>(N * per_row));
    int64_t* po = out.data<int64_t>();
    auto uniform = [&](int64_t r, int64_t j) {
        auto w = gen.block(base + static_cast<uint64_t>(r * per_row + j));
        return uniform_double(w[0], w[1]);  // in [0, 1)
    };
#pragma omp parallel for schedule(dynamic, 1) if (N > 1 && N * per_row >= 4096)
    for (int64_t r = 0; r < N; ++r) {
        const T* w = pp + r * C;
        int64_t* o = po + r * S;
        if (inverse_cdf) {
            std::vector<double> cum(C);
            double acc = 0;
            int64_t last = 0;  // the last category with weight > 0
            for (int64_t c = 0; c < C; ++c) {
                acc += static_cast<double>(w[c]);
                cum[c] = acc;
                if (w[c] > 0) last = c;
            }
            for (int64_t s = 0; s < S; ++s) {
                // First c with cum[c] > target: zero-weight categories can never be picked.
                double target = uniform(r, s) * acc;
                int64_t c = std::upper_bound(cum.begin(), cum.end(), target) - cum.begin();
                o[s] = std::min(c, last);  // u * acc may round up to acc
            }
        } else {
            std::vector<std::pair<double, int64_t>> keys;
            keys.reserve(nonzero[r]);
            for (int64_t c = 0; c < C; ++c)
                if (w[c] > 0)
                    keys.emplace_back(-std::log1p(-uniform(r, c)) / static_cast<double>(w[c]), c);
            std::partial_sort(keys.begin(), keys.begin() + S, keys.end());
            for (int64_t s = 0; s < S; ++s) o[s] = keys[s].second;
        }
    }
}

void multinomial_cpu(const Tensor& out, const Tensor& probs, bool replacement, Generator& gen) {
    check(probs.dim() == 2, "[multinomial] kernel expects probs of shape (N, C), got {}",
          shape_str(probs.shape()));
    check(out.dtype() == DType::i64 && out.dim() == 2 && out.shape()[0] == probs.shape()[0] &&
              out.is_contiguous(),
          "[multinomial] output is {} {}, expected contiguous int64 ({}, S)", out.dtype(),
          shape_str(out.shape()), probs.shape()[0]);
    visit_floating(probs.dtype(), "multinomial",
                   [&]<class T>() { multinomial_rows<T>(out, probs, replacement, gen); });
}

}  // namespace

const bool topk_on_cpu = kernels::topk.set(DeviceType::cpu, &topk_cpu);
const bool argsort_on_cpu = kernels::argsort.set(DeviceType::cpu, &argsort_cpu);
const bool multinomial_on_cpu = kernels::multinomial.set(DeviceType::cpu, &multinomial_cpu);

}  // namespace gradstack::cpu
