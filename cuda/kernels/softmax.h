// Launchers of the softmax kernels (softmax.cu), called from ../softmax.cpp. Each works along rows
// of length n described by launch.h's row_iteration: the operands' strides are over `rows`, and
// element j of a row is at offset + j * step. float32 and float64 (the host checks the dtype).
// Read next: softmax.cu.
#pragma once

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// With m the row's max and s = sum_j exp(x_j - m) (in double):
//   softmax (log false):    out_j = exp(x_j - m) * (1 / s)
//   log_softmax (log true): out_j = (x_j - m) - log(s)
// A row that is all -inf gives NaN (x - m = -inf + inf), as on the CPU.
void launch_softmax(const IterShape& rows, const Operand& out, const Operand& x, int64_t n,
                    bool log, cudaStream_t stream);

// Backward from the forward output y, the row sum in double:
//   softmax (log false):    gx_j = y_j (gy_j - sum_i gy_i y_i)
//   log_softmax (log true): gx_j = gy_j - exp(y_j) sum_i gy_i
void launch_softmax_backward(const IterShape& rows, const Operand& gx, const Operand& gy,
                             const Operand& y, int64_t n, bool log, cudaStream_t stream);

}  // namespace gradstack::cuda
