// Differentiable elementwise ops: each forward is a raw kernel, its backward sits right below it.
// Gradients come back in the broadcast output shape; the engine sums them to each input's shape.
#include "autograd/ops/elementwise.h"

#include <cmath>
#include <numbers>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"

namespace gradstack {

Tensor scalar_like(const Tensor& t, double value) {
    return scalar_tensor(value, t.dtype(), t.device());
}

// y = a + b; dy/da = dy/db = 1.
const Op op_add{"add"};
Tensor add(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::binary(kernels::add, a, b);
    return record(op_add, {a, b}, y, [](const Tensor& gy) { return grads{gy, gy}; });
}

// y = a - b; dy/da = 1, dy/db = -1.
const Op op_sub{"sub"};
Tensor sub(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::binary(kernels::sub, a, b);
    return record(op_sub, {a, b}, y, [](const Tensor& gy) { return grads{gy, neg(gy)}; });
}

// y = a * b; dy/da = b, dy/db = a.
const Op op_mul{"mul"};
Tensor mul(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::binary(kernels::mul, a, b);
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    return record(op_mul, {a, b}, y, [a, b, need_a, need_b](const Tensor& gy) {
        return grads{need_a ? gy * b : Tensor(), need_b ? gy * a : Tensor()};
    });
}

// y = a / b; dy/da = 1/b, dy/db = -a/b^2 = -y/b.
const Op op_div{"div"};
Tensor div(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::binary(kernels::div, a, b);
    bool need_b = b.requires_grad();
    return record(op_div, {a, b}, y, [b, y, need_b](const Tensor& gy) {
        Tensor ga = gy / b;
        return grads{ga, need_b ? neg(ga * y) : Tensor()};
    });
}

// y = a^b; dy/da = b a^(b-1), dy/db = y log(a).
const Op op_pow{"pow"};
Tensor pow(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::binary(kernels::pow, a, b);
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    return record(op_pow, {a, b}, y, [a, b, y, need_a, need_b](const Tensor& gy) {
        return grads{need_a ? gy * b * pow(a, b - 1.0) : Tensor(),
                     need_b ? gy * y * log(a) : Tensor()};
    });
}
Tensor pow(const Tensor& a, double exponent) { return pow(a, scalar_like(a, exponent)); }

// y = max(a, b); the gradient goes to a where a >= b, else to b (ties go to a).
const Op op_maximum{"maximum"};
Tensor maximum(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::binary(kernels::maximum, a, b);
    return record(op_maximum, {a, b}, y, [a, b](const Tensor& gy) {
        Tensor take_a = ge(a, b), zero = scalar_like(gy, 0);
        return grads{where(take_a, gy, zero), where(take_a, zero, gy)};
    });
}

// y = min(a, b); the gradient goes to a where a <= b, else to b.
const Op op_minimum{"minimum"};
Tensor minimum(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::binary(kernels::minimum, a, b);
    return record(op_minimum, {a, b}, y, [a, b](const Tensor& gy) {
        Tensor take_a = le(a, b), zero = scalar_like(gy, 0);
        return grads{where(take_a, gy, zero), where(take_a, zero, gy)};
    });
}

// y = -x; dy/dx = -1.
const Op op_neg{"neg"};
Tensor neg(const Tensor& x) {
    Tensor y = kernels::unary(kernels::neg, x);
    return record(op_neg, {x}, y, [](const Tensor& gy) { return grads{neg(gy)}; });
}

// y = exp(x); dy/dx = y, so the backward reuses the forward's output.
const Op op_exp{"exp"};
Tensor exp(const Tensor& x) {
    Tensor y = kernels::unary(kernels::exp, x);
    return record(op_exp, {x}, y, [y](const Tensor& gy) { return grads{gy * y}; });
}

// y = log(x); dy/dx = 1/x.
const Op op_log{"log"};
Tensor log(const Tensor& x) {
    Tensor y = kernels::unary(kernels::log, x);
    return record(op_log, {x}, y, [x](const Tensor& gy) { return grads{gy / x}; });
}

// y = sqrt(x); dy/dx = 1 / (2 y).
const Op op_sqrt{"sqrt"};
Tensor sqrt(const Tensor& x) {
    Tensor y = kernels::unary(kernels::sqrt, x);
    return record(op_sqrt, {x}, y, [y](const Tensor& gy) { return grads{gy / (2.0 * y)}; });
}

// y = x^(-1/2); dy/dx = -1/2 x^(-3/2) = -y^3 / 2.
const Op op_rsqrt{"rsqrt"};
Tensor rsqrt(const Tensor& x) {
    Tensor y = kernels::unary(kernels::rsqrt, x);
    return record(op_rsqrt, {x}, y,
                  [y](const Tensor& gy) { return grads{gy * y * y * y * -0.5}; });
}

// y = tanh(x); dy/dx = 1 - y^2.
const Op op_tanh{"tanh"};
Tensor tanh(const Tensor& x) {
    Tensor y = kernels::unary(kernels::tanh, x);
    return record(op_tanh, {x}, y, [y](const Tensor& gy) { return grads{gy * (1.0 - y * y)}; });
}

// y = 1 / (1 + exp(-x)); dy/dx = y (1 - y).
const Op op_sigmoid{"sigmoid"};
Tensor sigmoid(const Tensor& x) {
    Tensor y = kernels::unary(kernels::sigmoid, x);
    return record(op_sigmoid, {x}, y, [y](const Tensor& gy) { return grads{gy * y * (1.0 - y)}; });
}

// y = max(x, 0); dy/dx = 1 where x > 0, else 0.
const Op op_relu{"relu"};
Tensor relu(const Tensor& x) {
    Tensor y = kernels::unary(kernels::relu, x);
    return record(op_relu, {x}, y, [y](const Tensor& gy) {
        return grads{where(gt(y, scalar_like(y, 0)), gy, scalar_like(gy, 0))};
    });
}

// y = |x|; dy/dx = sign(x) (0 at 0, like PyTorch).
const Op op_abs{"abs"};
Tensor abs(const Tensor& x) {
    Tensor y = kernels::unary(kernels::abs, x);
    return record(op_abs, {x}, y, [x](const Tensor& gy) { return grads{gy * sign(x)}; });
}

Tensor sign(const Tensor& x) { return kernels::unary(kernels::sign, x); }

// gelu_new, fused: the backward kernel computes gy * gelu'(x) in one pass (see cpu/elementwise).
const Op op_gelu{"gelu"};
Tensor gelu(const Tensor& x) {
    Tensor y = kernels::unary(kernels::gelu, x);
    return record(op_gelu, {x}, y, [x](const Tensor& gy) {
        return grads{kernels::binary(kernels::gelu_backward, gy, x)};
    });
}

// y = clamp(x, lo, hi); the gradient passes where x is inside [lo, hi].
const Op op_clamp{"clamp"};
Tensor clamp(const Tensor& x, double lo, double hi) {
    check(lo <= hi, "[clamp] lo {} must be <= hi {}", lo, hi);
    Tensor y = empty_like(x);
    kernels::clamp(y, x, lo, hi);
    return record(op_clamp, {x}, y, [x, lo, hi](const Tensor& gy) {
        Tensor inside = kernels::binary(kernels::mul, ge(x, scalar_like(x, lo)),
                                        le(x, scalar_like(x, hi)));  // bool and
        return grads{where(inside, gy, scalar_like(gy, 0))};
    });
}

// y = c ? a : b; the gradient goes to a where c, to b elsewhere; c gets none.
const Op op_where{"where"};
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
    check(condition.dtype() == DType::b8, "[where] condition must be bool, got {}",
          condition.dtype());
    check(a.dtype() == b.dtype(), "[where] a is {} but b is {}", a.dtype(), b.dtype());
    Shape shape = broadcast_shapes(broadcast_shapes(condition.shape(), a.shape(), "where"),
                                   b.shape(), "where");
    Tensor y = empty(shape, a.dtype(), a.device());
    kernels::where(y, condition, a, b);
    return record(op_where, {condition, a, b}, y, [condition](const Tensor& gy) {
        Tensor zero = scalar_like(gy, 0);
        return grads{Tensor(), where(condition, gy, zero), where(condition, zero, gy)};
    });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
    return where(mask, scalar_like(x, value), x);
}

