// CPU reductions. The input is viewed with the kept dims first and the reduced dims last, so every
// output element is the reduction of one (possibly strided) block; blocks run in parallel. Two
// layouts get their own loops: reducing only leading dims (a bias gradient: sum over rows) adds
// whole rows, which walks memory in order; and for max/min, reducing trailing dims of a contiguous
// tensor (x.max(-1) on (rows, cols)) folds contiguous rows with vector instructions.
// argmax/argmin and cumsum, which run along one dim, come last. Read next: autograd/ops/reduce.cpp.
// Read next, the reference twin: reference/reduce.cpp (sum, max, min, logsumexp, argmax, argmin,
// cumsum; all/any are plain already), the same math as plain float64 loops;
// GRADSTACK_KERNELS=reference runs it instead (tensor/dispatch.h).
#include "tensor/kernels/reduce.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/cpu/loops.h"
#include "tensor/kernels/copy.h"
#include "tensor/view.h"

namespace gradstack::cpu {

std::pair<Tensor, int64_t> kept_then_reduced(const Tensor& x, const std::vector<int64_t>& dims) {
    std::vector<int64_t> order;
    std::vector<bool> reduced(x.dim(), false);
    for (int64_t d : dims) reduced[d] = true;
    for (int64_t d = 0; d < x.dim(); ++d)
        if (!reduced[d]) order.push_back(d);
    int64_t kept = static_cast<int64_t>(order.size());
    for (int64_t d : dims) order.push_back(d);
    return {views::permute(x, order), kept};
}

namespace {

// The blocks of a reduction of x over dims. Output element o (C order over the kept dims) reduces
// the elements at base(o) + row_offset(r) + i * inner_stride, for r < rows and i < inner.
struct Blocks {
    Shape kshape, kstride;  // kept dims of x: sizes and x's strides
    Shape kc;               // C-order strides of the output over the kept dims
    LoopNest<1> red;        // reduced dims, merged; red.shape.back() is the inner row
    int64_t n_out = 0, n_red = 0, inner = 0, inner_stride = 0, rows = 0;

    int64_t base(int64_t o) const {
        int64_t b = 0;
        for (size_t d = 0; d < kshape.size(); ++d) b += (o / kc[d]) % kshape[d] * kstride[d];
        return b;
    }
    // Calls row(offset, n, stride) for each inner row of the block that starts at `base`.
    template <class Row>
    void for_each_row(int64_t base, Row&& row) const {
        for (int64_t r = 0; r < rows; ++r) {
            int64_t off = base;
            for (int64_t d = static_cast<int64_t>(red.shape.size()) - 2, rem = r; d >= 0; --d) {
                off += rem % red.shape[d] * red.strides[0][d];
                rem /= red.shape[d];
            }
            row(off, inner, inner_stride);
        }
    }
};

Blocks make_blocks(const Tensor& x, const std::vector<int64_t>& dims) {
    auto [xp, kept] = kept_then_reduced(x, dims);
    Blocks b;
    b.kshape.assign(xp.shape().begin(), xp.shape().begin() + kept);
    b.kstride.assign(xp.strides().begin(), xp.strides().begin() + kept);
    b.kc = contiguous_strides(b.kshape);
    Shape rshape(xp.shape().begin() + kept, xp.shape().end());
    Shape rstride(xp.strides().begin() + kept, xp.strides().end());
    b.red = merge_dims<1>(rshape, {rstride});
    b.n_out = numel(b.kshape);
    b.n_red = numel(rshape);
    b.inner = b.red.shape.back();
    b.inner_stride = b.red.strides[0].back();
    b.rows = b.inner == 0 ? 0 : b.n_red / b.inner;
    return b;
}

// Runs write(po) with po the data of a C-order tensor of out's shape, then copies it into out
// when out itself is not C-order.
template <class T, class Write>
void into_contiguous(const Tensor& out, Write&& write) {
    Tensor oc = out.is_contiguous() ? out : empty(out.shape(), out.dtype());
    write(oc.data<T>());
    if (!oc.is_same(out)) kernels::copy(out, oc);
}

// The generic path: po[o] = finish(fold of block o), one block per iteration, in parallel.
// row(acc, p, n, stride) folds one inner row into acc.
template <class T, class Out, class Acc, class Row, class Finish>
void reduce_blocks(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims, Acc init,
                   Row row, Finish finish) {
    const Blocks b = make_blocks(x, dims);
    const T* px = x.data<T>();
    into_contiguous<Out>(out, [&](Out* po) {
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelGrain && b.n_out > 1)
        for (int64_t o = 0; o < b.n_out; ++o) {
            Acc acc = init;
            b.for_each_row(b.base(o), [&](int64_t off, int64_t n, int64_t s) {
                acc = row(acc, px + off, n, s);
            });
            po[o] = finish(acc);
        }
    });
}

// Reducing only leading dims of a contiguous x: out[j] = fold_i x[i, j], folded row by row in
// column tiles, so memory is read in order and the column loop vectorises.
template <class T, class Acc, class Combine, class Finish>
bool leading_rows(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims, Acc init,
                  Combine combine, Finish finish) {
    if (!x.is_contiguous() || !out.is_contiguous()) return false;
    for (size_t i = 0; i < dims.size(); ++i)
        if (dims[i] != static_cast<int64_t>(i)) return false;
    const int64_t cols = out.numel();
    const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
    if (cols < 16 || rows < 2) return false;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    constexpr int64_t kTile = 1024;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelGrain)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
        int64_t c1 = std::min(cols, c0 + kTile);
        Acc acc[kTile];
        std::fill(acc, acc + (c1 - c0), init);
        for (int64_t r = 0; r < rows; ++r) {
            const T* row = px + r * cols;
            for (int64_t c = c0; c < c1; ++c) acc[c - c0] = combine(acc[c - c0], row[c]);
        }
        for (int64_t c = c0; c < c1; ++c) po[c] = finish(acc[c - c0]);
    }
    return true;
}

