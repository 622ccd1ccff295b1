// Raw indexing, joining and ordering kernels: index_select / index_add (rows picked by a list of
// ids, and their adjoint), gather / scatter_add (one id per element), cat, triu / tril, one_hot,
// topk / argsort (they write indices only) and multinomial sampling. `dim` arguments must already
// be normalised (0 <= dim < ndim). Index tensors are int64; an id out of range throws naming it.
// Read next: cpu/index.cpp and cpu/sort.cpp (reference/index.cpp and reference/sort.cpp: their
// plain twins), then autograd/ops/index.cpp for the gradients.
#pragma once

#include <vector>

#include "tensor/dispatch.h"
#include "tensor/random.h"

namespace gradstack::kernels {

// out = x with dim `dim` replaced by the rows index[0], index[1], ...: out.shape[dim] = len(index).
// index: 1-d int64, every id in [0, x.shape[dim]).
inline constinit Dispatcher<void(const Tensor& out, const Tensor& x, int64_t dim,
                                 const Tensor& index)>
    index_select{"index_select"};
// out[..., index[i], ...] += src[..., i, ...] along dim (repeated ids accumulate): the adjoint of
// index_select. src has out's shape except src.shape[dim] = len(index). Not for bool.
inline constinit Dispatcher<void(const Tensor& out, int64_t dim, const Tensor& index,
                                 const Tensor& src)>
    index_add{"index_add"};

// out[i][j][k] = x[i][index[i][j][k]][k] for dim 1 (likewise for any dim): out has index's shape.
// index has x's number of dims, index.shape[d] <= x.shape[d] for d != dim.
inline constinit Dispatcher<void(const Tensor& out, const Tensor& x, int64_t dim,
                                 const Tensor& index)>
    gather{"gather"};
// out[i][index[i][j][k]][k] += src[i][j][k] for dim 1, in place (repeated ids accumulate): the
// adjoint of gather. index.shape[d] <= src.shape[d] for all d and <= out.shape[d] for d != dim.
inline constinit Dispatcher<void(const Tensor& out, int64_t dim, const Tensor& index,
                                 const Tensor& src)>
    scatter_add{"scatter_add"};

// out = the xs laid end to end along dim; out has cat_shape(xs, dim).
inline constinit Dispatcher<void(const Tensor& out, const std::vector<Tensor>& xs, int64_t dim)>
    cat{"cat"};

// Over the last two dims (rows i, columns j): triu keeps x where j - i >= diagonal, tril where
// j - i <= diagonal; the rest of out is 0. x has at least 2 dims.
inline constinit Dispatcher<void(const Tensor& out, const Tensor& x, int64_t diagonal)> triu{
    "triu"};
inline constinit Dispatcher<void(const Tensor& out, const Tensor& x, int64_t diagonal)> tril{
    "tril"};

// out (int64, ids.shape + [num_classes]) = 1 at [..., ids[...]], else 0.
inline constinit Dispatcher<void(const Tensor& out, const Tensor& ids)> one_hot{"one_hot"};

// indices (int64, x's shape with shape[dim] = k) = the positions of the k largest (or smallest)
// values along dim, best first; ties go to the lower position. NaN counts as larger than any
// number, like PyTorch. Numeric dtypes.
inline constinit Dispatcher<void(const Tensor& indices, const Tensor& x, int64_t k, int64_t dim,
                                 bool largest)>
    topk{"topk"};
// indices (int64, x's shape) = the stable ordering of x along dim (ascending or descending; equal
// values keep their order; NaN sorts as the largest value).
inline constinit Dispatcher<void(const Tensor& indices, const Tensor& x, int64_t dim,
                                 bool descending)>
    argsort{"argsort"};

// out (int64, [N, S]) = S draws per row of probs ([N, C], float, rows non-negative and finite
// with a positive sum; they need not sum to 1). Without replacement S <= the row's non-zero count.
// Takes its random numbers from `gen` by counter, so results do not depend on the thread count.
inline constinit Dispatcher<void(const Tensor& out, const Tensor& probs, bool replacement,
                                 Generator& gen)>
    multinomial{"multinomial"};

// --- shape checks shared by every backend (they throw naming the op and the shapes).

// Checks an index tensor is int64 (`what` names it in errors, e.g. "index").
void check_index_dtype(const Tensor& index, std::string_view op, std::string_view what = "index");
// index_select's output shape; index must be 1-d.
Shape index_select_shape(const Tensor& x, int64_t dim, const Tensor& index);
// Checks gather's x / index (same number of dims, index.shape[d] <= x.shape[d] for d != dim).
void check_gather(const Tensor& x, int64_t dim, const Tensor& index, std::string_view op);
// Checks scatter_add's out / index / src, as described above.
void check_scatter(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src,
                   std::string_view op);
// cat's output shape: every x has the same number of dims and sizes except along dim, the same
// dtype and device. Throws naming the first offending tensor's position and shape.
Shape cat_shape(const std::vector<Tensor>& xs, int64_t dim);
// topk's x (at least 1-d), k (in [0, x.shape[dim]]) and indices (int64, x's shape with
// shape[dim] = k); returns that shape.
Shape check_topk(const Tensor& indices, const Tensor& x, int64_t k, int64_t dim);
// argsort's x (at least 1-d) and indices (int64, x's shape).
void check_argsort(const Tensor& indices, const Tensor& x);

}  // namespace gradstack::kernels
