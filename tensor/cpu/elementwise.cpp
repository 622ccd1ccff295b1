// CPU elementwise kernels: each is one `map` (cpu/loops.h) with the scalar formula; all of them
// are registered for DeviceType::cpu together, in the table at the end of the file.
// Read next, the reference twin: reference/elementwise.cpp (gelu and gelu_backward; the other
// kernels here are plain loops already), the same math as plain float64 loops;
// GRADSTACK_KERNELS=reference runs it instead (tensor/dispatch.h).
#include <cmath>

#include "tensor/cpu/loops.h"
#include "tensor/cpu/row_math.h"
#include "tensor/kernels/elementwise.h"

namespace gradstack::cpu {
namespace {

using kernels::UnaryKernel;

// out = f(x) for the floating dtypes; `op` names the kernel in dtype errors.
template <class F>
void unary_float(const Tensor& out, const Tensor& x, std::string_view op, F f) {
    check(x.dtype() == out.dtype(), "[{}] input {} but output {}", op, x.dtype(), out.dtype());
    visit_floating(x.dtype(), op, [&]<class T>() { map<T, T>(out, [&](T v) { return f(v); }, x); });
}

// out = f(x) for floating dtypes and int64.
template <class F>
void unary_numeric(const Tensor& out, const Tensor& x, std::string_view op, F f) {
    check(x.dtype() == out.dtype(), "[{}] input {} but output {}", op, x.dtype(), out.dtype());
    visit_numeric(x.dtype(), op, [&]<class T>() { map<T, T>(out, [&](T v) { return f(v); }, x); });
}

void neg_cpu(const Tensor& o, const Tensor& x) { unary_numeric(o, x, "neg", [](auto v) { return -v; }); }
void abs_cpu(const Tensor& o, const Tensor& x) {
    unary_numeric(o, x, "abs", [](auto v) { return v < 0 ? -v : v; });
}
void sign_cpu(const Tensor& o, const Tensor& x) {
    unary_numeric(o, x, "sign", [](auto v) { return static_cast<decltype(v)>((v > 0) - (v < 0)); });
}
void exp_cpu(const Tensor& o, const Tensor& x) { unary_float(o, x, "exp", [](auto v) { return std::exp(v); }); }
void log_cpu(const Tensor& o, const Tensor& x) { unary_float(o, x, "log", [](auto v) { return std::log(v); }); }
void sqrt_cpu(const Tensor& o, const Tensor& x) {
    unary_float(o, x, "sqrt", [](auto v) { return std::sqrt(v); });
}
void rsqrt_cpu(const Tensor& o, const Tensor& x) {
    unary_float(o, x, "rsqrt", [](auto v) { return decltype(v)(1) / std::sqrt(v); });
}
void tanh_cpu(const Tensor& o, const Tensor& x) {
    unary_float(o, x, "tanh", [](auto v) { return std::tanh(v); });
}
void sigmoid_cpu(const Tensor& o, const Tensor& x) {
    unary_float(o, x, "sigmoid", [](auto v) {
        using T = decltype(v);
        // Two branches so that exp never overflows.
        if (v >= 0) return T(1) / (T(1) + std::exp(-v));
        T e = std::exp(v);
        return e / (T(1) + e);
    });
}
void relu_cpu(const Tensor& o, const Tensor& x) {
    unary_numeric(o, x, "relu", [](auto v) { return v > 0 ? v : decltype(v)(0); });
}

// gelu_new(x) = 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3), c = sqrt(2/pi).
// For float32 it is evaluated as x sigmoid(2u) = x / (1 + exp(-2u)), the same function since
// 0.5 (1 + tanh u) = sigmoid(2u), through the vectorisable exp_f32 (cpu/row_math.h): libm's tanhf
// is a scalar call, and it made GELU 15% of a GPT-2 prompt forward (measured with perf, 128
// tokens). The sigmoid form also has no cancellation where tanh u is near -1. Double keeps libm's
// tanh (it serves the float64 gradient checks, where accuracy is the point).
constexpr double kGeluC = 0.7978845608028654;
constexpr double kGeluA = 0.044715;
inline float gelu_sigmoid_f32(float v) {  // sigmoid(2u) for x = v
    const float u = static_cast<float>(kGeluC) * (v + static_cast<float>(kGeluA) * v * v * v);
    return 1.0f / (1.0f + exp_f32(-2.0f * u));
}
void gelu_cpu(const Tensor& o, const Tensor& x) {
    check(x.dtype() == o.dtype(), "[gelu] input {} but output {}", x.dtype(), o.dtype());
    if (x.dtype() == DType::f32)
        return map<float, float>(o, [](float v) { return v * gelu_sigmoid_f32(v); }, x);
    unary_float(o, x, "gelu", [](auto v) {
        using T = decltype(v);
        T u = T(kGeluC) * (v + T(kGeluA) * v * v * v);
        return T(0.5) * v * (T(1) + std::tanh(u));
    });
}
// d/dx gelu_new = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) c (1 + 3 a x^2). With s = sigmoid(2u)
// (float32, as above): 1 + tanh u = 2s and 1 - tanh^2 u = 4 s (1 - s), so it is
// s + 2 x s (1 - s) du.
void gelu_backward_cpu(const Tensor& o, const Tensor& gy, const Tensor& x) {
    if (x.dtype() == DType::f32 && gy.dtype() == DType::f32 && o.dtype() == DType::f32) {
        return map<float, float, float>(o, [](float g, float v) {
            const float s = gelu_sigmoid_f32(v);
            const float du = static_cast<float>(kGeluC) * (1.0f + static_cast<float>(3 * kGeluA) * v * v);
            return g * (s + 2.0f * v * s * (1.0f - s) * du);
        }, gy, x);
    }
    visit_floating(x.dtype(), "gelu_backward", [&]<class T>() {
        map<T, T, T>(o, [](T g, T v) {
            T t = std::tanh(T(kGeluC) * (v + T(kGeluA) * v * v * v));
            T du = T(kGeluC) * (T(1) + T(3 * kGeluA) * v * v);
            return g * (T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * du);
        }, gy, x);
    });
}

// out = f(a, b) with out of the inputs' dtype; `Visit` picks the allowed dtypes.
template <class F>
void binary_same(const Tensor& out, const Tensor& a, const Tensor& b, std::string_view op,
                 bool allow_int, bool allow_bool, F f) {
    check(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "[{}] dtype mismatch: {}, {} -> {}",
          op, a.dtype(), b.dtype(), out.dtype());
    auto body = [&]<class T>() {
        map<T, T, T>(out, [&](T x, T y) { return static_cast<T>(f(x, y)); }, a, b);
    };
    if (a.dtype() == DType::b8 && allow_bool) return body.template operator()<bool>();
    if (a.dtype() == DType::i64 && allow_int) return body.template operator()<int64_t>();
    visit_floating(a.dtype(), op, body);
}

// out (bool) = f(a, b).
template <class F>
void compare(const Tensor& out, const Tensor& a, const Tensor& b, std::string_view op, F f) {
    check(a.dtype() == b.dtype() && out.dtype() == DType::b8, "[{}] dtype mismatch: {}, {} -> {}",
          op, a.dtype(), b.dtype(), out.dtype());
    visit_dtype(a.dtype(), [&]<class T>() {
        map<bool, T, T>(out, [&](T x, T y) { return f(x, y); }, a, b);
    });
}

void add_cpu(const Tensor& o, const Tensor& a, const Tensor& b) {
    binary_same(o, a, b, "add", true, true, [](auto x, auto y) { return x + y; });
}
void sub_cpu(const Tensor& o, const Tensor& a, const Tensor& b) {
    binary_same(o, a, b, "sub", true, false, [](auto x, auto y) { return x - y; });
}
void mul_cpu(const Tensor& o, const Tensor& a, const Tensor& b) {
    binary_same(o, a, b, "mul", true, true, [](auto x, auto y) { return x * y; });
}
void div_cpu(const Tensor& o, const Tensor& a, const Tensor& b) {
    binary_same(o, a, b, "div", false, false, [](auto x, auto y) { return x / y; });
}
void pow_cpu(const Tensor& o, const Tensor& a, const Tensor& b) {
    binary_same(o, a, b, "pow", false, false, [](auto x, auto y) {
        using T = decltype(x);
        return y == T(2) ? x * x : static_cast<T>(std::pow(x, y));  // exact square
    });
}
void maximum_cpu(const Tensor& o, const Tensor& a, const Tensor& b) {
    binary_same(o, a, b, "maximum", true, false, [](auto x, auto y) { return x != x ? x : (x > y ? x : y); });
}
void minimum_cpu(const Tensor& o, const Tensor& a, const Tensor& b) {
    binary_same(o, a, b, "minimum", true, false, [](auto x, auto y) { return x != x ? x : (x < y ? x : y); });
}
void eq_cpu(const Tensor& o, const Tensor& a, const Tensor& b) { compare(o, a, b, "eq", [](auto x, auto y) { return x == y; }); }
void ne_cpu(const Tensor& o, const Tensor& a, const Tensor& b) { compare(o, a, b, "ne", [](auto x, auto y) { return x != y; }); }
void lt_cpu(const Tensor& o, const Tensor& a, const Tensor& b) { compare(o, a, b, "lt", [](auto x, auto y) { return x < y; }); }
void le_cpu(const Tensor& o, const Tensor& a, const Tensor& b) { compare(o, a, b, "le", [](auto x, auto y) { return x <= y; }); }
void gt_cpu(const Tensor& o, const Tensor& a, const Tensor& b) { compare(o, a, b, "gt", [](auto x, auto y) { return x > y; }); }
void ge_cpu(const Tensor& o, const Tensor& a, const Tensor& b) { compare(o, a, b, "ge", [](auto x, auto y) { return x >= y; }); }

void where_cpu(const Tensor& o, const Tensor& c, const Tensor& a, const Tensor& b) {
    check(c.dtype() == DType::b8, "[where] condition must be bool, got {}", c.dtype());
    check(a.dtype() == b.dtype() && a.dtype() == o.dtype(), "[where] dtype mismatch: {} and {}",
          a.dtype(), b.dtype());
    visit_dtype(a.dtype(), [&]<class T>() {
        map<T, bool, T, T>(o, [](bool k, T x, T y) { return k ? x : y; }, c, a, b);
    });
}

void clamp_cpu(const Tensor& o, const Tensor& x, double lo, double hi) {
    visit_numeric(x.dtype(), "clamp", [&]<class T>() {
        map<T, T>(o, [=](T v) {
            // NaN stays NaN, like torch.clamp.
            if (static_cast<double>(v) < lo) return static_cast<T>(lo);
            if (static_cast<double>(v) > hi) return static_cast<T>(hi);
            return v;
        }, x);
    });
}

}  // namespace

const bool neg_on_cpu = kernels::neg.set(DeviceType::cpu, &neg_cpu);
const bool abs_on_cpu = kernels::abs.set(DeviceType::cpu, &abs_cpu);
const bool sign_on_cpu = kernels::sign.set(DeviceType::cpu, &sign_cpu);
const bool exp_on_cpu = kernels::exp.set(DeviceType::cpu, &exp_cpu);
const bool log_on_cpu = kernels::log.set(DeviceType::cpu, &log_cpu);
const bool sqrt_on_cpu = kernels::sqrt.set(DeviceType::cpu, &sqrt_cpu);
const bool rsqrt_on_cpu = kernels::rsqrt.set(DeviceType::cpu, &rsqrt_cpu);
const bool tanh_on_cpu = kernels::tanh.set(DeviceType::cpu, &tanh_cpu);
const bool sigmoid_on_cpu = kernels::sigmoid.set(DeviceType::cpu, &sigmoid_cpu);
const bool relu_on_cpu = kernels::relu.set(DeviceType::cpu, &relu_cpu);
const bool gelu_on_cpu = kernels::gelu.set(DeviceType::cpu, &gelu_cpu);
const bool gelu_backward_on_cpu = kernels::gelu_backward.set(DeviceType::cpu, &gelu_backward_cpu);
const bool add_on_cpu = kernels::add.set(DeviceType::cpu, &add_cpu);
const bool sub_on_cpu = kernels::sub.set(DeviceType::cpu, &sub_cpu);
const bool mul_on_cpu = kernels::mul.set(DeviceType::cpu, &mul_cpu);
const bool div_on_cpu = kernels::div.set(DeviceType::cpu, &div_cpu);
const bool pow_on_cpu = kernels::pow.set(DeviceType::cpu, &pow_cpu);
const bool maximum_on_cpu = kernels::maximum.set(DeviceType::cpu, &maximum_cpu);
const bool minimum_on_cpu = kernels::minimum.set(DeviceType::cpu, &minimum_cpu);
const bool eq_on_cpu = kernels::eq.set(DeviceType::cpu, &eq_cpu);
const bool ne_on_cpu = kernels::ne.set(DeviceType::cpu, &ne_cpu);
const bool lt_on_cpu = kernels::lt.set(DeviceType::cpu, &lt_cpu);
const bool le_on_cpu = kernels::le.set(DeviceType::cpu, &le_cpu);
const bool gt_on_cpu = kernels::gt.set(DeviceType::cpu, &gt_cpu);
const bool ge_on_cpu = kernels::ge.set(DeviceType::cpu, &ge_cpu);
const bool where_on_cpu = kernels::where.set(DeviceType::cpu, &where_cpu);
const bool clamp_on_cpu = kernels::clamp.set(DeviceType::cpu, &clamp_cpu);

}  // namespace gradstack::cpu