Tensor eq(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::comparison_output(a, b, "eq");
    kernels::eq(y, a, b);
    return y;
}
Tensor ne(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::comparison_output(a, b, "ne");
    kernels::ne(y, a, b);
    return y;
}
Tensor lt(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::comparison_output(a, b, "lt");
    kernels::lt(y, a, b);
    return y;
}
Tensor le(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::comparison_output(a, b, "le");
    kernels::le(y, a, b);
    return y;
}
Tensor gt(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::comparison_output(a, b, "gt");
    kernels::gt(y, a, b);
    return y;
}
Tensor ge(const Tensor& a, const Tensor& b) {
    Tensor y = kernels::comparison_output(a, b, "ge");
    kernels::ge(y, a, b);
    return y;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }

// --- in-place updates

namespace {
void check_inplace(const Tensor& x, const char* op) {
    check(!(is_grad_enabled() && x.requires_grad()),
          "[{}] in-place write to a tensor of shape {} that requires grad while grad mode is on; "
          "wrap the update in a NoGradGuard",
          op, shape_str(x.shape()));
}
}  // namespace

Tensor& add_(Tensor& x, const Tensor& other, double alpha) {
    check_inplace(x, "add_");
    Tensor scaled = alpha == 1 ? other : kernels::binary(kernels::mul, other, scalar_like(other, alpha));
    check(broadcast_shapes(x.shape(), scaled.shape(), "add_") == x.shape(),
          "[add_] {} does not broadcast to {}", shape_str(other.shape()), shape_str(x.shape()));
    kernels::add(x, x, scaled);
    x.storage()->bump_version();
    return x;
}

Tensor& mul_(Tensor& x, const Tensor& other) {
    check_inplace(x, "mul_");
    check(broadcast_shapes(x.shape(), other.shape(), "mul_") == x.shape(),
          "[mul_] {} does not broadcast to {}", shape_str(other.shape()), shape_str(x.shape()));
    kernels::mul(x, x, other);
    x.storage()->bump_version();
    return x;
}

Tensor& mul_(Tensor& x, double value) { return mul_(x, scalar_like(x, value)); }

Tensor& fill_(Tensor& x, double value) {
    check_inplace(x, "fill_");
    kernels::fill_(x, value);
    return x;
}

Tensor& zero_(Tensor& x) { return fill_(x, 0); }

Tensor& copy_(Tensor& x, const Tensor& src) {
    check_inplace(x, "copy_");
    kernels::copy_(x, src);
    return x;
}

Tensor& clamp_(Tensor& x, double lo, double hi) {
    check_inplace(x, "clamp_");
    kernels::clamp(x, x, lo, hi);
    x.storage()->bump_version();
    return x;
}

}  // namespace gradstack
