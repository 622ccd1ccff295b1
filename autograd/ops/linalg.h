// Differentiable matrix products: matmul (torch.matmul) and linear (a dense layer's x W^T + b).
// Both run on kernels::matmul (OpenBLAS on CPU) and read transposed or sliced views in place.
#pragma once

#include "tensor/tensor.h"

namespace gradstack {

// a @ b with torch.matmul's rules:
//   1-d @ 1-d          -> 0-d dot product
//   [M, K] @ [K, N]    -> [M, N]
//   [K] @ [..., K, N]  -> [..., N]       (a read as [1, K], the 1 removed)
//   [..., M, K] @ [K]  -> [..., M]       (b read as [K, 1], the 1 removed)
//   [..., M, K] @ [..., K, N] -> [batch..., M, N], batch dims broadcast: [B, 1, M, K] @ [H, K, N]
//                                 -> [B, H, M, N]
// float32 and float64 (both operands alike). Throws gradstack::Error for a 0-d operand, a dtype
// mismatch, int64/bool, and mismatched sizes, naming both shapes:
// "[matmul] last dim of a (2, 3) must match dim -2 of b (4, 5)".
Tensor matmul(const Tensor& a, const Tensor& b);

// A dense layer: y = x @ weight^T + bias, with x [..., in], weight [out, in] (PyTorch's layout),
// bias [out] or undefined (no bias); y [..., out]. The bias is added by the GEMM itself.
// Throws for weight not 2-d, x.size(-1) != in, or a bias that is not [out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace gradstack
