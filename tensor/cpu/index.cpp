// CPU indexing and joining kernels: index_select / index_add (whole rows, the embedding lookup and
// its gradient), gather / scatter_add (one id per element), cat, triu / tril and one_hot.
// Ids are range-checked in one serial pass before any parallel loop, because an exception must
// not escape an OpenMP region. Read next: cpu/sort.cpp (topk, argsort, multinomial).
// Read next, the reference twin: reference/index.cpp (index_select, index_add, gather, scatter_add;
// cat, triu/tril and one_hot are plain already), the same math as plain float64 loops;
// GRADSTACK_KERNELS=reference runs it instead (tensor/dispatch.h).
#include "tensor/kernels/index.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "tensor/cpu/loops.h"
#include "tensor/kernels/copy.h"
#include "tensor/view.h"

namespace gradstack::cpu {
namespace {

// Throws for the first id outside [0, size) in a contiguous id array.
void check_ids(const Tensor& ids, int64_t size, int64_t dim, std::string_view op) {
    const int64_t* p = ids.data<int64_t>();
    for (int64_t i = 0, n = ids.numel(); i < n; ++i)
        if (p[i] < 0 || p[i] >= size) [[unlikely]]
            fail("[{}] index {} is out of range for dim {} of size {}", op, p[i], dim, size);
}

// Runs f(buffer) where buffer is `out` itself when it is contiguous, else a contiguous scratch
// tensor copied into out afterwards. `accumulate`: f adds into the buffer, so it starts as out.
template <class F>
void with_contiguous_out(const Tensor& out, bool accumulate, F&& f) {
    if (out.is_contiguous()) {
        f(out);
        return;
    }
    Tensor buffer =
        accumulate ? kernels::clone(out) : empty(out.shape(), out.dtype(), out.device());
    f(buffer);
    kernels::copy(out, buffer);
}

// Product of shape[begin:end].
int64_t span(const Shape& shape, int64_t begin, int64_t end) {
    int64_t n = 1;
    for (int64_t d = begin; d < end; ++d) n *= shape[d];
    return n;
}

// Calls line(offsets, n, steps) once for every line of `shape` along `dim`: offsets[k] is operand
// k's element offset of the line's first element and steps[k] its stride along dim. The other dims
// are merged where the operands allow, and lines run in parallel when `parallel`.
template <size_t N, class Line>
void for_each_line(const Shape& shape, int64_t dim, const std::array<Shape, N>& strides,
                   bool parallel, Line&& line) {
    Shape outer;
    std::array<Shape, N> outer_strides;
    std::array<int64_t, N> steps{};
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
        if (d == dim) {
            for (size_t k = 0; k < N; ++k) steps[k] = strides[k][d];
            continue;
        }
        outer.push_back(shape[d]);
        for (size_t k = 0; k < N; ++k) outer_strides[k].push_back(strides[k][d]);
    }
    const int64_t rows = numel(outer), n = shape[dim];
    if (rows == 0 || n == 0) return;
    LoopNest<N> nest = merge_dims<N>(outer, outer_strides);
    const int64_t nd = static_cast<int64_t>(nest.shape.size());
#pragma omp parallel for schedule(static) if (parallel && rows > 1)
    for (int64_t r = 0; r < rows; ++r) {
        std::array<int64_t, N> off{};
        for (int64_t d = nd - 1, rem = r; d >= 0; --d) {  // row -> multi-index over outer dims
            int64_t i = rem % nest.shape[d];
            rem /= nest.shape[d];
            for (size_t k = 0; k < N; ++k) off[k] += i * nest.strides[k][d];
        }
        line(off, n, steps);
    }
}

// --- index_select / index_add. Both view the data as [outer, size along dim, inner] and move
// whole inner rows, so the embedding lookup (dim 0 of [V, C]) is one row copy per id.

void index_select_cpu(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
    Shape s = kernels::index_select_shape(x, dim, index);
    check(out.shape() == s && out.dtype() == x.dtype(),
          "[index_select] output is {} {}, expected {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(s));
    Tensor ids = kernels::contiguous(index);
    check_ids(ids, x.shape()[dim], dim, "index_select");
    Tensor xc = kernels::contiguous(x);
    const int64_t outer = span(s, 0, dim), size = x.shape()[dim], n = ids.numel();
    const int64_t inner = span(s, dim + 1, x.dim());
    const int64_t* pi = ids.data<int64_t>();
    with_contiguous_out(out, false, [&](const Tensor& o) {
        visit_dtype(x.dtype(), [&]<class T>() {
            const T* px = xc.data<T>();
            T* po = o.data<T>();
#pragma omp parallel for collapse(2) schedule(static) if (out.numel() >= kParallelGrain)
            for (int64_t a = 0; a < outer; ++a) {
                for (int64_t i = 0; i < n; ++i) {
                    const T* src = px + (a * size + pi[i]) * inner;
                    std::copy(src, src + inner, po + (a * n + i) * inner);
                }
            }
        });
    });
}

void index_add_cpu(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
    kernels::check_index_dtype(index, "index_add");
    check(src.dtype() == out.dtype(), "[index_add] src is {}, out is {}", src.dtype(), out.dtype());
    Shape s = kernels::index_select_shape(out, dim, index);
    check(src.shape() == s, "[index_add] src has shape {}, expected {} for out {} and {} ids",
          shape_str(src.shape()), shape_str(s), shape_str(out.shape()), index.numel());
    Tensor ids = kernels::contiguous(index);
    check_ids(ids, out.shape()[dim], dim, "index_add");
    Tensor sc = kernels::contiguous(src);
    const int64_t outer = span(s, 0, dim), size = out.shape()[dim], n = ids.numel();
    const int64_t inner = span(s, dim + 1, out.dim());
    // Parallel over (outer, column block) pairs and serial over ids: two ids naming the same row
    // then add into it from the same thread, so repeated ids need no atomics, and the order of
    // the additions (id order) does not depend on the thread count.
    const int64_t block = std::max<int64_t>(
        64, (inner + 2 * omp_get_max_threads() - 1) / (2 * omp_get_max_threads()));
    const int64_t blocks = (inner + block - 1) / block;
    const int64_t* pi = ids.data<int64_t>();
    with_contiguous_out(out, true, [&](const Tensor& o) {
        visit_numeric(out.dtype(), "index_add", [&]<class T>() {
            const T* ps = sc.data<T>();
            T* po = o.data<T>();
#pragma omp parallel for collapse(2) schedule(static) if (src.numel() >= kParallelGrain)
            for (int64_t a = 0; a < outer; ++a) {
                for (int64_t b = 0; b < blocks; ++b) {
                    const int64_t c0 = b * block, c1 = std::min(inner, c0 + block);
                    for (int64_t i = 0; i < n; ++i) {
                        T* dst = po + (a * size + pi[i]) * inner;
                        const T* row = ps + (a * n + i) * inner;
                        for (int64_t c = c0; c < c1; ++c) dst[c] += row[c];
                    }
                }
            }
        });
    });
}

// --- gather / scatter_add, one line along dim at a time. Two lines differ in some other dim, and
// out's coordinates there are the index's, so parallel lines of scatter_add never write the same
// element.

void gather_cpu(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
    kernels::check_gather(x, dim, index, "gather");
    check(out.shape() == index.shape() && out.dtype() == x.dtype(),
          "[gather] output is {} {}, expected {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(index.shape()));
    Tensor ids = kernels::contiguous(index);
    check_ids(ids, x.shape()[dim], dim, "gather");
    visit_dtype(x.dtype(), [&]<class T>() {
        const T* px = x.data<T>();
        const int64_t* pi = ids.data<int64_t>();
        T* po = out.data<T>();
        for_each_line<3>(
            ids.shape(), dim, {out.strides(), x.strides(), ids.strides()},
            ids.numel() >= kParallelGrain,
            [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                T* o = po + off[0];
                const T* xs = px + off[1];
                const int64_t* is = pi + off[2];
                if (st[0] == 1 && st[1] == 1 && st[2] == 1) {  // along the last dim
                    for (int64_t i = 0; i < n; ++i) o[i] = xs[is[i]];
                } else {
                    for (int64_t i = 0; i < n; ++i) o[i * st[0]] = xs[is[i * st[2]] * st[1]];
                }
            });
    });
}

void scatter_add_cpu(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
    kernels::check_scatter(out, dim, index, src, "scatter_add");
    Tensor ids = kernels::contiguous(index);
    check_ids(ids, out.shape()[dim], dim, "scatter_add");
    visit_numeric(out.dtype(), "scatter_add", [&]<class T>() {
        const T* ps = src.data<T>();
        const int64_t* pi = ids.data<int64_t>();
        T* po = out.data<T>();
        for_each_line<3>(
            ids.shape(), dim, {out.strides(), src.strides(), ids.strides()},
            ids.numel() >= kParallelGrain,
            [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                T* o = po + off[0];
                const T* s = ps + off[1];
                const int64_t* is = pi + off[2];
                for (int64_t i = 0; i < n; ++i) o[is[i * st[2]] * st[0]] += s[i * st[1]];
            });
    });
}

// --- cat. With every tensor contiguous, out is `outer` rows, each the inputs' rows end to end,
// so one memcpy per (row, input) does it (cat along the last dim, the KV-cache pattern). Other
// layouts copy each input into its slice of out through the strided copy kernel.

void cat_cpu(const Tensor& out, const std::vector<Tensor>& xs, int64_t dim) {
    Shape s = kernels::cat_shape(xs, dim);
    check(out.shape() == s && out.dtype() == xs.front().dtype(),
          "[cat] output is {} {}, expected {} {}", out.dtype(), shape_str(out.shape()),
          xs.front().dtype(), shape_str(s));
    bool all_contiguous = out.is_contiguous();
    for (const Tensor& x : xs) all_contiguous = all_contiguous && x.is_contiguous();
    if (!all_contiguous) {
        int64_t start = 0;
        for (const Tensor& x : xs) {
            kernels::copy(views::slice(out, dim, start, start + x.shape()[dim]), x);
            start += x.shape()[dim];
        }
        return;
    }
    const size_t item = itemsize(out.dtype());
    const int64_t outer = span(s, 0, dim), inner = span(s, dim + 1, out.dim());
    const int64_t out_row = s[dim] * inner;
    std::vector<const char*> src(xs.size());
    std::vector<int64_t> row(xs.size()), start(xs.size());
    for (size_t i = 0, at = 0; i < xs.size(); ++i) {
        src[i] = static_cast<const char*>(xs[i].raw_data());
        row[i] = xs[i].shape()[dim] * inner;
        start[i] = static_cast<int64_t>(at);
        at += row[i];
    }
    char* dst = static_cast<char*>(out.raw_data());
    if (out.numel() == 0) return;
#pragma omp parallel for schedule(static) if (out.numel() >= kParallelGrain && outer > 1)
    for (int64_t a = 0; a < outer; ++a) {
        for (size_t i = 0; i < xs.size(); ++i)
            std::memcpy(dst + (a * out_row + start[i]) * item, src[i] + a * row[i] * item,
                        row[i] * item);
    }
}

// --- triu / tril: row i of each matrix keeps columns [i + diagonal, C) (triu) or
// [0, i + diagonal] (tril) and zeroes the rest; two plain copies/fills per row.

void triangle_cpu(const Tensor& out, const Tensor& x, int64_t diagonal, bool upper) {
    const char* op = upper ? "triu" : "tril";
    check(x.dim() >= 2, "[{}] needs at least 2 dims, got shape {}", op, shape_str(x.shape()));
    check(out.shape() == x.shape() && out.dtype() == x.dtype(),
          "[{}] output is {} {}, expected {} {}", op, out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(x.shape()));
    Tensor xc = kernels::contiguous(x);
    const int64_t R = x.shape()[x.dim() - 2], C = x.shape()[x.dim() - 1];
    const int64_t rows = R * span(x.shape(), 0, x.dim() - 2);
    with_contiguous_out(out, false, [&](const Tensor& o) {
        visit_dtype(x.dtype(), [&]<class T>() {
            const T* px = xc.data<T>();
            T* po = o.data<T>();
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelGrain)
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t i = r % R;
                // keep [k0, k1) of this row
                const int64_t k0 = upper ? std::clamp<int64_t>(i + diagonal, 0, C) : 0;
                const int64_t k1 = upper ? C : std::clamp<int64_t>(i + diagonal + 1, 0, C);
                const T* xr = px + r * C;
                T* yr = po + r * C;
                std::fill(yr, yr + k0, T(0));
                std::copy(xr + k0, xr + k1, yr + k0);
                std::fill(yr + k1, yr + C, T(0));
            }
        });
    });
}

void triu_cpu(const Tensor& out, const Tensor& x, int64_t diagonal) {
    triangle_cpu(out, x, diagonal, true);
}
void tril_cpu(const Tensor& out, const Tensor& x, int64_t diagonal) {
    triangle_cpu(out, x, diagonal, false);
}

void one_hot_cpu(const Tensor& out, const Tensor& ids) {
    kernels::check_index_dtype(ids, "one_hot", "ids");
    check(out.dtype() == DType::i64 && out.dim() == ids.dim() + 1,
          "[one_hot] output is {} {}, expected int64 with one more dim than ids {}", out.dtype(),
          shape_str(out.shape()), shape_str(ids.shape()));
    const int64_t classes = out.shape().back();
    Tensor ic = kernels::contiguous(ids);
    check_ids(ic, classes, 0, "one_hot");
    with_contiguous_out(out, false, [&](const Tensor& o) {
        const int64_t* pi = ic.data<int64_t>();
        int64_t* po = o.data<int64_t>();
        std::fill(po, po + o.numel(), int64_t{0});
        for (int64_t i = 0, n = ic.numel(); i < n; ++i) po[i * classes + pi[i]] = 1;
    });
}

}  // namespace

const bool index_select_on_cpu = kernels::index_select.set(DeviceType::cpu, &index_select_cpu);
const bool index_add_on_cpu = kernels::index_add.set(DeviceType::cpu, &index_add_cpu);
const bool gather_on_cpu = kernels::gather.set(DeviceType::cpu, &gather_cpu);
const bool scatter_add_on_cpu = kernels::scatter_add.set(DeviceType::cpu, &scatter_add_cpu);
const bool cat_on_cpu = kernels::cat.set(DeviceType::cpu, &cat_cpu);
const bool triu_on_cpu = kernels::triu.set(DeviceType::cpu, &triu_cpu);
const bool tril_on_cpu = kernels::tril.set(DeviceType::cpu, &tril_cpu);
const bool one_hot_on_cpu = kernels::one_hot.set(DeviceType::cpu, &one_hot_cpu);

}  // namespace gradstack::cpu
