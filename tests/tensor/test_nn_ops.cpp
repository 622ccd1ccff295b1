// Forward values of the fused neural-net primitives (autograd/ops/nn.h) against numbers worked
// out by hand, float32 accuracy against float64, dropout's seeding across thread counts, and the
// errors for bad input. Gradients are checked by the catalog (tests/autograd/catalog_nn.cpp).
#include <omp.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "tensor/cpu/row_math.h"
#include "tests/test_util.h"

using namespace gradstack;
using gradstack::testing::error_of;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

void check_close(const Tensor& t, const std::vector<double>& want, double tol = 1e-6) {
    std::vector<double> got = to_vector<double>(t);
    BOOST_REQUIRE_EQUAL(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
        BOOST_TEST(std::abs(got[i] - want[i]) <= tol * (1 + std::abs(want[i])),
                   "element " << i << ": " << got[i] << " vs " << want[i]);
}

// max |a - b| / |b| over the elements (b the float64 reference).
double max_rel_error(const Tensor& a, const Tensor& b) {
    std::vector<double> va = to_vector<double>(a), vb = to_vector<double>(b);
    double worst = 0;
    for (size_t i = 0; i < va.size(); ++i)
        worst = std::max(worst, std::abs(va[i] - vb[i]) / std::max(std::abs(vb[i]), 1e-30));
    return worst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nn_ops_suite)

BOOST_AUTO_TEST_CASE(exp_f32_is_accurate_and_handles_specials) {
    double worst = 0;
    for (float x = -87.0f; x < 88.7f; x += 0.00137f) {
        double want = std::exp(static_cast<double>(x));
        worst = std::max(worst, std::abs(cpu::exp_f32(x) - want) / want);
    }
    BOOST_TEST(worst < 2.5e-7);  // about 2 ulp
    BOOST_TEST(cpu::exp_f32(0.0f) == 1.0f);
    BOOST_TEST(cpu::exp_f32(-std::numeric_limits<float>::infinity()) == 0.0f);
    BOOST_TEST(std::isinf(cpu::exp_f32(std::numeric_limits<float>::infinity())));
    BOOST_TEST(std::isinf(cpu::exp_f32(100.0f)));
    BOOST_TEST(std::isnan(cpu::exp_f32(std::numeric_limits<float>::quiet_NaN())));
    // Subnormal results: exp(-100) = 3.72e-44 is 26.5 units of the smallest subnormal.
    BOOST_TEST(std::abs(cpu::exp_f32(-100.0f) - std::exp(-100.0)) < 1.5e-45);
}

BOOST_AUTO_TEST_CASE(softmax_of_one_two_three) {
    for (DType dt : {DType::f32, DType::f64}) {
        Tensor x = to_dtype(from_vector<double>({1, 2, 3}), dt);
        check_close(softmax(x, 0), {0.09003057317038046, 0.24472847105479767, 0.6652409557748219});
        check_close(log_softmax(x, -1),
                    {-2.4076059644443801, -1.4076059644443801, -0.4076059644443801});
        // Logits near 1000 give the same probabilities and stay finite.
        Tensor big = to_dtype(from_vector<double>({1000, 1001, 1002}), dt);
        check_close(softmax(big, 0),
                    {0.09003057317038046, 0.24472847105479767, 0.6652409557748219});
        check_close(log_softmax(big, 0),
                    {-2.4076059644443801, -1.4076059644443801, -0.4076059644443801});
    }
}

BOOST_AUTO_TEST_CASE(softmax_along_a_non_last_dim) {
    Tensor x = from_vector<float>({1, 2, 3, 1, 1, 1}, {2, 3});
    // Columns (1, 1), (2, 1), (3, 1): e^a / (e^a + e^b).
    check_close(softmax(x, 0), {0.5, 0.7310585786300048, 0.8807970779778824, 0.5,
                                0.2689414213699951, 0.1192029220221176});
    // A permuted input along every dim matches the contiguous computation.
    Tensor base = randn({4, 3, 5});
    Tensor p = permute(base, {2, 0, 1});  // (5, 4, 3), not contiguous
    Tensor pc = contiguous(p);
    for (int64_t d = 0; d < 3; ++d) {
        check_close(softmax(p, d), to_vector<double>(softmax(pc, d)), 1e-7);
        check_close(log_softmax(p, d), to_vector<double>(log_softmax(pc, d)), 1e-7);
    }
    // A 0-d tensor is one row of one element.
    BOOST_TEST(softmax(scalar_tensor(3.0), 0).item() == 1.0);
}

BOOST_AUTO_TEST_CASE(fully_masked_rows_give_nan_like_pytorch) {
    Tensor x = from_vector<float>({-INFINITY, -INFINITY, 1, -INFINITY}, {2, 2});
    std::vector<float> y = to_vector<float>(softmax(x, -1));
    BOOST_TEST((std::isnan(y[0]) && std::isnan(y[1])));
    BOOST_TEST(y[2] == 1.0f);
    BOOST_TEST(y[3] == 0.0f);
    BOOST_TEST(std::isnan(to_vector<float>(log_softmax(x, -1))[0]));
}

BOOST_AUTO_TEST_CASE(float32_matches_float64_to_a_few_ulp) {
    Tensor x64 = randn({16, 3000}, DType::f64) * 4.0;
    Tensor x32 = to_dtype(x64, DType::f32);
    // Softmax: exp(x - max) inherits the float32 rounding of x - max, an error of up to
    // |x - max| * 6e-8 relative in its result, which PyTorch's float32 kernel has as well. So the
    // reference is the float64 softmax of the float32-rounded differences: the remaining error
    // (exp, sum, scaling) must be a few ulp. Against plain float64 maths it is 1e-5.
    const int64_t C = 3000;
    std::vector<float> xv = to_vector<float>(x32), shifted(xv.size());
    for (size_t r = 0; r < xv.size() / C; ++r) {
        float m = -INFINITY;
        for (int64_t c = 0; c < C; ++c) m = std::max(m, xv[r * C + c]);
        for (int64_t c = 0; c < C; ++c) shifted[r * C + c] = xv[r * C + c] - m;
    }
    Tensor like_torch = softmax(to_dtype(from_vector<float>(shifted, {16, C}), DType::f64), -1);
    BOOST_TEST(max_rel_error(softmax(x32, -1), like_torch) < 1e-6);
    BOOST_TEST(max_rel_error(softmax(x32, -1), softmax(to_dtype(x32, DType::f64), -1)) < 1e-5);
    Tensor ref_log = log_softmax(to_dtype(x32, DType::f64), -1);
    BOOST_TEST(max_rel_error(log_softmax(x32, -1), ref_log) < 1e-6);
    Tensor t = randint(0, 3000, {16});
    Tensor ce_ref = cross_entropy(to_dtype(x32, DType::f64), t, -100, Reduction::none);
    BOOST_TEST(max_rel_error(cross_entropy(x32, t, -100, Reduction::none), ce_ref) < 1e-6);
}

BOOST_AUTO_TEST_CASE(float32_backward_matches_float64) {
    // The float32 backward kernels take their own paths (the vectorised exp, lse split in two
    // floats); they must agree with the float64 ones, which the catalog gradchecks.
    Tensor x64 = randn({8, 300}, DType::f64) * 3.0;
    Tensor gy64 = randn({8, 300}, DType::f64);
    Tensor t = randint(0, 300, {8});
    t.data<int64_t>()[3] = -100;
    Tensor w64 = randn({300}, DType::f64), b64 = randn({300}, DType::f64);
    auto grad_of = [&](DType dt, int which) {
        Tensor x = to_dtype(x64, dt).detach().requires_grad_();
        Tensor gy = to_dtype(gy64, dt);
        Tensor w = to_dtype(w64, dt).detach().requires_grad_(), b = to_dtype(b64, dt);
        switch (which) {
            case 0:
                softmax(x, -1).backward(gy);
                break;
            case 1:
                log_softmax(x, -1).backward(gy);
                break;
            case 2:
                cross_entropy(x, t, -100, Reduction::mean, 0.1).backward();
                break;
            case 3:
                layer_norm(x, w, b).backward(gy);
                break;
            default:
                return w.grad();
        }
        return x.grad();
    };
    for (int which = 0; which < 4; ++which) {
        BOOST_TEST_CONTEXT("case " << which) {
            std::vector<double> g32 = to_vector<double>(grad_of(DType::f32, which));
            std::vector<double> g64 = to_vector<double>(grad_of(DType::f64, which));
            double scale = 0;
            for (double v : g64) scale = std::max(scale, std::abs(v));
            for (size_t i = 0; i < g32.size(); ++i)
                BOOST_TEST_REQUIRE(std::abs(g32[i] - g64[i]) <= 1e-5 * scale, "element " << i);
        }
    }
}

BOOST_AUTO_TEST_CASE(layer_norm_of_a_small_row) {
    // mean 2.5, biased variance 1.25, rstd = 1 / sqrt(1.25 + 1e-5) = 0.894423613312618.
    Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 4});
    Tensor w = from_vector<float>({1, 2, 3, 4}), b = from_vector<float>({0.5, 0, -0.5, 1});
    check_close(layer_norm(x, w, b),
                {-0.8416354199689269, -0.894423613312618, 0.8416354199689269, 6.3665416798757075});
    const double r = 0.894423613312618;
    check_close(layer_norm(x, Tensor(), Tensor()), {-1.5 * r, -0.5 * r, 0.5 * r, 1.5 * r});
    check_close(layer_norm(x, Tensor(), b), {-1.5 * r + 0.5, -0.5 * r, 0.5 * r - 0.5, 1.5 * r + 1});
    // A non-contiguous input gives the same rows.
    Tensor base = randn({6, 5});
    Tensor wt = randn({6}), bt = randn({6});
    check_close(layer_norm(transpose(base, 0, 1), wt, bt),
                to_vector<double>(layer_norm(contiguous(transpose(base, 0, 1)), wt, bt)), 1e-7);
}