// ---- sum

// Adds p[0], p[s], ..., p[(n-1) s] to acc. The unit-stride loop keeps 16 partial sums (a fixed
// reassociation, so results do not depend on the thread count), which vectorises; one running sum
// would wait for every add in turn.
template <class T, class Acc>
Acc sum_row(Acc acc, const T* p, int64_t n, int64_t s) {
    if (s == 1) {
        constexpr int64_t kLanes = 16;
        int64_t i = 0;
        if (n >= kLanes) {
            Acc part[kLanes] = {};
            for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
                for (int64_t j = 0; j < kLanes; ++j) part[j] += static_cast<Acc>(p[i + j]);
            }
            for (int64_t j = 0; j < kLanes; ++j) acc += part[j];
        }
        for (; i < n; ++i) acc += static_cast<Acc>(p[i]);
    } else {
        for (int64_t i = 0; i < n; ++i) acc += static_cast<Acc>(p[i * s]);
    }
    return acc;
}

void sum_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    check(out.dtype() == x.dtype(), "[sum] output {} for input {}", out.dtype(), x.dtype());
    visit_dtype(x.dtype(), [&]<class T>() {
        using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
        if constexpr (std::is_same_v<T, bool>) {
            fail("[sum] is not defined for bool tensors; convert to int64 first");
        } else {
            auto add = [](Acc a, T v) { return a + static_cast<Acc>(v); };
            auto cast = [](Acc a) { return static_cast<T>(a); };
            if (!leading_rows<T, Acc>(out, x, dims, Acc(0), add, cast))
                reduce_blocks<T, T, Acc>(out, x, dims, Acc(0), &sum_row<T, Acc>, cast);
        }
    });
}

// ---- max and min

// The larger of a and b, where NaN counts as larger than everything (so it sticks, like
// torch.amax). Written as a select so that the compiler emits vector compare + blend.
struct PickMax {
    template <class T>
    T operator()(T a, T b) const {
        return (b > a || b != b) ? b : a;
    }
    template <class T>
    static constexpr T identity() {
        if constexpr (std::numeric_limits<T>::has_infinity)
            return -std::numeric_limits<T>::infinity();
        return std::numeric_limits<T>::lowest();
    }
};
struct PickMin {
    template <class T>
    T operator()(T a, T b) const {
        return (b < a || b != b) ? b : a;
    }
    template <class T>
    static constexpr T identity() {
        if constexpr (std::numeric_limits<T>::has_infinity)
            return std::numeric_limits<T>::infinity();
        return std::numeric_limits<T>::max();
    }
};

