// Launchers of the reduction kernels (reduce.cu), called from ../reduce.cpp: sum, max, min,
// logsumexp, all and any over a set of dims, argmax and argmin along one dim (the same kernels,
// with one reduced dim whose index is the answer), and cumsum along one dim.
// Read next: reduce.cu, then ../reduce.cpp (how a Tensor and its dims become a ReduceShape).
#pragma once

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// A reduction seen as (kept dims) x (reduced dims). Output element o (C order over `kept`) folds
// the elements of x at
//   x.data + offset_of(kept, x.strides, o) + offset_of(reduced, reduced_strides, r)
// for r in [0, reduced.numel), and is written at out.data + offset_of(kept, out.strides, o).
// So the `out` and `x` operands passed with a ReduceShape have their strides over `kept`.
struct ReduceShape {
    IterShape kept;
    IterShape reduced;
    int64_t reduced_strides[kMaxDims] = {};  // x's strides over `reduced`
};

// out = fold over the reduced elements, out of x's type unless said otherwise. The host has
// checked the dtypes (the kernels skip types they do not support).
//   sum:            float32/float64 accumulate in double, int64 in int64; no elements: 0.
//   amax / amin:    NaN wins; no elements: -inf / +inf (the host rejects that case first).
//   logsumexp:      m + log(sum exp(x - m)) with m the max, the sum in double; m when m is not
//                   finite (no elements or all -inf: -inf).
//   all / any:      bool x and bool out; no elements: true / false.
//   argmax/argmin:  int64 out; `reduced` must be one dim (the dim the index runs along); the first
//                   index of the max / min, a NaN counting as both (the first NaN wins).
void launch_sum(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream);
void launch_amax(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream);
void launch_amin(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream);
void launch_logsumexp(const ReduceShape& s, const Operand& out, const Operand& x,
                      cudaStream_t stream);
void launch_all(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream);
void launch_any(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream);
void launch_argmax(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream);
void launch_argmin(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream);

// Running sums along rows of length n (launch.h's row_iteration: the operands' strides are over
// `rows`, element j of a row is at offset + j * step): out[j] = sum_{i <= j} x[i], or
// sum_{i >= j} when `reverse`. float32/float64 accumulate in double, int64 in int64, bool x counts
// into an int64 out.
void launch_cumsum(const IterShape& rows, const Operand& out, const Operand& x, int64_t n,
                   bool reverse, cudaStream_t stream);

// How many threads share one row (or one output) of `n` elements when there are `rows` of them:
// 1 (a thread walks its row alone: best when rows are short, or strided while neighbouring rows
// sit side by side in memory, so a warp's loads coalesce across rows), 32 (a warp) or kThreads
// (a block, for long rows). `contiguous`: the row's elements are adjacent in memory (step 1).
// Also used by the softmax kernels (softmax.cu).
int threads_per_row(int64_t rows, int64_t n, bool contiguous);

}  // namespace gradstack::cuda