BOOST_AUTO_TEST_CASE(layer_norm_backward_does_not_depend_on_thread_count) {
    Tensor x = randn({256, 200}), w = randn({200}), b = randn({200}), gy = randn({256, 200});
    auto grads_with = [&](int threads) {
        omp_set_num_threads(threads);
        Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_(),
               bl = b.detach().requires_grad_();
        layer_norm(xl, wl, bl).backward(gy);
        return std::vector<std::vector<float>>{
            to_vector<float>(xl.grad()), to_vector<float>(wl.grad()), to_vector<float>(bl.grad())};
    };
    const int saved = omp_get_max_threads();
    auto one = grads_with(1), two = grads_with(2);
    omp_set_num_threads(saved);
    BOOST_TEST((one == two));
    // dbias is the column sum of gy.
    std::vector<double> col = to_vector<double>(sum(gy, {0}));
    for (size_t c = 0; c < col.size(); ++c) BOOST_TEST(std::abs(one[2][c] - col[c]) < 1e-4);
}

BOOST_AUTO_TEST_CASE(cross_entropy_by_hand) {
    // Row 0: logits (1, 2, 3), target 2: lse = 3.40760596, nll = 0.40760596.
    // Row 1: logits (1, 1, 1), target 0: nll = log 3 = 1.09861229.
    Tensor logits = from_vector<float>({1, 2, 3, 1, 1, 1}, {2, 3});
    Tensor t = from_vector<int64_t>({2, 0});
    const double nll0 = 0.40760596444438013, nll1 = 1.0986122886681098;
    check_close(cross_entropy(logits, t, -100, Reduction::none), {nll0, nll1});
    check_close(cross_entropy(logits, t, -100, Reduction::sum), {nll0 + nll1});
    check_close(cross_entropy(logits, t), {(nll0 + nll1) / 2});
    // ignore_index: the ignored row gives 0 and the mean divides by the one row that counts.
    Tensor ti = from_vector<int64_t>({2, -100});
    check_close(cross_entropy(logits, ti, -100, Reduction::none), {nll0, 0});
    check_close(cross_entropy(logits, ti), {nll0});
    Tensor t7 = from_vector<int64_t>({7, 0});
    check_close(cross_entropy(logits, t7, 7, Reduction::mean), {nll1});
    // Label smoothing 0.1: 0.9 nll + 0.1 (lse - mean(x)). Row 0: 0.9 * 0.40760596 + 0.1 *
    // 1.40760596 = 0.50760596; row 1 has all logits equal, so its smoothed term is nll1 again.
    check_close(cross_entropy(logits, t, -100, Reduction::none, 0.1), {0.5076059644443801, nll1});
    check_close(cross_entropy(logits, ti, -100, Reduction::mean, 0.1), {0.5076059644443801});
    // Every target ignored: the mean is 0 / 0, NaN as in PyTorch.
    Tensor all_ignored = from_vector<int64_t>({-100, -100});
    BOOST_TEST(std::isnan(cross_entropy(logits, all_ignored).item()));
    // Huge logits stay finite.
    Tensor big = from_vector<float>({1000, 1001, 1002}, {1, 3});
    check_close(cross_entropy(big, from_vector<int64_t>({2})), {nll0}, 1e-5);
}

