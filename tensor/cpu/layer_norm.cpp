// CPU layer norm over the last dim, forward and backward fused per row (llm.c's layernorm_forward
// and layernorm_backward). The forward saves mean and rstd per row; the backward computes dx,
// dweight and dbias in one pass over gy and x. Rows run in parallel; dweight and dbias are summed
// per fixed chunk of rows and the chunks added in order, so the result does not depend on the
// thread count. Read next: cpu/cross_entropy.cpp, autograd/ops/nn.cpp.
// Read next, the reference twin: reference/layer_norm.cpp (layer_norm forward and backward), the
// same math as plain float64 loops; GRADSTACK_KERNELS=reference runs it instead
// (tensor/dispatch.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/cpu/row_math.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/nn.h"

namespace gradstack::cpu {
namespace {

// weight's elements, or C ones when there is no weight (likewise zeros for a missing bias), so the
// row loops need no branch.
template <class T>
const T* or_constant(const Tensor& t, std::vector<T>& fallback, int64_t C, T value) {
    if (t.defined()) return t.data<T>();
    fallback.assign(C, value);
    return fallback.data();
}

template <class T>
void layer_norm_impl(const Tensor& y, const Tensor& mean_t, const Tensor& rstd_t,
                     const Tensor& x_in, const Tensor& weight, const Tensor& bias, double eps) {
    const Tensor x = kernels::contiguous(x_in);
    const int64_t C = x.size(-1);
    const int64_t rows = C == 0 ? 0 : x.numel() / C;
    std::vector<T> ones, zeros;
    const Tensor wc = weight.defined() ? kernels::contiguous(weight) : Tensor();
    const Tensor bc = bias.defined() ? kernels::contiguous(bias) : Tensor();
    const T* w = or_constant<T>(wc, ones, C, T(1));
    const T* b = or_constant<T>(bc, zeros, C, T(0));
    const Tensor out = y.is_contiguous() ? y : empty(y.shape(), y.dtype(), y.device());
    T* py = out.data<T>();
    T* pmean = mean_t.data<T>();
    T* prstd = rstd_t.data<T>();
    const T* px = x.data<T>();
    parallel_rows(rows, C, [&](int64_t r) {
        const T* xr = px + r * C;
        T* yr = py + r * C;
        // mean, then the biased variance as the mean of squared deviations (two passes over a
        // row that is in L1: more accurate than E[x^2] - mean^2), both in double.
        const double mu = row_sum(xr, C) / static_cast<double>(C);
        double var = 0;
#pragma omp simd reduction(+ : var)
        for (int64_t i = 0; i < C; ++i) {
            double d = static_cast<double>(xr[i]) - mu;
            var += d * d;
        }
        var /= static_cast<double>(C);
        // The mean as hi + lo in two floats, and x - mean as (x - hi) - lo: x - hi is exact for
        // x near the mean, so a row far from 0 (mean 1e4, spread 1) keeps its digits; with x - hi
        // alone y was off by the mean's float32 rounding, 4e-4 there (found by the reference
        // kernel's differential test, tests/tensor/test_reference_kernels.cpp).
        const T m = static_cast<T>(mu);
        const T m_lo = static_cast<T>(mu - static_cast<double>(m));
        const T rs = static_cast<T>(1.0 / std::sqrt(var + eps));
        pmean[r] = m;
        prstd[r] = rs;
#pragma omp simd
        for (int64_t i = 0; i < C; ++i) yr[i] = ((xr[i] - m) - m_lo) * rs * w[i] + b[i];
    });
    if (!out.is_same(y)) kernels::copy(y, out);
}

void layer_norm_cpu(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                    const Tensor& weight, const Tensor& bias, double eps) {
    check(mean.is_contiguous() && rstd.is_contiguous(),
          "[layer_norm] mean and rstd must be "
          "contiguous");
    visit_floating(x.dtype(), "layer_norm",
                   [&]<class T>() { layer_norm_impl<T>(y, mean, rstd, x, weight, bias, eps); });
}

// Row chunks for the dweight / dbias partial sums: a fixed count (not one per thread) so that the
// summation order, and so the result, is the same for any number of threads.
constexpr int64_t kChunks = 64;

// With xhat = (x - mean) rstd, y = xhat w + b and g = gy w (the gradient reaching xhat):
//   dbias   = sum over rows of gy
//   dweight = sum over rows of gy xhat
//   dx      = rstd (g - mean(g) - xhat mean(g xhat))
// The last line: xhat depends on x directly (rstd), through the mean (-rstd / C for every
// element) and through rstd (-xhat rstd xhat_j / C), which gives the two row means.
template <class T>
void layer_norm_backward_impl(const Tensor& gy_in, const Tensor& x_in, const Tensor& weight,
                              const Tensor& mean_t, const Tensor& rstd_t, const Tensor& gx,
                              const Tensor& gweight, const Tensor& gbias) {
    const Tensor x = kernels::contiguous(x_in), gyc = kernels::contiguous(gy_in);
    const int64_t C = x.size(-1);
    const int64_t rows = C == 0 ? 0 : x.numel() / C;
    std::vector<T> ones;
    const Tensor wc = weight.defined() ? kernels::contiguous(weight) : Tensor();
    const T* w = or_constant<T>(wc, ones, C, T(1));
    const T* px = x.data<T>();
    const T* pgy = gyc.data<T>();
    const Tensor mean_c = kernels::contiguous(mean_t), rstd_c = kernels::contiguous(rstd_t);
    const T* pmean = mean_c.data<T>();
    const T* prstd = rstd_c.data<T>();
    Tensor gxc;
    if (gx.defined()) gxc = gx.is_contiguous() ? gx : empty(gx.shape(), gx.dtype(), gx.device());
    T* pgx = gxc.defined() ? gxc.data<T>() : nullptr;
    const bool params = gweight.defined() || gbias.defined();
    const int64_t chunks = params ? std::min(rows, kChunks) : 0;
    std::vector<double> part_w(chunks * C, 0.0), part_b(chunks * C, 0.0);

    // One row, with `buf` (2C elements) holding xhat and g = gy w: the two row sums for dx (and
    // the dweight / dbias partials when Acc), then dx. Loops that mix float maths with double
    // sums vectorise at half width, so the float work and the double sums are separate loops.
    auto row = [&]<bool Acc>(int64_t r, T* buf, double* acc_w, double* acc_b) {
        const T* gyr = pgy + r * C;
        const T* xr = px + r * C;
        T* xhat = buf;
        T* g = buf + C;
        const T m = pmean[r], rs = prstd[r];
#pragma omp simd
        for (int64_t i = 0; i < C; ++i) {
            xhat[i] = (xr[i] - m) * rs;
            g[i] = gyr[i] * w[i];
        }
        if constexpr (Acc) {
#pragma omp simd
            for (int64_t i = 0; i < C; ++i) {
                acc_w[i] += static_cast<double>(gyr[i] * xhat[i]);
                acc_b[i] += static_cast<double>(gyr[i]);
            }
        }
        if (!pgx) return;
        double sum_gx = 0;
#pragma omp simd reduction(+ : sum_gx)
        for (int64_t i = 0; i < C; ++i) sum_gx += static_cast<double>(g[i] * xhat[i]);
        const T mean_g = static_cast<T>(row_sum(g, C) / static_cast<double>(C));
        const T mean_gx = static_cast<T>(sum_gx / static_cast<double>(C));
        T* gxr = pgx + r * C;
#pragma omp simd
        for (int64_t i = 0; i < C; ++i) gxr[i] = rs * (g[i] - mean_g - xhat[i] * mean_gx);
    };

    if (!params) {
#pragma omp parallel if (rows * C >= kParallelGrain)
        {
            std::vector<T> buf(2 * C);
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; ++r)
                row.template operator()<false>(r, buf.data(), nullptr, nullptr);
        }
    } else {
#pragma omp parallel if (rows * C >= kParallelGrain)
        {
            std::vector<T> buf(2 * C);
#pragma omp for schedule(static)
            for (int64_t k = 0; k < chunks; ++k) {
                double* acc_w = part_w.data() + k * C;
                double* acc_b = part_b.data() + k * C;
                for (int64_t r = rows * k / chunks; r < rows * (k + 1) / chunks; ++r)
                    row.template operator()<true>(r, buf.data(), acc_w, acc_b);
            }
        }
        // Add the chunk partials in chunk order.
        auto reduce = [&](const Tensor& out, const std::vector<double>& part) {
            if (!out.defined()) return;
            Tensor oc = out.is_contiguous() ? out : empty(out.shape(), out.dtype(), out.device());
            T* po = oc.data<T>();
            for (int64_t c = 0; c < C; ++c) {
                double s = 0;
                for (int64_t k = 0; k < chunks; ++k) s += part[k * C + c];
                po[c] = static_cast<T>(s);
            }
            if (!oc.is_same(out)) kernels::copy(out, oc);
        };
        reduce(gweight, part_w);
        reduce(gbias, part_b);
    }
    if (gxc.defined() && !gxc.is_same(gx)) kernels::copy(gx, gxc);
}

void layer_norm_backward_cpu(const Tensor& gy, const Tensor& x, const Tensor& weight,
                             const Tensor& mean, const Tensor& rstd, const Tensor& gx,
                             const Tensor& gweight, const Tensor& gbias) {
    visit_floating(x.dtype(), "layer_norm_backward", [&]<class T>() {
        layer_norm_backward_impl<T>(gy, x, weight, mean, rstd, gx, gweight, gbias);
    });
}

}  // namespace

const bool layer_norm_on_cpu = kernels::layer_norm.set(DeviceType::cpu, &layer_norm_cpu);
const bool layer_norm_backward_on_cpu =
    kernels::layer_norm_backward.set(DeviceType::cpu, &layer_norm_backward_cpu);

}  // namespace gradstack::cpu
