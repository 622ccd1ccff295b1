// Differentiable elementwise ops: the public API (gradstack::exp(x), a + b, ...). Binary ops
// broadcast by NumPy rules; both inputs must have the same dtype, and a plain number takes the
// tensor's dtype. Comparisons return bool tensors and have no gradient.
#pragma once

#include "tensor/tensor.h"

namespace gradstack {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);  // a ** b, a > 0 where b is not an integer
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient to a where a >= b
Tensor minimum(const Tensor& a, const Tensor& b);  // gradient to a where a <= b

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor abs(const Tensor& x);   // gradient sign(x), 0 at 0
Tensor sign(const Tensor& x);  // no gradient (zero almost everywhere)
// GPT-2's gelu_new (tanh approximation), fused forward and backward.
Tensor gelu(const Tensor& x);
// Elementwise clamp to [lo, hi]; the gradient passes where lo <= x <= hi.
Tensor clamp(const Tensor& x, double lo, double hi);

// condition ? a : b. condition is bool; all three broadcast.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
// x with value where mask is true (mask bool, broadcast to x).
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// A 0-d tensor of `value` with t's dtype and device, for mixing numbers into ops.
Tensor scalar_like(const Tensor& t, double value);

// Operators. A number on either side takes the tensor's dtype.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);

// In-place updates for optimizers and buffers. They bump the storage version (so autograd sees
// the write) and refuse a tensor that requires grad while grad mode is on.
Tensor& add_(Tensor& x, const Tensor& other, double alpha = 1);  // x += alpha * other
Tensor& mul_(Tensor& x, const Tensor& other);
Tensor& mul_(Tensor& x, double value);
Tensor& fill_(Tensor& x, double value);
Tensor& zero_(Tensor& x);
Tensor& copy_(Tensor& x, const Tensor& src);  // src broadcast to x, converted to x's dtype
Tensor& clamp_(Tensor& x, double lo, double hi);

}  // namespace gradstack
