// Forward values of the reductions (autograd/ops/reduce.h) against hand-computed results: several
// dims, keepdim shapes, negative dims, every layout path of the kernels, size-0 dims, and errors.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "tests/test_util.h"

using gradstack::testing::contains;
using gradstack::testing::error_of;

using namespace gradstack;

namespace {

// x = arange(24) as (2, 3, 4): x[i, j, k] = 12 i + 4 j + k.
Tensor x234(DType dtype = DType::f32) {
    return reshape(arange(24, dtype), {2, 3, 4});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reduce_suite)

BOOST_AUTO_TEST_CASE(sum_over_several_dims_keepdim_and_negative) {
    Tensor x = x234();
    Tensor s = sum(x, {0, 2});  // sum_i,k (12 i + 4 j + k) = 8 * 4 j + 4 * 12 + 2 * 6
    BOOST_TEST((s.shape() == Shape{3}));
    BOOST_TEST((to_vector<float>(s) == std::vector<float>{60, 92, 124}));
    Tensor k = sum(x, {-1, 0}, true);
    BOOST_TEST((k.shape() == Shape{1, 3, 1}));
    BOOST_TEST((to_vector<float>(k) == std::vector<float>{60, 92, 124}));
    BOOST_TEST(sum(x).item() == 276);
    BOOST_TEST((sum(x).shape() == Shape{}));
    BOOST_TEST((sum(x, {}, true).shape() == Shape{1, 1, 1}));
    // A transposed (non-contiguous) input gives the same sums.
    Tensor t = transpose(x, 0, 2);  // (4, 3, 2)
    BOOST_TEST((to_vector<float>(sum(t, {2, 0})) == std::vector<float>{60, 92, 124}));
}

BOOST_AUTO_TEST_CASE(int64_sum_and_size_zero_sum) {
    Tensor x = reshape(arange(6), {2, 3});  // int64
    Tensor s = sum(x, {1});
    BOOST_TEST((s.dtype() == DType::i64));
    BOOST_TEST((to_vector<int64_t>(s) == std::vector<int64_t>{3, 12}));
    BOOST_TEST((to_vector<int64_t>(sum(x, {0})) == std::vector<int64_t>{3, 5, 7}));
    // Reducing a size-0 dim gives the empty sum, 0; keeping a size-0 dim gives an empty result.
    Tensor e = zeros({3, 0});
    BOOST_TEST((to_vector<float>(sum(e, {1})) == std::vector<float>{0, 0, 0}));
    BOOST_TEST(sum(e).item() == 0);
    BOOST_TEST((sum(e, {0}).shape() == Shape{0}));
    BOOST_TEST(std::isnan(mean(e).item()));
}

BOOST_AUTO_TEST_CASE(reduce_dim_errors) {
    Tensor x = x234();
    BOOST_CHECK_THROW(sum(x, {1, -2}), Error);  // dim 1 twice
    BOOST_TEST(contains(error_of([&] { max(x, {0, 0}); }), "[max] dims (0, 0) name a dim twice"));
    BOOST_TEST(
        contains(error_of([&] { sum(x, {3}); }), "[sum] dim 3 is out of range for a 3-d tensor"));
    BOOST_CHECK_THROW(argmax(x, -4), Error);
    BOOST_CHECK_THROW(sum(from_vector<bool>({true, false})), Error);
    BOOST_CHECK_THROW(mean(arange(4)), Error);
    BOOST_CHECK_THROW(var(arange(4)), Error);
}

BOOST_AUTO_TEST_CASE(max_min_values) {
    Tensor x = from_vector<float>({3, -1, 7, 2, 7, 0, -5, 4, 1}, {3, 3});
    BOOST_TEST((to_vector<float>(max(x, {1})) == std::vector<float>{7, 7, 4}));
    BOOST_TEST((to_vector<float>(min(x, {1})) == std::vector<float>{-1, 0, -5}));
    BOOST_TEST((to_vector<float>(max(x, {0})) == std::vector<float>{3, 7, 7}));
    BOOST_TEST((to_vector<float>(min(x, {-2})) == std::vector<float>{-5, -1, 0}));
    BOOST_TEST(max(x).item() == 7);
    BOOST_TEST(min(x).item() == -5);
    BOOST_TEST((max(x, {0}, true).shape() == Shape{1, 3}));
    // Several dims, and a permuted input (the generic strided path).
    Tensor y = x234(DType::f64);
    BOOST_TEST((to_vector<double>(max(y, {0, 2})) == std::vector<double>{15, 19, 23}));
    BOOST_TEST(
        (to_vector<double>(min(permute(y, {2, 0, 1}), {1, 2})) == std::vector<double>{0, 1, 2, 3}));
    // int64
    Tensor i = from_vector<int64_t>({4, -9, 2, 8}, {2, 2});
    BOOST_TEST((to_vector<int64_t>(max(i, {-1})) == std::vector<int64_t>{4, 8}));
    BOOST_TEST((to_vector<int64_t>(min(i, {0})) == std::vector<int64_t>{2, -9}));
    // 0-d input: dim 0 / -1 accepted, nothing to reduce.
    BOOST_TEST(max(scalar_tensor(3.5), {-1}).item() == 3.5);
}

BOOST_AUTO_TEST_CASE(max_fast_paths_match_plain_loops) {
    // (rows, cols) large enough to run in parallel: trailing rows, rows split into pieces
    // (max of everything), leading rows (max over dim 0), and a transposed input.
    const int64_t rows = 300, cols = 517;
    Tensor x = randn({rows, cols});
    std::vector<float> v = to_vector<float>(x);
    std::vector<float> row_max(rows, -1e30f), col_min(cols, 1e30f);
    float all_max = -1e30f;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            float e = v[r * cols + c];
            row_max[r] = std::max(row_max[r], e);
            col_min[c] = std::min(col_min[c], e);
            all_max = std::max(all_max, e);
        }
    BOOST_TEST(to_vector<float>(max(x, {-1})) == row_max);
    BOOST_TEST(to_vector<float>(min(x, {0})) == col_min);
    BOOST_TEST(max(x).item<float>() == all_max);
    BOOST_TEST(to_vector<float>(max(transpose(x, 0, 1), {0})) == row_max);
    Tensor big = randn({1, 200000});
    std::vector<float> b = to_vector<float>(big);
    BOOST_TEST(max(big, {1}).item<float>() == *std::max_element(b.begin(), b.end()));
    BOOST_TEST(min(big).item<float>() == *std::min_element(b.begin(), b.end()));
}