// Folds p[0], p[s], ..., p[(n-1) s] into m. The unit-stride loop keeps 16 independent running
// extremes, so the loop has no serial dependency and becomes a few vector instructions per step.
template <class T, class Pick>
T fold_row(T m, const T* p, int64_t n, int64_t s, Pick pick) {
    if (s != 1) {
        for (int64_t i = 0; i < n; ++i) m = pick(m, p[i * s]);
        return m;
    }
    constexpr int64_t kLanes = 16;
    int64_t i = 0;
    if (n >= kLanes) {
        T acc[kLanes];
        for (int64_t j = 0; j < kLanes; ++j) acc[j] = p[j];
        for (i = kLanes; i + kLanes <= n; i += kLanes) {
            // Without the pragma GCC leaves the fixed 16-step loop as 16 scalar maxss.
#pragma omp simd
            for (int64_t j = 0; j < kLanes; ++j) acc[j] = pick(acc[j], p[i + j]);
        }
        for (int64_t j = 0; j < kLanes; ++j) m = pick(m, acc[j]);
    }
    for (; i < n; ++i) m = pick(m, p[i]);
    return m;
}

// Reducing trailing dims of a contiguous x: block o is the contiguous run x[o n, (o + 1) n).
// Rows run in parallel; when there are fewer rows than threads, each row is also cut into pieces
// whose partial results are folded at the end (so max(x) of one big tensor uses every thread).
template <class T, class Pick>
bool trailing_rows(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims,
                   Pick pick) {
    if (!x.is_contiguous() || dims.empty()) return false;
    for (size_t i = 0; i < dims.size(); ++i)
        if (dims[dims.size() - 1 - i] != x.dim() - 1 - static_cast<int64_t>(i)) return false;
    const int64_t rows = out.numel(), n = rows == 0 ? 0 : x.numel() / rows;
    const T* px = x.data<T>();
    const bool parallel = x.numel() >= kParallelGrain;
    const int64_t threads = parallel ? omp_get_max_threads() : 1;
    const int64_t piece = rows >= threads ? std::max<int64_t>(n, 1)
                                          : std::max<int64_t>(4096, (n + threads - 1) / threads);
    const int64_t per_row = std::max<int64_t>(1, (n + piece - 1) / piece);
    std::vector<T> partial(rows * per_row);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t sgm = 0; sgm < rows * per_row; ++sgm) {
        int64_t r = sgm / per_row, start = sgm % per_row * piece;
        partial[sgm] = fold_row(Pick::template identity<T>(), px + r * n + start,
                                std::min(piece, n - start), 1, pick);
    }
    into_contiguous<T>(out, [&](T* po) {
        for (int64_t r = 0; r < rows; ++r)
            po[r] = fold_row(Pick::template identity<T>(), partial.data() + r * per_row, per_row, 1,
                             pick);
    });
    return true;
}

template <class Pick>
void extreme_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims,
                 std::string_view op) {
    check(out.dtype() == x.dtype(), "[{}] output {} for input {}", op, out.dtype(), x.dtype());
    kernels::check_nonempty(x.shape(), dims, op);
    visit_numeric(x.dtype(), op, [&]<class T>() {
        Pick pick;
        const T init = Pick::template identity<T>();
        if (trailing_rows<T>(out, x, dims, pick)) return;
        auto same = [](T v) { return v; };
        if (leading_rows<T, T>(out, x, dims, init, pick, same)) return;
        reduce_blocks<T, T, T>(
            out, x, dims, init,
            [pick](T m, const T* p, int64_t n, int64_t s) { return fold_row(m, p, n, s, pick); },
            same);
    });
}

void amax_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    extreme_cpu<PickMax>(out, x, dims, "max");
}
void amin_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    extreme_cpu<PickMin>(out, x, dims, "min");
}

// ---- logsumexp

