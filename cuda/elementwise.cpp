// The elementwise kernels on CUDA tensors (kernels/elementwise.cu), plus triu / tril and one_hot:
// each checks dtypes exactly as tensor/cpu/elementwise.cpp (or cpu/index.cpp) does, with the same
// messages, builds the iteration over out's shape (inputs broadcast) and launches one kernel.
// Read next: kernels/elementwise.cu for the formulas, then the reduce family.
#include "cuda/kernels/elementwise.h"

#include <algorithm>

#include "cuda/launch.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/index.h"

namespace gradstack::cuda {

namespace {

// The CPU's errors for a dtype an op does not take, word for word: visit_floating and
// visit_numeric (tensor/dtype.h) throw naming the op, and do nothing here otherwise.
void require_floating(DType dtype, std::string_view op) {
    visit_floating(dtype, op, []<class>() {});
}
void require_numeric(DType dtype, std::string_view op) {
    visit_numeric(dtype, op, []<class>() {});
}

// --- unary: out = f(x), out of x's dtype. `with_int`: int64 is allowed too (neg, abs, ...).

void unary_cuda(UnaryOp op, std::string_view name, bool with_int, const Tensor& out,
                const Tensor& x) {
    check(x.dtype() == out.dtype(), "[{}] input {} but output {}", name, x.dtype(), out.dtype());
    if (with_int)
        require_numeric(x.dtype(), name);
    else
        require_floating(x.dtype(), name);
    Launch launch(name, {out, x});
    const Iteration it = iteration(out.shape(), {out, x});
    launch_unary(op, it.shape, it.operands[0], it.operands[1], launch.stream());
    launch.check("unary_kernel");
}

void neg_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::neg, "neg", true, o, x);
}
void abs_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::abs, "abs", true, o, x);
}
void sign_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::sign, "sign", true, o, x);
}
void relu_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::relu, "relu", true, o, x);
}
void exp_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::exp, "exp", false, o, x);
}
void log_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::log, "log", false, o, x);
}
void sqrt_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::sqrt, "sqrt", false, o, x);
}
void rsqrt_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::rsqrt, "rsqrt", false, o, x);
}
void tanh_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::tanh, "tanh", false, o, x);
}
void sigmoid_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::sigmoid, "sigmoid", false, o, x);
}
void gelu_cuda(const Tensor& o, const Tensor& x) {
    unary_cuda(UnaryOp::gelu, "gelu", false, o, x);
}

// out = clamp(x, lo, hi). The CPU takes out's dtype on trust; here it must match x's.
void clamp_cuda(const Tensor& out, const Tensor& x, double lo, double hi) {
    require_numeric(x.dtype(), "clamp");
    check(x.dtype() == out.dtype(), "[clamp] input {} but output {}", x.dtype(), out.dtype());
    Launch launch("clamp", {out, x});
    const Iteration it = iteration(out.shape(), {out, x});
    launch_clamp(it.shape, it.operands[0], it.operands[1], lo, hi, launch.stream());
    launch.check("unary_kernel");
}

// --- binary: out = f(a, b) over out's shape.

void run_binary(BinaryOp op, std::string_view name, const Tensor& out, const Tensor& a,
                const Tensor& b) {
    Launch launch(name, {out, a, b});
    const Iteration it = iteration(out.shape(), {out, a, b});
    launch_binary(op, it.shape, it.operands[0], it.operands[1], it.operands[2], launch.stream());
    launch.check("binary_kernel");
}

// Arithmetic: a, b and out of one dtype; the floating dtypes always, int64 and bool where allowed.
void arithmetic_cuda(BinaryOp op, std::string_view name, bool with_int, bool with_bool,
                     const Tensor& out, const Tensor& a, const Tensor& b) {
    check(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "[{}] dtype mismatch: {}, {} -> {}",
          name, a.dtype(), b.dtype(), out.dtype());
    const bool allowed =
        (a.dtype() == DType::i64 && with_int) || (a.dtype() == DType::b8 && with_bool);
    if (!allowed) require_floating(a.dtype(), name);
    run_binary(op, name, out, a, b);
}

void add_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    arithmetic_cuda(BinaryOp::add, "add", true, true, o, a, b);
}
void sub_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    arithmetic_cuda(BinaryOp::sub, "sub", true, false, o, a, b);
}
void mul_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    arithmetic_cuda(BinaryOp::mul, "mul", true, true, o, a, b);
}
void div_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    arithmetic_cuda(BinaryOp::div, "div", false, false, o, a, b);
}
void pow_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    arithmetic_cuda(BinaryOp::pow, "pow", false, false, o, a, b);
}
void maximum_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    arithmetic_cuda(BinaryOp::maximum, "maximum", true, false, o, a, b);
}
void minimum_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    arithmetic_cuda(BinaryOp::minimum, "minimum", true, false, o, a, b);
}