BOOST_AUTO_TEST_CASE(max_propagates_nan_and_rejects_empty) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    Tensor x = from_vector<float>({1, nan, 3, 4, 5, 6}, {2, 3});
    std::vector<float> m = to_vector<float>(max(x, {1}));
    BOOST_TEST(std::isnan(m[0]));
    BOOST_TEST(m[1] == 6);
    BOOST_TEST(std::isnan(min(x).item()));
    Tensor e = zeros({3, 0});
    BOOST_TEST(contains(error_of([&] { max(e, {1}); }),
                        "[max] cannot reduce over dim 1 of size 0 in shape (3, 0)"));
    BOOST_CHECK_THROW(min(e), Error);
    BOOST_CHECK_THROW(argmax(e, 1), Error);
    // Keeping the empty dim and reducing a non-empty one is fine: the result is empty.
    BOOST_TEST((max(zeros({0, 3}), {1}).shape() == Shape{0}));
}

BOOST_AUTO_TEST_CASE(argmax_argmin_first_occurrence) {
    Tensor x = from_vector<float>({3, 7, 7, 1, 2, 9, 9, 0}, {2, 4});
    Tensor a = argmax(x, 1);
    BOOST_TEST((a.dtype() == DType::i64));
    BOOST_TEST((to_vector<int64_t>(a) == std::vector<int64_t>{1, 1}));
    BOOST_TEST((to_vector<int64_t>(argmin(x, -1)) == std::vector<int64_t>{3, 3}));
    BOOST_TEST((to_vector<int64_t>(argmax(x, 0)) == std::vector<int64_t>{0, 1, 1, 0}));
    BOOST_TEST((argmax(x, 0, true).shape() == Shape{1, 4}));
    BOOST_TEST(argmax(x).item() == 5);  // flattened: the first 9
    BOOST_TEST((argmax(x).shape() == Shape{}));
    BOOST_TEST(argmin(x).item() == 7);
    BOOST_TEST(argmax(transpose(x, 0, 1)).item() == 3);  // (4, 2): 9 first at [1, 1]
    // A middle dim with inner size > 1: y[i, j, k] = 12 i + 4 j + k is largest at j = 2.
    Tensor y = x234(DType::i64);
    BOOST_TEST((to_vector<int64_t>(argmax(y, 1)) == std::vector<int64_t>(8, 2)));
    BOOST_TEST((to_vector<int64_t>(argmin(y, 1)) == std::vector<int64_t>(8, 0)));
    // NaN counts as the max (and the min), first one wins.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    Tensor n = from_vector<double>({1, nan, 5, nan});
    BOOST_TEST(argmax(n).item() == 1);
    BOOST_TEST(argmin(n).item() == 1);
    BOOST_TEST(argmax(scalar_tensor(2.0)).item() == 0);
}

