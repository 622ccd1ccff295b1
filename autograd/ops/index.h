// Indexing, joining and ordering ops with PyTorch semantics: index_select, embedding, gather,
// scatter_add, cat, stack, split, chunk, triu, tril, topk, sort, argsort, multinomial, one_hot.
// Index tensors are int64 and get no gradient; an id out of range throws gradstack::Error naming
// the op, the id and the size. Negative dims count from the end.
// Read next: autograd/ops/index.cpp (gradients), tensor/cpu/index.cpp and sort.cpp (kernels).
#pragma once

#include <utility>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace gradstack {

// x's slices index[0], index[1], ... along dim: the result has x's shape with
// shape[dim] = len(index). index is 1-d int64 with ids in [0, x.shape[dim]); ids may repeat (their
// gradients add up).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);

// Row lookup: weight (V, C), ids int64 of any shape with values in [0, V) -> ids.shape + (C,).
// The gradient of weight is dense (V, C), with the rows of repeated ids summed.
Tensor embedding(const Tensor& weight, const Tensor& ids);

// y[i][j][k] = x[i][index[i][j][k]][k] for dim = 1 (likewise for any dim): y has index's shape.
// index has as many dims as x and index.shape[d] <= x.shape[d] for every d != dim.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

// y = x with src added at the index positions: y[i][index[i][j][k]][k] += src[i][j][k] for dim 1
// (repeated positions accumulate). index.shape[d] <= src.shape[d] for every d, and
// <= x.shape[d] for d != dim; only the first index.shape[d] entries of src take part.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);

// The tensors end to end along dim (sizes may differ only there; size-0 tensors are fine). Throws
// naming the first tensor whose shape, dtype or device does not match tensor 0.
Tensor cat(const std::vector<Tensor>& xs, int64_t dim = 0);
// The tensors (all of one shape) stacked along a new dim `dim` in [-(ndim+1), ndim].
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);

// Views of x (through the differentiable slice) cut along dim:
// split: pieces of split_size (the last may be smaller; a size-0 dim gives one empty piece);
// (split(x, {n}) picks the split_size overload: a one-element list converts to int64.)
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
// split with sizes: one piece per entry; the sizes must add up to x.shape[dim];
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
// chunk: pieces of ceil(size / chunks), so there may be fewer than `chunks` (PyTorch's rule).
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// Over the last two dims (row i, column j; x has >= 2 dims): triu keeps j - i >= diagonal, tril
// keeps j - i <= diagonal, the rest is 0. The gradient is masked the same way.
Tensor triu(const Tensor& x, int64_t diagonal = 0);
Tensor tril(const Tensor& x, int64_t diagonal = 0);

// The k largest (or smallest) values along dim and their int64 positions, best first; equal
// values come in position order and NaN counts as the largest value. 0 <= k <= x.shape[dim], else
// throws. `sorted = false` allows any order; this implementation always returns them sorted.
// Values carry the gradient (they are gather(x, dim, indices)). Numeric dtypes.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true,
                               bool sorted = true);
// Stable sort along dim: (values, int64 positions); equal values keep their order, NaN sorts as
// the largest value. Values carry the gradient.
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false);
// The positions of sort(x, dim, descending).
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false);

// num_samples category ids (int64) drawn from the weights of probs: (C,) -> (num_samples,),
// (N, C) -> (N, num_samples). Weights must be finite and >= 0 with a positive sum per row (they
// need not sum to 1); without replacement num_samples <= the row's non-zero count. The draws are
// a function of the generator's seed and counter only (the default generator when null), not of
// the thread count. No gradient.
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement = false,
                   Generator* gen = nullptr);

// ids (int64, any shape, values in [0, num_classes)) -> ids.shape + (num_classes,) int64 with a 1
// at each id. num_classes >= 1 must be given (no inference from the data). No gradient.
Tensor one_hot(const Tensor& ids, int64_t num_classes);

}  // namespace gradstack
