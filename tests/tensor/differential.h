// The differential-test harness: random inputs of sizes around the kernels' tile widths, laid out
// contiguous, permuted or sliced; `differential` runs a computation on the fast kernels and on
// their reference twins (tensor/reference/) and checks each output within its stated tolerance.
// Used by test_reference_kernels.cpp (every kernel family) and test_gemm_kernels.cpp (the small-M
// and bf16 GEMMs).
#pragma once

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "tensor/dispatch.h"
#include "tensor/view.h"
#include "tests/test_util.h"

namespace gradstack::test {

// Sizes around the fast kernels' tile and vector widths (8, 16, 32, 64), plus odd ones.
inline const std::vector<int64_t> kSizes = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65};
inline const std::vector<DType> kDtypes = {DType::f32, DType::f64};

enum class Layout { contiguous, permuted, sliced };
inline const std::vector<Layout> kLayouts = {Layout::contiguous, Layout::permuted, Layout::sliced};

inline const char* name(Layout l) {
    return l == Layout::contiguous ? "contiguous" : l == Layout::permuted ? "permuted" : "sliced";
}

// The same storage order reversed: a C-order tensor of the reversed shape, viewed back.
inline std::vector<int64_t> reversed_dims(int64_t n) {
    std::vector<int64_t> d(n);
    for (int64_t i = 0; i < n; ++i) d[i] = n - 1 - i;
    return d;
}

// A tensor of `shape` whose values are scale * N(0, 1) + shift, laid out as asked: permuted
// (strides reversed: the last dim is the slowest) or sliced (every other element of a wider
// last dim, from offset 1).
inline Tensor make(const Shape& shape, DType dtype, Layout layout, Generator& gen, double scale = 1,
            double shift = 0) {
    NoGradGuard no_grad;
    auto values = [&](const Shape& s) { return randn(s, dtype, &gen) * scale + shift; };
    if (shape.empty() || layout == Layout::contiguous) return values(shape);
    const int64_t nd = static_cast<int64_t>(shape.size());
    if (layout == Layout::permuted) {
        Shape rev(shape.rbegin(), shape.rend());
        return views::permute(values(rev), reversed_dims(nd));
    }
    Shape wide = shape;
    wide.back() = 2 * shape.back() + 1;
    return views::slice(values(wide), nd - 1, 1, 2 * shape.back() + 1, 2);
}

// An output of `shape` laid out as asked (its values are overwritten by the kernel).
inline Tensor make_out(const Shape& shape, DType dtype, Layout layout) {
    Generator gen(0);
    return make(shape, dtype, layout, gen);
}

struct Tol {
    double atol, rtol;
};
inline Tol pick(DType dtype, Tol f32, Tol f64 = {1e-12, 1e-12}) {
    return dtype == DType::f32 ? f32 : f64;
}

// max over elements of |a - b| - (atol + rtol |b|): <= 0 means within tolerance. NaN must sit
// at the same places in both; anything else is +inf.
inline double excess(const Tensor& a, const Tensor& b, Tol tol) {
    BOOST_REQUIRE(a.shape() == b.shape());
    auto va = to_vector<double>(to_dtype(a, DType::f64)), vb = to_vector<double>(to_dtype(b, DType::f64));
    double worst = -1;
    for (size_t i = 0; i < va.size(); ++i) {
        if (std::isnan(va[i]) || std::isnan(vb[i])) {
            if (std::isnan(va[i]) != std::isnan(vb[i])) return INFINITY;
            continue;
        }
        if (va[i] == vb[i]) continue;  // also equal infinities
        worst = std::max(worst, std::abs(va[i] - vb[i]) - (tol.atol + tol.rtol * std::abs(vb[i])));
    }
    return worst;
}

using Outputs = std::vector<Tensor>;

// Runs `f` (which makes its outputs fresh and returns them) on the fast kernels and on the
// reference ones, and checks output k of the two within tols[k].
inline void differential(const std::string& what, const std::function<Outputs()>& f,
                  const std::vector<Tol>& tols) {
    Outputs fast, ref;
    {
        KernelSetGuard g(KernelSet::fast);
        fast = f();
    }
    {
        KernelSetGuard g(KernelSet::reference);
        ref = f();
    }
    BOOST_REQUIRE(fast.size() == ref.size() && fast.size() == tols.size());
    for (size_t k = 0; k < fast.size(); ++k) {
        if (!fast[k].defined() && !ref[k].defined()) continue;
        const double e = excess(fast[k], ref[k], tols[k]);
        BOOST_CHECK_MESSAGE(e <= 0, what << ": output " << k << " exceeds its tolerance (atol "
                                         << tols[k].atol << ", rtol " << tols[k].rtol << ") by "
                                         << e);
    }
}

}  // namespace gradstack::test
