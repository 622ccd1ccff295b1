// Raw matrix multiplication. kernels::matmul is the GEMM every linear layer, attention score and
// gradient goes through: out = a @ b (+ out) over the last two dims, batch dims broadcast.
// matmul_fresh adds torch.matmul's handling of 1-d operands and allocates the result.
// Read next: cpu/matmul.cpp (the OpenBLAS calls), reference/matmul.cpp (the three loops it
// replaces), autograd/ops/linalg.cpp (the gradients).
#pragma once

#include "tensor/dispatch.h"

namespace gradstack::kernels {

// out = a @ b, or out += a @ b when `accumulate`, for a [..., M, K] and b [..., K, N], both at
// least 2-d and of the same float dtype (float32 or float64; int64 throws). The batch dims (all
// but the last two) broadcast by NumPy rules; out has shape [batch..., M, N]. Any strides work:
// operands whose last two dims are row- or column-major are read in place (also stride-0
// broadcast batch dims), others are copied first.
inline constinit Dispatcher<void(const Tensor& out, const Tensor& a, const Tensor& b,
                                 bool accumulate)>
    matmul{"matmul"};

// The shape of torch.matmul(a, b) for a and b of at least 1 dim (see matmul_fresh): for 2-d and
// more, the broadcast batch dims, then M, N. Checks dtypes and devices, and throws
// "[matmul] last dim of a (2, 3) must match dim -2 of b (4, 5)" or
// "[matmul] batch dims of a (2, 3, 4) and b (5, 4, 6) do not broadcast".
Shape matmul_shape(const Tensor& a, const Tensor& b);

// a @ b into a fresh tensor, with torch.matmul's rules for any a and b of at least 1 dim:
// 1-d @ 1-d is a dot product (0-d result); a 1-d a is read as [1, K] and a 1-d b as [K, 1], and
// the added dim is removed from the result. Not differentiable (see autograd/ops/linalg.h).
Tensor matmul_fresh(const Tensor& a, const Tensor& b);

}  // namespace gradstack::kernels