BOOST_AUTO_TEST_CASE(var_and_stddev) {
    Tensor x = from_vector<double>({1, 2, 3, 4, 2, 4, 6, 8}, {2, 4});
    // Row 0: mean 2.5, squared deviations sum 5; row 1: mean 5, sum 20.
    BOOST_TEST((to_vector<double>(var(x, {1})) == std::vector<double>{5.0 / 3, 20.0 / 3}));
    BOOST_TEST((to_vector<double>(var(x, {-1}, 0)) == std::vector<double>{1.25, 5.0}));
    BOOST_TEST((var(x, {1}, 1, true).shape() == Shape{2, 1}));
    std::vector<double> s = to_vector<double>(stddev(x, {1}, 0));
    BOOST_TEST(s[0] == std::sqrt(1.25));
    BOOST_TEST(s[1] == std::sqrt(5.0));
    // All elements: mean 3.75, squared deviations sum 37.5.
    BOOST_TEST(std::abs(var(x).item() - 37.5 / 7) < 1e-12);
    // A large common offset does not cancel digits in float32 (the one-pass formula would).
    Tensor big = from_vector<float>({1e4f + 1, 1e4f + 2, 1e4f + 3});
    BOOST_TEST(var(big).item() == 1.0);
    // One element with correction 1: 0 / 0.
    BOOST_TEST(std::isnan(var(from_vector<double>({3.0})).item()));
}

BOOST_AUTO_TEST_CASE(logsumexp_is_stable) {
    Tensor x = from_vector<double>({0, std::log(3.0), 1000, 1000}, {2, 2});
    std::vector<double> y = to_vector<double>(logsumexp(x, {1}));
    BOOST_TEST(std::abs(y[0] - std::log(4.0)) < 1e-15);
    BOOST_TEST(std::abs(y[1] - (1000 + std::log(2.0))) < 1e-12);  // exp(1000) would overflow
    Tensor f = from_vector<float>({-1000, -1000, 88, 89}, {2, 2});
    std::vector<float> yf = to_vector<float>(logsumexp(f, {-1}, true));
    BOOST_TEST(std::abs(yf[0] - (-1000 + std::log(2.0))) < 1e-3);
    BOOST_TEST(std::abs(yf[1] - (89 + std::log1p(std::exp(-1.0)))) < 1e-4);
    BOOST_TEST((logsumexp(f, {-1}, true).shape() == Shape{2, 1}));
    // Over dim 0 (strided blocks), and over everything.
    std::vector<double> c = to_vector<double>(logsumexp(x, {0}));
    BOOST_TEST(std::abs(c[0] - 1000) < 1e-12);
    BOOST_TEST(std::abs(logsumexp(x, {}).item() - (1000 + std::log(2.0))) < 1e-12);
    // All -inf and no elements give -inf; +inf gives +inf.
    const double inf = std::numeric_limits<double>::infinity();
    Tensor g = from_vector<double>({-inf, -inf, 1, inf}, {2, 2});
    std::vector<double> gy = to_vector<double>(logsumexp(g, {1}));
    BOOST_TEST(gy[0] == -inf);
    BOOST_TEST(gy[1] == inf);
    BOOST_TEST(logsumexp(zeros({0}), {0}).item() == -inf);
    BOOST_CHECK_THROW(logsumexp(arange(3), {0}), Error);
}

