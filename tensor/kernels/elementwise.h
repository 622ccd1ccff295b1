// Raw elementwise kernels. Each writes into a caller-provided `out` (same shape as the broadcast
// inputs), so one kernel serves y = f(x) (fresh out), in-place x.f_() (out = x) and fused updates.
// Inputs of binary ops broadcast by NumPy rules; dtypes must match (no implicit promotion).
// Read next: cpu/elementwise.cpp for the CPU versions (reference/elementwise.cpp: gelu's plain
// twin), autograd/ops/elementwise.cpp for gradients.
#pragma once

#include "tensor/dispatch.h"

namespace gradstack::kernels {

using UnaryKernel = Dispatcher<void(const Tensor& out, const Tensor& x)>;
using BinaryKernel = Dispatcher<void(const Tensor& out, const Tensor& a, const Tensor& b)>;

// Unary maths (float dtypes; neg and abs also int64).
inline constinit UnaryKernel neg{"neg"};
inline constinit UnaryKernel exp{"exp"};
inline constinit UnaryKernel log{"log"};
inline constinit UnaryKernel sqrt{"sqrt"};
inline constinit UnaryKernel rsqrt{"rsqrt"};
inline constinit UnaryKernel tanh{"tanh"};
inline constinit UnaryKernel sigmoid{"sigmoid"};
inline constinit UnaryKernel relu{"relu"};
inline constinit UnaryKernel abs{"abs"};
inline constinit UnaryKernel sign{"sign"};
// GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), and its derivative
// written into out: gelu_backward(out, gy, x) gives gy * gelu'(x).
inline constinit UnaryKernel gelu{"gelu"};
inline constinit BinaryKernel gelu_backward{"gelu_backward"};

// Binary arithmetic (all dtypes but bool for div/pow).
inline constinit BinaryKernel add{"add"};
inline constinit BinaryKernel sub{"sub"};
inline constinit BinaryKernel mul{"mul"};
inline constinit BinaryKernel div{"div"};
inline constinit BinaryKernel pow{"pow"};
inline constinit BinaryKernel maximum{"maximum"};
inline constinit BinaryKernel minimum{"minimum"};

// Comparisons: out is bool.
inline constinit BinaryKernel eq{"eq"};
inline constinit BinaryKernel ne{"ne"};
inline constinit BinaryKernel lt{"lt"};
inline constinit BinaryKernel le{"le"};
inline constinit BinaryKernel gt{"gt"};
inline constinit BinaryKernel ge{"ge"};

// out = condition ? a : b (condition bool, broadcast with a and b).
inline constinit Dispatcher<void(const Tensor& out, const Tensor& condition, const Tensor& a,
                                 const Tensor& b)>
    where{"where"};
// out = clamp(x, lo, hi); either bound may be -inf / +inf.
inline constinit Dispatcher<void(const Tensor& out, const Tensor& x, double lo, double hi)> clamp{
    "clamp"};

// Shape and dtype checks shared by every backend, then a fresh output for the result.
// Checks a and b have the same dtype and broadcastable shapes; `out_dtype` defaults to theirs.
Tensor binary_output(const Tensor& a, const Tensor& b, std::string_view op);
Tensor comparison_output(const Tensor& a, const Tensor& b, std::string_view op);

// y = kernel(x) / y = kernel(a, b) into a fresh tensor.
Tensor unary(const UnaryKernel& kernel, const Tensor& x);
Tensor binary(const BinaryKernel& kernel, const Tensor& a, const Tensor& b);

}  // namespace gradstack::kernels
