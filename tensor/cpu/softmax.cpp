// CPU softmax and log_softmax, forward and backward, fused per row: one pass for the max, one
// that writes exp(x - max), one that sums it (in double, while the row is in cache), one that
// scales. Rows run in parallel.
// The row kernels want `dim` last and contiguous; any other layout is transposed into that form
// first and the result copied back (softmax over a non-last dim is rare in a transformer).
// Read next: cpu/row_math.h (the vectorisable exp), autograd/ops/nn.cpp (the differentiable op).
// Read next, the reference twin: reference/softmax.cpp (softmax and log_softmax, forward and
// backward), the same math as plain float64 loops; GRADSTACK_KERNELS=reference runs it instead
// (tensor/dispatch.h).
#include <array>
#include <cmath>

#include "tensor/cpu/row_math.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/nn.h"
#include "tensor/view.h"

namespace gradstack::cpu {
namespace {

// Calls rows_fn(out_ptr, {in_ptrs...}, rows, C) on C-order buffers in which `dim` is the last
// dim. Contiguous tensors reduced over their last dim are used as they are; otherwise every
// tensor is viewed with `dim` swapped with the last dim and made contiguous, and the result is
// copied back into `out` through the same swap.
template <class T, size_t N, class F>
void along_rows(const Tensor& out, const std::array<Tensor, N>& ins, int64_t dim, F rows_fn) {
    const int64_t last = out.dim() - 1;
    const bool swap = out.dim() > 0 && dim != last;
    auto as_rows = [&](const Tensor& t) {
        return kernels::contiguous(swap ? views::transpose(t, dim, last) : t);
    };
    std::array<Tensor, N> in_rows;
    std::array<const T*, N> in_ptrs;
    for (size_t k = 0; k < N; ++k) {
        in_rows[k] = as_rows(ins[k]);
        in_ptrs[k] = in_rows[k].template data<T>();
    }
    const Shape& row_shape = in_rows[0].shape();
    Tensor o = !swap && out.is_contiguous() ? out : empty(row_shape, out.dtype(), out.device());
    const int64_t C = out.dim() == 0 ? 1 : row_shape.back();
    const int64_t rows = C == 0 ? 0 : out.numel() / C;
    rows_fn(o.template data<T>(), in_ptrs, rows, C);
    if (!o.is_same(out)) kernels::copy(swap ? views::transpose(out, dim, last) : out, o);
}

// y = exp(x - max) / sum, the sum taken in double.
template <class T>
void softmax_rows(T* y, std::array<const T*, 1> in, int64_t rows, int64_t C) {
    parallel_rows(rows, C, [&](int64_t r) {
        const T* x = in[0] + r * C;
        T* yr = y + r * C;
        const T m = row_max(x, C);
        // Separate loops for the exps and the double sum: fused, they vectorise at half width.
        for (int64_t i = 0; i < C; ++i) yr[i] = exp_of(x[i] - m);
        const T inv = static_cast<T>(1.0 / row_sum(yr, C));
#pragma omp simd
        for (int64_t i = 0; i < C; ++i) yr[i] *= inv;
    });
}

// y = (x - max) - log(sum exp(x - max)). The two subtractions stay separate: folding them into
// x - lse would round lse to float first and, for logits near 1000, lose 5 digits.
template <class T>
void log_softmax_rows(T* y, std::array<const T*, 1> in, int64_t rows, int64_t C) {
    parallel_rows(rows, C, [&](int64_t r) {
        const T* x = in[0] + r * C;
        T* yr = y + r * C;
        const T m = row_max(x, C);
        const T log_s = static_cast<T>(std::log(row_sum_exp(x, C, m)));
#pragma omp simd
        for (int64_t i = 0; i < C; ++i) yr[i] = (x[i] - m) - log_s;
    });
}

// Softmax backward. With y = softmax(x), dy_i/dx_j = y_i (delta_ij - y_j), so
//   gx_j = sum_i gy_i y_i (delta_ij - y_j) = y_j (gy_j - sum_i gy_i y_i).
template <class T>
void softmax_backward_rows(T* gx, std::array<const T*, 2> in, int64_t rows, int64_t C) {
    parallel_rows(rows, C, [&](int64_t r) {
        const T* gy = in[0] + r * C;
        const T* y = in[1] + r * C;
        T* g = gx + r * C;
        double dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t i = 0; i < C; ++i) dot += static_cast<double>(gy[i] * y[i]);
        const T d = static_cast<T>(dot);
#pragma omp simd
        for (int64_t i = 0; i < C; ++i) g[i] = y[i] * (gy[i] - d);
    });
}

// Log-softmax backward. With y = log_softmax(x), dy_i/dx_j = delta_ij - softmax_j, so
//   gx_j = gy_j - softmax_j sum_i gy_i, and softmax_j = exp(y_j).
template <class T>
void log_softmax_backward_rows(T* gx, std::array<const T*, 2> in, int64_t rows, int64_t C) {
    parallel_rows(rows, C, [&](int64_t r) {
        const T* gy = in[0] + r * C;
        const T* y = in[1] + r * C;
        T* g = gx + r * C;
        const T s = static_cast<T>(row_sum(gy, C));
#pragma omp simd
        for (int64_t i = 0; i < C; ++i) g[i] = gy[i] - exp_of(y[i]) * s;
    });
}

void check_same(const Tensor& a, const Tensor& b, const char* op) {
    check(a.dtype() == b.dtype() && a.shape() == b.shape(), "[{}] {} {} does not match {} {}", op,
          a.dtype(), shape_str(a.shape()), b.dtype(), shape_str(b.shape()));
}

void softmax_cpu(const Tensor& out, const Tensor& x, int64_t dim) {
    check_same(out, x, "softmax");
    visit_floating(x.dtype(), "softmax",
                   [&]<class T>() { along_rows<T, 1>(out, {x}, dim, softmax_rows<T>); });
}

void log_softmax_cpu(const Tensor& out, const Tensor& x, int64_t dim) {
    check_same(out, x, "log_softmax");
    visit_floating(x.dtype(), "log_softmax",
                   [&]<class T>() { along_rows<T, 1>(out, {x}, dim, log_softmax_rows<T>); });
}

void softmax_backward_cpu(const Tensor& gx, const Tensor& gy, const Tensor& y, int64_t dim) {
    check_same(gx, gy, "softmax_backward");
    check_same(gx, y, "softmax_backward");
    visit_floating(y.dtype(), "softmax_backward", [&]<class T>() {
        along_rows<T, 2>(gx, {gy, y}, dim, softmax_backward_rows<T>);
    });
}

void log_softmax_backward_cpu(const Tensor& gx, const Tensor& gy, const Tensor& y, int64_t dim) {
    check_same(gx, gy, "log_softmax_backward");
    check_same(gx, y, "log_softmax_backward");
    visit_floating(y.dtype(), "log_softmax_backward", [&]<class T>() {
        along_rows<T, 2>(gx, {gy, y}, dim, log_softmax_backward_rows<T>);
    });
}

}  // namespace

const bool softmax_on_cpu = kernels::softmax.set(DeviceType::cpu, &softmax_cpu);
const bool log_softmax_on_cpu = kernels::log_softmax.set(DeviceType::cpu, &log_softmax_cpu);
const bool softmax_backward_on_cpu =
    kernels::softmax_backward.set(DeviceType::cpu, &softmax_backward_cpu);
const bool log_softmax_backward_on_cpu =
    kernels::log_softmax_backward.set(DeviceType::cpu, &log_softmax_backward_cpu);

}  // namespace gradstack::cpu