BOOST_AUTO_TEST_CASE(cumsum_along_any_dim) {
    Tensor x = reshape(arange(6, DType::f32), {2, 3});
    BOOST_TEST((to_vector<float>(cumsum(x, 1)) == std::vector<float>{0, 1, 3, 3, 7, 12}));
    BOOST_TEST((to_vector<float>(cumsum(x, 0)) == std::vector<float>{0, 1, 2, 3, 5, 7}));
    BOOST_TEST(
        (to_vector<float>(cumsum(transpose(x, 0, 1), -1)) == std::vector<float>{0, 3, 1, 5, 2, 7}));
    // Middle dim of (2, 3, 4): running sums of 4 j + 12 i + k over j.
    Tensor y = cumsum(x234(DType::f64), 1);
    BOOST_TEST(element_at(y, {1, 2, 3}) == 15 + 19 + 23);
    BOOST_TEST(element_at(y, {0, 1, 0}) == 0 + 4);
    // int64, and position ids from a bool mask: cumsum(mask, -1) - 1.
    Tensor m = from_vector<int64_t>({1, 1, 1, 0, 1, 1}, {2, 3});
    BOOST_TEST((to_vector<int64_t>(cumsum(m, -1)) == std::vector<int64_t>{1, 2, 3, 0, 1, 2}));
    Tensor mask = from_vector<bool>({false, true, true, true});
    Tensor pos = cumsum(mask, 0) - 1;
    BOOST_TEST((pos.dtype() == DType::i64));
    BOOST_TEST((to_vector<int64_t>(pos) == std::vector<int64_t>{-1, 0, 1, 2}));
    // A long float32 scan accumulates in double: 2^24 + 1 ones would stall at 2^24 in float.
    Tensor ones_long = ones({(1 << 24) + 2});
    BOOST_TEST(to_vector<float>(cumsum(ones_long, 0)).back() == float((1 << 24) + 2));
    BOOST_TEST(cumsum(scalar_tensor(4.0), 0).item() == 4);
    BOOST_CHECK_THROW(cumsum(x, 2), Error);
}

BOOST_AUTO_TEST_CASE(all_and_any) {
    Tensor b = from_vector<bool>({true, true, false, true, false, false}, {2, 3});
    BOOST_TEST((to_vector<bool>(all(b, {1})) == std::vector<bool>{false, false}));
    BOOST_TEST((to_vector<bool>(any(b, {1})) == std::vector<bool>{true, true}));
    BOOST_TEST((to_vector<bool>(all(b, {0})) == std::vector<bool>{true, false, false}));
    BOOST_TEST((to_vector<bool>(any(b, {-2}, true)) == std::vector<bool>{true, true, false}));
    BOOST_TEST((any(b, {-2}, true).shape() == Shape{1, 3}));
    BOOST_TEST(any(b).item() == 1);
    BOOST_TEST(all(b).item() == 0);
    BOOST_TEST(all(zeros({0}, DType::b8)).item() == 1);  // empty: vacuously true
    BOOST_TEST(any(zeros({0}, DType::b8)).item() == 0);
    BOOST_TEST(all(eq(x234(), x234())).item() == 1);
    BOOST_TEST(contains(error_of([] { all(zeros({2})); }), "[all] expects a bool tensor"));
}

BOOST_AUTO_TEST_SUITE_END()