// Two passes over each block: m = max, then s = sum exp(x - m) (each term <= 1, so nothing
// overflows, and the largest term is exactly 1, so s >= 1 and log(s) loses nothing); y = m +
// log(s). When m is infinite or NaN, y = m: all -inf (or no elements) gives -inf = log(0), a +inf
// gives +inf, a NaN gives NaN, where the formula would compute inf - inf.
void logsumexp_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    check(out.dtype() == x.dtype(), "[logsumexp] output {} for input {}", out.dtype(), x.dtype());
    visit_floating(x.dtype(), "logsumexp", [&]<class T>() {
        const Blocks b = make_blocks(x, dims);
        const T* px = x.data<T>();
        into_contiguous<T>(out, [&](T* po) {
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelGrain && b.n_out > 1)
            for (int64_t o = 0; o < b.n_out; ++o) {
                const int64_t base = b.base(o);
                T m = PickMax::identity<T>();
                b.for_each_row(base, [&](int64_t off, int64_t n, int64_t s) {
                    m = fold_row(m, px + off, n, s, PickMax{});
                });
                if (!std::isfinite(m)) {
                    po[o] = m;
                    continue;
                }
                double sum = 0;
                b.for_each_row(base, [&](int64_t off, int64_t n, int64_t s) {
                    const T* p = px + off;
                    for (int64_t i = 0; i < n; ++i) sum += std::exp(p[i * s] - m);
                });
                po[o] = static_cast<T>(m + std::log(sum));
            }
        });
    });
}

// ---- all and any

void bool_reduce_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims,
                     bool is_all) {
    const char* op = is_all ? "all" : "any";
    check(x.dtype() == DType::b8 && out.dtype() == DType::b8,
          "[{}] expects a bool tensor, got {}; compare first (x != 0)", op, x.dtype());
    // all: no false found; any: a true found. Count the deciding values, then test the count.
    const bool deciding = !is_all;
    reduce_blocks<bool, bool, int64_t>(
        out, x, dims, int64_t(0),
        [deciding](int64_t c, const bool* p, int64_t n, int64_t s) {
            for (int64_t i = 0; i < n; ++i) c += p[i * s] == deciding;
            return c;
        },
        [is_all](int64_t c) { return is_all ? c == 0 : c > 0; });
}
void all_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    bool_reduce_cpu(out, x, dims, true);
}
void any_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    bool_reduce_cpu(out, x, dims, false);
}

// ---- along one dim: argmax, argmin, cumsum. x is made C-order and viewed as (outer, n, inner)
// around the dim; each (outer index, tile of inner positions) is one task, and inside a task the
// loop walks the dim with the tile's inner positions as the unit-stride loop. When inner is 1
// (the dim is the last one) each row is a plain sequential scan.

// x of `shape` seen as (outer, n, inner) around `dim`.
struct Lanes {
    int64_t outer = 1, n = 1, inner = 1;
};

Lanes lanes_around(const Shape& shape, int64_t dim) {
    Lanes l;
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
        if (d < dim)
            l.outer *= shape[d];
        else if (d == dim)
            l.n = shape[d];
        else
            l.inner *= shape[d];
    }
    return l;
}

constexpr int64_t kTile = 256;

// Calls task(o, i0, i1) for every outer index o and tile [i0, i1) of inner positions, in
// parallel when the whole tensor has at least kParallelGrain elements.
template <class Task>
void for_each_tile(const Lanes& l, Task&& task) {
    const int64_t tiles = (l.inner + kTile - 1) / kTile;
    const bool parallel = l.outer * l.n * l.inner >= kParallelGrain;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t t = 0; t < l.outer * tiles; ++t) {
        int64_t o = t / tiles, i0 = t % tiles * kTile;
        task(o, i0, std::min(l.inner, i0 + kTile));
    }
}

// ---- argmax / argmin

// True when v should replace the current best b: strictly better, or the first NaN (NaN beats
// everything and, once taken, nothing beats it, so the first NaN's index is returned).
struct BetterMax {
    template <class T>
    bool operator()(T v, T b) const {
        return v > b || (v != v && b == b);
    }
};
struct BetterMin {
    template <class T>
    bool operator()(T v, T b) const {
        return v < b || (v != v && b == b);
    }
};