// out = gy gelu'(x). The CPU reads all three as x's dtype without checking them (its reference
// twin checks); here they must match, with the reference's message.
void gelu_backward_cuda(const Tensor& out, const Tensor& gy, const Tensor& x) {
    check(x.dtype() == out.dtype() && gy.dtype() == out.dtype(),
          "[gelu_backward] dtype mismatch: {}, {} -> {}", gy.dtype(), x.dtype(), out.dtype());
    require_floating(x.dtype(), "gelu_backward");
    run_binary(BinaryOp::gelu_backward, "gelu_backward", out, gy, x);
}

// Comparisons: a and b of any one dtype, out bool.
void compare_cuda(BinaryOp op, std::string_view name, const Tensor& out, const Tensor& a,
                  const Tensor& b) {
    check(a.dtype() == b.dtype() && out.dtype() == DType::b8, "[{}] dtype mismatch: {}, {} -> {}",
          name, a.dtype(), b.dtype(), out.dtype());
    run_binary(op, name, out, a, b);
}

void eq_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    compare_cuda(BinaryOp::eq, "eq", o, a, b);
}
void ne_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    compare_cuda(BinaryOp::ne, "ne", o, a, b);
}
void lt_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    compare_cuda(BinaryOp::lt, "lt", o, a, b);
}
void le_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    compare_cuda(BinaryOp::le, "le", o, a, b);
}
void gt_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    compare_cuda(BinaryOp::gt, "gt", o, a, b);
}
void ge_cuda(const Tensor& o, const Tensor& a, const Tensor& b) {
    compare_cuda(BinaryOp::ge, "ge", o, a, b);
}

// --- where: out = condition ? a : b, all three broadcast to out.

void where_cuda(const Tensor& out, const Tensor& condition, const Tensor& a, const Tensor& b) {
    check(condition.dtype() == DType::b8, "[where] condition must be bool, got {}",
          condition.dtype());
    check(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "[where] dtype mismatch: {} and {}",
          a.dtype(), b.dtype());
    Launch launch("where", {out, condition, a, b});
    const Iteration it = iteration(out.shape(), {out, condition, a, b});
    launch_where(it.shape, it.operands[0], it.operands[1], it.operands[2], it.operands[3],
                 launch.stream());
    launch.check("ternary_kernel");
}

// --- triu / tril over the last two dims (tensor/cpu/index.cpp's checks and messages).

void triangle_cuda(const Tensor& out, const Tensor& x, int64_t diagonal, bool upper) {
    const char* op = upper ? "triu" : "tril";
    check(x.dim() >= 2, "[{}] needs at least 2 dims, got shape {}", op, shape_str(x.shape()));
    check(out.shape() == x.shape() && out.dtype() == x.dtype(),
          "[{}] output is {} {}, expected {} {}", op, out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(x.shape()));
    const int64_t rows = x.shape()[x.dim() - 2], cols = x.shape()[x.dim() - 1];
    Launch launch(op, {out, x});
    const Iteration it = iteration(out.shape(), {out, x});
    launch_triangle(it.shape, it.operands[0], it.operands[1], rows, cols, diagonal, upper,
                    launch.stream());
    launch.check("triangle_kernel");
}

void triu_cuda(const Tensor& out, const Tensor& x, int64_t diagonal) {
    triangle_cuda(out, x, diagonal, true);
}
void tril_cuda(const Tensor& out, const Tensor& x, int64_t diagonal) {
    triangle_cuda(out, x, diagonal, false);
}

// --- one_hot: out (int64, ids.shape + [classes]). The ids are range-checked on the device first
// (the first bad one in C order and its value come back through a 2-element flag), so out is
// left untouched when the CPU's error is thrown, as on the CPU.

void one_hot_cuda(const Tensor& out, const Tensor& ids) {
    kernels::check_index_dtype(ids, "one_hot", "ids");
    check(out.dtype() == DType::i64 && out.dim() == ids.dim() + 1,
          "[one_hot] output is {} {}, expected int64 with one more dim than ids {}", out.dtype(),
          shape_str(out.shape()), shape_str(ids.shape()));
    check(std::equal(ids.shape().begin(), ids.shape().end(), out.shape().begin()),
          "[one_hot] output {} must be ids' shape {} plus the classes dim", shape_str(out.shape()),
          shape_str(ids.shape()));
    const int64_t classes = out.shape().back();
    Launch launch("one_hot", {out, ids});
    const Iteration ids_it = iteration(ids.shape(), {ids});
    if (ids.numel() > 0) {
        Tensor flag = empty({2}, DType::i64, ids.device());
        launch_one_hot_check(ids_it.shape, ids_it.operands[0], classes, flag.data<int64_t>(),
                             launch.stream());
        launch.check("one_hot_check_kernel");
        int64_t first_bad[2] = {-1, 0};  // position, value
        check_cuda(cudaMemcpyAsync(first_bad, flag.raw_data(), sizeof(first_bad),
                                   cudaMemcpyDeviceToHost, launch.stream()),
                   "cudaMemcpyAsync", "one_hot error flag");
        check_cuda(cudaStreamSynchronize(launch.stream()), "cudaStreamSynchronize", "one_hot");
        if (first_bad[0] >= 0)
            fail("[one_hot] index {} is out of range for dim {} of size {}", first_bad[1], 0,
                 classes);
    }
    const Iteration out_it = iteration(out.shape(), {out});
    launch_one_hot(out_it.shape, out_it.operands[0], ids_it.shape, ids_it.operands[0], classes,
                   launch.stream());
    launch.check("one_hot_kernel");
}