BOOST_AUTO_TEST_CASE(cross_entropy_gradient_is_softmax_minus_onehot) {
    Tensor logits = from_vector<double>({1, 2, 3, 1, 1, 1}, {2, 3}).requires_grad_();
    Tensor t = from_vector<int64_t>({2, -100});
    cross_entropy(logits, t).backward();  // mean over 1 row
    check_close(logits.grad(),
                {0.09003057317038046, 0.24472847105479767, 0.6652409557748219 - 1, 0, 0, 0});
}

BOOST_AUTO_TEST_CASE(bad_targets_throw_naming_value_and_position) {
    Tensor logits = zeros({2, 2, 5});
    Tensor t = from_vector<int64_t>({0, 1, 7, 2}, {2, 2});
    std::string msg = error_of([&] { cross_entropy(logits, t); });
    BOOST_TEST(msg.find("[cross_entropy] target 7 at position (1, 0) is out of range for 5 "
                        "classes") != std::string::npos,
               msg);
    BOOST_CHECK_THROW(cross_entropy(logits, from_vector<int64_t>({0, -1, 0, 0}, {2, 2})), Error);
    BOOST_CHECK_THROW(cross_entropy(logits, from_vector<int64_t>({0, 1}, {2})), Error);
    BOOST_CHECK_THROW(cross_entropy(logits, zeros({2, 2})), Error);  // float targets
    BOOST_CHECK_THROW(cross_entropy(logits, t, -100, Reduction::mean, 1.5), Error);
}

