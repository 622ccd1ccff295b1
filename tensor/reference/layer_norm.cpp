// Reference layer norm over the last dim, forward and backward: one row at a time in float64, each
// sum its own loop. The fast twin is cpu/layer_norm.cpp (vectorised row passes, dweight / dbias
// summed in fixed chunks of rows). Read next: reference/cross_entropy.cpp.
#include <cmath>
#include <vector>

#include "tensor/kernels/nn.h"
#include "tensor/reference/strided.h"

namespace gradstack::reference {
namespace {

// weight[c] (or 1 without a weight) and bias[c] (or 0), as doubles.
template <class T>
std::vector<double> per_channel(const Tensor& t, int64_t C, double missing) {
    std::vector<double> v(C, missing);
    if (!t.defined()) return v;
    const Strided<T> s(t);
    for (int64_t c = 0; c < C; ++c) v[c] = static_cast<double>(s[c]);
    return v;
}

// Row r of x (C elements, C-order positions r C .. r C + C - 1):
//   mean = (1/C) sum_c x_c
//   var  = (1/C) sum_c (x_c - mean)^2          (biased, as PyTorch)
//   rstd = 1 / sqrt(var + eps)
//   y_c  = (x_c - mean) rstd weight_c + bias_c
template <class T>
void layer_norm_rows(const Tensor& y_t, const Tensor& mean_t, const Tensor& rstd_t,
                     const Tensor& x_t, const Tensor& weight, const Tensor& bias, double eps) {
    const int64_t C = x_t.size(-1), rows = C == 0 ? 0 : x_t.numel() / C;
    const Strided<T> x(x_t), y(y_t), mean_out(mean_t), rstd_out(rstd_t);
    const std::vector<double> w = per_channel<T>(weight, C, 1), b = per_channel<T>(bias, C, 0);
    for (int64_t r = 0; r < rows; ++r) {
        double mean = 0;
        for (int64_t c = 0; c < C; ++c) mean += static_cast<double>(x[r * C + c]);
        mean /= static_cast<double>(C);
        double var = 0;
        for (int64_t c = 0; c < C; ++c) {
            const double d = static_cast<double>(x[r * C + c]) - mean;
            var += d * d;
        }
        var /= static_cast<double>(C);
        const double rstd = 1 / std::sqrt(var + eps);
        mean_out[r] = static_cast<T>(mean);
        rstd_out[r] = static_cast<T>(rstd);
        for (int64_t c = 0; c < C; ++c)
            y[r * C + c] =
                static_cast<T>((static_cast<double>(x[r * C + c]) - mean) * rstd * w[c] + b[c]);
    }
}

// With xhat_c = (x_c - mean) rstd (mean, rstd saved by the forward) and g_c = gy_c weight_c,
// the gradient reaching xhat:
//   dbias_c   = sum over rows of gy_c
//   dweight_c = sum over rows of gy_c xhat_c
//   dx_c      = rstd (g_c - mean_k(g_k) - xhat_c mean_k(g_k xhat_k))
// (xhat_c depends on x_c directly, through the mean, and through rstd: the three terms.)
template <class T>
void layer_norm_backward_rows(const Tensor& gy_t, const Tensor& x_t, const Tensor& weight,
                              const Tensor& mean_t, const Tensor& rstd_t, const Tensor& gx_t,
                              const Tensor& gweight, const Tensor& gbias) {
    const int64_t C = x_t.size(-1), rows = C == 0 ? 0 : x_t.numel() / C;
    const Strided<T> gy(gy_t), x(x_t), mean(mean_t), rstd(rstd_t);
    const std::vector<double> w = per_channel<T>(weight, C, 1);
    std::vector<double> dweight(C, 0), dbias(C, 0), xhat(C), g(C);
    for (int64_t r = 0; r < rows; ++r) {
        const double m = static_cast<double>(mean[r]), rs = static_cast<double>(rstd[r]);
        double mean_g = 0, mean_gx = 0;
        for (int64_t c = 0; c < C; ++c) {
            const double gyc = static_cast<double>(gy[r * C + c]);
            xhat[c] = (static_cast<double>(x[r * C + c]) - m) * rs;
            g[c] = gyc * w[c];
            dbias[c] += gyc;
            dweight[c] += gyc * xhat[c];
            mean_g += g[c];
            mean_gx += g[c] * xhat[c];
        }
        mean_g /= static_cast<double>(C);
        mean_gx /= static_cast<double>(C);
        if (gx_t.defined()) {
            const Strided<T> gx(gx_t);
            for (int64_t c = 0; c < C; ++c)
                gx[r * C + c] = static_cast<T>(rs * (g[c] - mean_g - xhat[c] * mean_gx));
        }
    }
    if (gweight.defined()) {
        const Strided<T> out(gweight);
        for (int64_t c = 0; c < C; ++c) out[c] = static_cast<T>(dweight[c]);
    }
    if (gbias.defined()) {
        const Strided<T> out(gbias);
        for (int64_t c = 0; c < C; ++c) out[c] = static_cast<T>(dbias[c]);
    }
}

void layer_norm_reference(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                          const Tensor& weight, const Tensor& bias, double eps) {
    visit_floating(x.dtype(), "layer_norm", [&]<class T>() {
        layer_norm_rows<T>(y, mean, rstd, x, weight, bias, eps);
    });
}

void layer_norm_backward_reference(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, const Tensor& gx,
                                   const Tensor& gweight, const Tensor& gbias) {
    visit_floating(x.dtype(), "layer_norm_backward", [&]<class T>() {
        layer_norm_backward_rows<T>(gy, x, weight, mean, rstd, gx, gweight, gbias);
    });
}

}  // namespace

const bool layer_norm_reference_on_cpu = kernels::layer_norm.set_reference(&layer_norm_reference);
const bool layer_norm_backward_reference_on_cpu =
    kernels::layer_norm_backward.set_reference(&layer_norm_backward_reference);

}  // namespace gradstack::reference