[[maybe_unused]] const bool neg_on_cuda = kernels::neg.set(DeviceType::cuda, &neg_cuda);
[[maybe_unused]] const bool abs_on_cuda = kernels::abs.set(DeviceType::cuda, &abs_cuda);
[[maybe_unused]] const bool sign_on_cuda = kernels::sign.set(DeviceType::cuda, &sign_cuda);
[[maybe_unused]] const bool exp_on_cuda = kernels::exp.set(DeviceType::cuda, &exp_cuda);
[[maybe_unused]] const bool log_on_cuda = kernels::log.set(DeviceType::cuda, &log_cuda);
[[maybe_unused]] const bool sqrt_on_cuda = kernels::sqrt.set(DeviceType::cuda, &sqrt_cuda);
[[maybe_unused]] const bool rsqrt_on_cuda = kernels::rsqrt.set(DeviceType::cuda, &rsqrt_cuda);
[[maybe_unused]] const bool tanh_on_cuda = kernels::tanh.set(DeviceType::cuda, &tanh_cuda);
[[maybe_unused]] const bool sigmoid_on_cuda = kernels::sigmoid.set(DeviceType::cuda, &sigmoid_cuda);
[[maybe_unused]] const bool relu_on_cuda = kernels::relu.set(DeviceType::cuda, &relu_cuda);
[[maybe_unused]] const bool gelu_on_cuda = kernels::gelu.set(DeviceType::cuda, &gelu_cuda);
[[maybe_unused]] const bool gelu_backward_on_cuda =
    kernels::gelu_backward.set(DeviceType::cuda, &gelu_backward_cuda);
[[maybe_unused]] const bool add_on_cuda = kernels::add.set(DeviceType::cuda, &add_cuda);
[[maybe_unused]] const bool sub_on_cuda = kernels::sub.set(DeviceType::cuda, &sub_cuda);
[[maybe_unused]] const bool mul_on_cuda = kernels::mul.set(DeviceType::cuda, &mul_cuda);
[[maybe_unused]] const bool div_on_cuda = kernels::div.set(DeviceType::cuda, &div_cuda);
[[maybe_unused]] const bool pow_on_cuda = kernels::pow.set(DeviceType::cuda, &pow_cuda);
[[maybe_unused]] const bool maximum_on_cuda = kernels::maximum.set(DeviceType::cuda, &maximum_cuda);
[[maybe_unused]] const bool minimum_on_cuda = kernels::minimum.set(DeviceType::cuda, &minimum_cuda);
[[maybe_unused]] const bool eq_on_cuda = kernels::eq.set(DeviceType::cuda, &eq_cuda);
[[maybe_unused]] const bool ne_on_cuda = kernels::ne.set(DeviceType::cuda, &ne_cuda);
[[maybe_unused]] const bool lt_on_cuda = kernels::lt.set(DeviceType::cuda, &lt_cuda);
[[maybe_unused]] const bool le_on_cuda = kernels::le.set(DeviceType::cuda, &le_cuda);
[[maybe_unused]] const bool gt_on_cuda = kernels::gt.set(DeviceType::cuda, &gt_cuda);
[[maybe_unused]] const bool ge_on_cuda = kernels::ge.set(DeviceType::cuda, &ge_cuda);
[[maybe_unused]] const bool where_on_cuda = kernels::where.set(DeviceType::cuda, &where_cuda);
[[maybe_unused]] const bool clamp_on_cuda = kernels::clamp.set(DeviceType::cuda, &clamp_cuda);
[[maybe_unused]] const bool triu_on_cuda = kernels::triu.set(DeviceType::cuda, &triu_cuda);
[[maybe_unused]] const bool tril_on_cuda = kernels::tril.set(DeviceType::cuda, &tril_cuda);
[[maybe_unused]] const bool one_hot_on_cuda = kernels::one_hot.set(DeviceType::cuda, &one_hot_cuda);

}  // namespace

}  // namespace gradstack::cuda
