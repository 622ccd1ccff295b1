// Launchers of the cross-entropy kernels (cross_entropy.cu), called from ../cross_entropy.cpp.
// logits [..., C] are N rows of C classes; target, loss, lse and gloss hold one value per row.
// Read next: cross_entropy.cu (the math, after tensor/cpu/cross_entropy.cpp).
#pragma once

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// How the operands are described:
//   logits, gx: over `rows` (launch.h's row_iteration over the class dim): element c of row r at
//               data + offset_of(rows, strides, r) + c * step.
//   target (int64), loss, gloss, lse (double): over `items` (launch.h's iteration over target's
//               shape): row r's value at data + offset_of(items, strides, r).
// rows.numel == items.numel == N.

// Per row r with target t (ls = label_smoothing): t == ignore_index gives loss 0 and lse 0; else
//   lse  = max + log(sum_c exp(x_c - max))       (exp in the logits' type, sums in double)
//   loss = (1 - ls) (lse - x_t) + ls (lse - mean_c x_c)
// A target outside [0, C) that is not ignore_index writes NaN there and lowers *first_bad
// (device memory, set to UINT64_MAX by the caller) to its row index, so the host finds the first
// offending row in C order.
void launch_cross_entropy(const IterShape& rows, int64_t C, const Operand& logits,
                          const IterShape& items, const Operand& loss, const Operand& lse,
                          const Operand& target, int64_t ignore_index, double label_smoothing,
                          unsigned long long* first_bad, cudaStream_t stream);

// gx[r, c] = gloss[r] (exp(x_c - lse) - (1 - ls) [c == t] - ls / C); 0 on ignored rows, NaN on
// rows whose target is out of range (the forward has already thrown for those).
void launch_cross_entropy_backward(const IterShape& rows, int64_t C, const Operand& gx,
                                   const Operand& logits, const IterShape& items,
                                   const Operand& gloss, const Operand& lse, const Operand& target,
                                   int64_t ignore_index, double label_smoothing,
                                   cudaStream_t stream);

}  // namespace gradstack::cuda
