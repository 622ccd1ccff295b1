// Launchers of the elementwise kernels (elementwise.cu), called from ../elementwise.cpp: unary
// maths, binary arithmetic and comparisons, where, clamp, and three index ops that are
// elementwise in shape (triu / tril, one_hot). The host side has checked devices, dtypes and
// shapes; every operand is described over the output's iteration (inputs broadcast, stride 0).
// Read next: elementwise.cu.
#pragma once

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// out = f(x), out and x of one dtype: float32 / float64, and int64 for neg, abs, sign, relu.
enum class UnaryOp : uint8_t { neg, abs, sign, relu, exp, log, sqrt, rsqrt, tanh, sigmoid, gelu };
void launch_unary(UnaryOp op, const IterShape& it, const Operand& out, const Operand& x,
                  cudaStream_t stream);

// out = clamp(x, lo, hi) for float32, float64 and int64 (compared in double, as the CPU does).
void launch_clamp(const IterShape& it, const Operand& out, const Operand& x, double lo, double hi,
                  cudaStream_t stream);

// out = f(a, b). Arithmetic: out has a's dtype (add, mul: all four; sub, maximum, minimum: not
// bool; div, pow: float only). gelu_backward: out = a gelu'(b) (a = gy, b = x), float only.
// Comparisons (eq ... ge): out is bool, a and b any one dtype.
enum class BinaryOp : uint8_t {
    add,
    sub,
    mul,
    div,
    pow,
    maximum,
    minimum,
    gelu_backward,
    eq,
    ne,
    lt,
    le,
    gt,
    ge
};
void launch_binary(BinaryOp op, const IterShape& it, const Operand& out, const Operand& a,
                   const Operand& b, cudaStream_t stream);

// out = condition ? a : b; condition bool, out / a / b any one dtype.
void launch_where(const IterShape& it, const Operand& out, const Operand& condition,
                  const Operand& a, const Operand& b, cudaStream_t stream);

// triu (upper) / tril over the last two dims (rows, cols) of the iteration's C order: element
// (..., i, j) is kept where j - i >= diagonal (triu) or j - i <= diagonal (tril), else 0.
void launch_triangle(const IterShape& it, const Operand& out, const Operand& x, int64_t rows,
                     int64_t cols, int64_t diagonal, bool upper, cudaStream_t stream);

// one_hot, step 1: scans the int64 ids (iteration `it` over ids' shape) for ids outside
// [0, classes). `flag` is 2 int64 of device memory: afterwards flag[0] is the C-order position of
// the first bad id (-1 when there is none) and flag[1] its value.
void launch_one_hot_check(const IterShape& it, const Operand& ids, int64_t classes, int64_t* flag,
                          cudaStream_t stream);
// one_hot, step 2: out (int64, iteration `out_it` over ids.shape + [classes]) = 1 where the last
// index equals the id, else 0. ids is described by `ids_it` over its own shape.
void launch_one_hot(const IterShape& out_it, const Operand& out, const IterShape& ids_it,
                    const Operand& ids, int64_t classes, cudaStream_t stream);

}  // namespace gradstack::cuda
