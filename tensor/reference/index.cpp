// Reference indexing kernels: index_select and index_add (the embedding lookup and its gradient),
// gather and scatter_add, one element at a time over C-order positions, repeated ids summed in
// float64 (int64 for int64). The fast twin is cpu/index.cpp (whole rows moved at once, index_add
// parallel over column blocks, gather / scatter_add over merged dims).
// Read next: reference/reduce.cpp.
#include <type_traits>
#include <vector>

#include "tensor/kernels/index.h"
#include "tensor/reference/strided.h"

namespace gradstack::reference {
namespace {

// Sums in float64 for floats, int64 for int64.
template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

int64_t checked_id(int64_t id, int64_t size, int64_t dim, std::string_view op) {
    check(id >= 0 && id < size, "[{}] index {} is out of range for dim {} of size {}", op, id, dim,
          size);
    return id;
}

// The multi-index of C-order position `flat` in `shape`.
Shape unravel(int64_t flat, const Shape& shape) {
    Shape idx(shape.size());
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    return idx;
}
// The C-order position of multi-index `idx` in `shape`.
int64_t ravel(const Shape& idx, const Shape& shape) {
    int64_t flat = 0;
    for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[d];
    return flat;
}

// out[a, i, c] = x[a, index[i], c], with (a, i, c) the (before dim, along dim, after dim) parts
// of an out position.
void index_select_reference(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
    const Shape s = kernels::index_select_shape(x, dim, index);
    check(out.shape() == s && out.dtype() == x.dtype(),
          "[index_select] output is {} {}, expected {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(s));
    const Strided<int64_t> ids(index);
    visit_dtype(x.dtype(), [&]<class T>() {
        const Strided<T> xs(x), os(out);
        for (int64_t e = 0; e < out.numel(); ++e) {
            Shape idx = unravel(e, s);
            idx[dim] = checked_id(ids[idx[dim]], x.size(dim), dim, "index_select");
            os[e] = xs[ravel(idx, x.shape())];
        }
    });
}

// out[a, index[i], c] += src[a, i, c] for every src position; ids that repeat add up.
void index_add_reference(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
    kernels::check_index_dtype(index, "index_add");
    check(src.dtype() == out.dtype(), "[index_add] src is {}, out is {}", src.dtype(), out.dtype());
    const Shape s = kernels::index_select_shape(out, dim, index);
    check(src.shape() == s, "[index_add] src has shape {}, expected {} for out {} and {} ids",
          shape_str(src.shape()), shape_str(s), shape_str(out.shape()), index.numel());
    const Strided<int64_t> ids(index);
    visit_numeric(out.dtype(), "index_add", [&]<class T>() {
        const Strided<T> os(out), ss(src);
        std::vector<Acc<T>> acc(out.numel());
        for (int64_t e = 0; e < out.numel(); ++e) acc[e] = static_cast<Acc<T>>(os[e]);
        for (int64_t e = 0; e < src.numel(); ++e) {
            Shape idx = unravel(e, s);
            idx[dim] = checked_id(ids[idx[dim]], out.size(dim), dim, "index_add");
            acc[ravel(idx, out.shape())] += static_cast<Acc<T>>(ss[e]);
        }
        for (int64_t e = 0; e < out.numel(); ++e) os[e] = static_cast<T>(acc[e]);
    });
}

// out[p] = x[p with its coordinate along dim replaced by index[p]], for every index position p.
void gather_reference(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
    kernels::check_gather(x, dim, index, "gather");
    check(out.shape() == index.shape() && out.dtype() == x.dtype(),
          "[gather] output is {} {}, expected {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(index.shape()));
    const Strided<int64_t> ids(index);
    visit_dtype(x.dtype(), [&]<class T>() {
        const Strided<T> xs(x), os(out);
        for (int64_t e = 0; e < index.numel(); ++e) {
            Shape idx = unravel(e, index.shape());
            idx[dim] = checked_id(ids[e], x.size(dim), dim, "gather");
            os[e] = xs[ravel(idx, x.shape())];
        }
    });
}

// out[p with its coordinate along dim replaced by index[p]] += src[p], for every index position
// p (src may be larger than index: only index's positions count).
void scatter_add_reference(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
    kernels::check_scatter(out, dim, index, src, "scatter_add");
    const Strided<int64_t> ids(index);
    visit_numeric(out.dtype(), "scatter_add", [&]<class T>() {
        const Strided<T> os(out), ss(src);
        std::vector<Acc<T>> acc(out.numel());
        for (int64_t e = 0; e < out.numel(); ++e) acc[e] = static_cast<Acc<T>>(os[e]);
        for (int64_t e = 0; e < index.numel(); ++e) {
            Shape idx = unravel(e, index.shape());
            const Acc<T> v = static_cast<Acc<T>>(ss[ravel(idx, src.shape())]);
            idx[dim] = checked_id(ids[e], out.size(dim), dim, "scatter_add");
            acc[ravel(idx, out.shape())] += v;
        }
        for (int64_t e = 0; e < out.numel(); ++e) os[e] = static_cast<T>(acc[e]);
    });
}

}  // namespace

const bool index_select_reference_on_cpu =
    kernels::index_select.set_reference(&index_select_reference);
const bool index_add_reference_on_cpu = kernels::index_add.set_reference(&index_add_reference);
const bool gather_reference_on_cpu = kernels::gather.set_reference(&gather_reference);
const bool scatter_add_reference_on_cpu =
    kernels::scatter_add.set_reference(&scatter_add_reference);

}  // namespace gradstack::reference
