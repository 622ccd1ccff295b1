// Launchers of the indexing kernels (index.cu), called from ../index.cpp: the id range check that
// every indexing op runs first, index_select / index_add (rows picked by a 1-d id list) and
// gather / scatter_add (one id per element). cat needs no kernel of its own (../index.cpp copies
// each input into its slice of the output with kernels/copy.h).
// Read next: index.cu.
#pragma once

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// Range check of the int64 ids of `ids` (over `it`, in C order): err[0] = the C-order position of
// the first id outside [0, size) and err[1] = that id; err must hold {-1, -1} before the call and
// keeps it when every id is in range.
void launch_find_bad_id(const IterShape& it, const Operand& ids, int64_t size, int64_t* err,
                        cudaStream_t stream);

// The index_select / index_add iteration runs over the picked side (out for index_select, src for
// index_add), of shape s with n = s[dim] and inner = s[dim + 1] * ... (the product of the later
// dims), in C order, so element e sits at position i = (e / inner) % n along dim and reads id
// ids[i]. The other side (x, resp. out) is given over s with stride 0 along dim, and its `step`
// is its real stride along dim: the kernel adds id * step. `ids` is the 1-d id list: only its
// `data` and `step` (its stride) are read.

// out[e] = x[e moved to row ids[i] along dim]: any dtype.
void launch_index_select(const IterShape& it, const Operand& out, const Operand& x,
                         const Operand& ids, int64_t n, int64_t inner, cudaStream_t stream);
// out[e moved to row ids[i] along dim] += src[e], with atomics (repeated ids accumulate): float32,
// float64 and int64.
void launch_index_add(const IterShape& it, const Operand& out, const Operand& src,
                      const Operand& ids, int64_t n, int64_t inner, cudaStream_t stream);

// The gather / scatter_add iteration runs over the index tensor's shape; `ids` is the index
// tensor over it, and the side addressed by the ids (x for gather, out for scatter_add) is given
// with stride 0 along dim and its real stride along dim in `step`.

// out[e] = x[e with its coordinate along dim replaced by ids[e]]: any dtype.
void launch_gather(const IterShape& it, const Operand& out, const Operand& x, const Operand& ids,
                   cudaStream_t stream);
// out[e with its coordinate along dim replaced by ids[e]] += src[e], with atomics: float32,
// float64 and int64.
void launch_scatter_add(const IterShape& it, const Operand& out, const Operand& src,
                        const Operand& ids, cudaStream_t stream);

}  // namespace gradstack::cuda