template <class Better>
void arg_extreme_cpu(const Tensor& out, const Tensor& x, int64_t dim, std::string_view op) {
    check(out.dtype() == DType::i64, "[{}] output must be int64, got {}", op, out.dtype());
    kernels::check_nonempty(x.shape(), {dim}, op);
    const Tensor xc = kernels::contiguous(x);
    const Lanes l = lanes_around(x.shape(), dim);
    Better better;
    visit_numeric(x.dtype(), op, [&]<class T>() {
        const T* px = xc.data<T>();
        into_contiguous<int64_t>(out, [&](int64_t* po) {
            for_each_tile(l, [&](int64_t o, int64_t i0, int64_t i1) {
                const T* p = px + o * l.n * l.inner;
                int64_t* idx = po + o * l.inner;
                T best[kTile];
                for (int64_t i = i0; i < i1; ++i) {
                    best[i - i0] = p[i];
                    idx[i] = 0;
                }
                for (int64_t k = 1; k < l.n; ++k) {
                    const T* row = p + k * l.inner;
                    for (int64_t i = i0; i < i1; ++i) {
                        if (better(row[i], best[i - i0])) {
                            best[i - i0] = row[i];
                            idx[i] = k;
                        }
                    }
                }
            });
        });
    });
}

void argmax_cpu(const Tensor& out, const Tensor& x, int64_t dim) {
    arg_extreme_cpu<BetterMax>(out, x, dim, "argmax");
}
void argmin_cpu(const Tensor& out, const Tensor& x, int64_t dim) {
    arg_extreme_cpu<BetterMin>(out, x, dim, "argmin");
}

// ---- cumsum

// Running sums along the dim, forward (j <= i) or backward (j >= i). Acc is double for floats,
// so a long float32 scan does not drift; int64 for int64 and bool.
template <class T, class Out, class Acc>
void cumsum_lanes(Out* po, const T* px, const Lanes& l, bool reverse) {
    for_each_tile(l, [&](int64_t o, int64_t i0, int64_t i1) {
        const T* p = px + o * l.n * l.inner;
        Out* q = po + o * l.n * l.inner;
        if (l.inner == 1) {  // one contiguous row: a plain scan
            Acc acc = 0;
            if (reverse) {
                for (int64_t k = l.n - 1; k >= 0; --k) q[k] = static_cast<Out>(acc += p[k]);
            } else {
                for (int64_t k = 0; k < l.n; ++k) q[k] = static_cast<Out>(acc += p[k]);
            }
            return;
        }
        Acc acc[kTile] = {};
        for (int64_t j = 0; j < l.n; ++j) {
            int64_t k = reverse ? l.n - 1 - j : j;
            const T* row = p + k * l.inner;
            Out* dst = q + k * l.inner;
            for (int64_t i = i0; i < i1; ++i) {
                acc[i - i0] += static_cast<Acc>(row[i]);
                dst[i] = static_cast<Out>(acc[i - i0]);
            }
        }
    });
}

void cumsum_cpu(const Tensor& out, const Tensor& x, int64_t dim, bool reverse) {
    const DType want = x.dtype() == DType::b8 ? DType::i64 : x.dtype();
    check(out.dtype() == want, "[cumsum] output {} for input {}; expected {}", out.dtype(),
          x.dtype(), want);
    check(out.shape() == x.shape(), "[cumsum] output {} for input {}", shape_str(out.shape()),
          shape_str(x.shape()));
    const Tensor xc = kernels::contiguous(x);
    const Lanes l = lanes_around(x.shape(), dim);
    visit_dtype(x.dtype(), [&]<class T>() {
        using Out = std::conditional_t<std::is_same_v<T, bool>, int64_t, T>;
        using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
        into_contiguous<Out>(
            out, [&](Out* po) { cumsum_lanes<T, Out, Acc>(po, xc.data<T>(), l, reverse); });
    });
}

}  // namespace

const bool sum_on_cpu = kernels::sum.set(DeviceType::cpu, &sum_cpu);
const bool amax_on_cpu = kernels::amax.set(DeviceType::cpu, &amax_cpu);
const bool amin_on_cpu = kernels::amin.set(DeviceType::cpu, &amin_cpu);
const bool logsumexp_on_cpu = kernels::logsumexp.set(DeviceType::cpu, &logsumexp_cpu);
const bool all_on_cpu = kernels::all.set(DeviceType::cpu, &all_cpu);
const bool any_on_cpu = kernels::any.set(DeviceType::cpu, &any_cpu);
const bool argmax_on_cpu = kernels::argmax.set(DeviceType::cpu, &argmax_cpu);
const bool argmin_on_cpu = kernels::argmin.set(DeviceType::cpu, &argmin_cpu);
const bool cumsum_on_cpu = kernels::cumsum.set(DeviceType::cpu, &cumsum_cpu);

}  // namespace gradstack::cpu