BOOST_AUTO_TEST_CASE(bad_inputs_throw) {
    Tensor x = zeros({2, 3});
    BOOST_CHECK_THROW(softmax(x, 2), Error);
    BOOST_CHECK_THROW(log_softmax(arange(3), 0), Error);
    BOOST_CHECK_THROW(layer_norm(x, zeros({2}), Tensor()), Error);
    BOOST_CHECK_THROW(layer_norm(x, Tensor(), zeros({3}, DType::f64)), Error);
    BOOST_CHECK_THROW(layer_norm(scalar_tensor(1.0), Tensor(), Tensor()), Error);
    BOOST_CHECK_THROW(dropout(x, 1.0, true), Error);
    BOOST_CHECK_THROW(dropout(x, -0.1, false), Error);
    std::string msg = error_of([&] { layer_norm(x, zeros({4}), Tensor()); });
    BOOST_TEST(msg.find("[layer_norm] weight must be float32 of shape (3)") != std::string::npos,
               msg);
}

BOOST_AUTO_TEST_CASE(dropout_mask_is_seeded_and_thread_independent) {
    const int64_t n = 200000;
    Tensor x = ones({n});
    auto run = [&](int threads) {
        omp_set_num_threads(threads);
        Generator gen(123);
        return to_vector<float>(dropout(x, 0.3, true, &gen));
    };
    const int saved = omp_get_max_threads();
    std::vector<float> one = run(1), two = run(2);
    omp_set_num_threads(saved);
    BOOST_TEST((one == two));
    int64_t kept = 0;
    for (float v : one) {
        BOOST_TEST_REQUIRE((v == 0.0f || v == static_cast<float>(1.0 / 0.7)));
        kept += v != 0.0f;
    }
    BOOST_TEST(std::abs(static_cast<double>(kept) / n - 0.7) < 0.01);
    // Another seed gives another mask; the generator advances between calls.
    Generator a(123), b(124);
    BOOST_TEST((to_vector<float>(dropout(x, 0.3, true, &b)) != one));
    BOOST_TEST((to_vector<float>(dropout(x, 0.3, true, &a)) == one));
    BOOST_TEST((to_vector<float>(dropout(x, 0.3, true, &a)) != one));
    // Evaluation mode and p = 0 return x itself.
    BOOST_TEST(dropout(x, 0.3, false).is_same(x));
    BOOST_TEST(dropout(x, 0.0, true).is_same(x));
}

BOOST_AUTO_TEST_CASE(dropout_mask_follows_the_generator_blocks) {
    // The documented contract (kernels/nn.h): element i is kept when word i % 4 of block
    // counter + i / 4, as a uniform float, is >= p. 1001 elements: not a whole number of groups.
    const int64_t n = 1001;
    Generator gen(77);
    gen.advance(5);
    std::vector<double> y = to_vector<double>(dropout(ones({n}, DType::f64), 0.4, true, &gen));
    BOOST_TEST(gen.counter() == 5u + (n + 3) / 4);
    Generator ref(77);
    for (int64_t i = 0; i < n; ++i) {
        const bool keep = uniform_float(ref.block(5 + i / 4)[i % 4]) >= 0.4;
        BOOST_TEST_REQUIRE(y[i] == (keep ? 1.0 / 0.6 : 0.0), "element " << i);
    }
}

BOOST_AUTO_TEST_CASE(dropout_backward_uses_the_same_mask) {
    Tensor x = full({1000}, 2.0).requires_grad_();
    Generator gen(5);
    Tensor y = dropout(x, 0.5, true, &gen);
    y.backward(ones({1000}));
    std::vector<float> yv = to_vector<float>(y), gv = to_vector<float>(x.grad());
    for (size_t i = 0; i < yv.size(); ++i) BOOST_TEST_REQUIRE(gv[i] == yv[i] / 2.0f);
}

BOOST_AUTO_TEST_SUITE_END()
