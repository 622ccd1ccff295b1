// Forward values of the indexing, joining and ordering ops (autograd/ops/index.h) against
// hand-computed results, their error messages, and multinomial's statistics and reproducibility.
// Gradients are checked by the catalog (tests/autograd/catalog_index.cpp).
#include <omp.h>

#include <boost/test/unit_test.hpp>

#include "autograd/ops.h"
#include "tests/test_util.h"

using gradstack::testing::contains;
using gradstack::testing::error_of;

using namespace gradstack;

namespace {

Tensor ids(const std::vector<int64_t>& values, Shape shape = {}) {
    return from_vector<int64_t>(values, shape);
}

// 0, 1, 2, ... as float32 in `shape`.
Tensor iota(const Shape& shape) {
    return reshape(arange(0, static_cast<double>(numel(shape)), 1, DType::f32), shape);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(index_suite)

BOOST_AUTO_TEST_CASE(index_select_picks_slices) {
    Tensor x = iota({2, 3, 2});  // x[a][b][c] = 6a + 2b + c
    Tensor y = index_select(x, 1, ids({2, 0, 2}));
    BOOST_TEST((y.shape() == Shape{2, 3, 2}));
    BOOST_TEST((to_vector<float>(y) == std::vector<float>{4, 5, 0, 1, 4, 5, 10, 11, 6, 7, 10, 11}));
    Tensor z = index_select(transpose(x, 0, 2), -1, ids({1}));  // non-contiguous input
    BOOST_TEST((z.shape() == Shape{2, 3, 1}));
    BOOST_TEST((to_vector<float>(z) == std::vector<float>{6, 8, 10, 7, 9, 11}));
    Tensor e = index_select(x, 0, ids({}));
    BOOST_TEST((e.shape() == Shape{0, 3, 2}));
    std::string m = error_of([&] { index_select(x, 1, ids({0, 3})); });
    BOOST_TEST(contains(m, "[index_select] index 3 is out of range for dim 1 of size 3"), m);
    BOOST_CHECK_THROW(index_select(x, 1, ids({-1})), Error);
    BOOST_CHECK_THROW(index_select(x, 1, from_vector<float>({0})), Error);
    BOOST_CHECK_THROW(index_select(x, 1, ids({0, 1}, {1, 2})), Error);
}

BOOST_AUTO_TEST_CASE(embedding_rows_and_accumulated_gradient) {
    Tensor w = iota({4, 3}).requires_grad_();
    Tensor y = embedding(w, ids({3, 1, 3, 0}, {2, 2}));
    BOOST_TEST((y.shape() == Shape{2, 2, 3}));
    BOOST_TEST((to_vector<float>(y) == std::vector<float>{9, 10, 11, 3, 4, 5, 9, 10, 11, 0, 1, 2}));
    sum(y).backward();
    // id 3 appears twice, 2 never.
    BOOST_TEST(
        (to_vector<float>(w.grad()) == std::vector<float>{1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 2, 2}));
    std::string m = error_of([&] { embedding(w, ids({4})); });
    BOOST_TEST(contains(m, "[embedding]"), m);
    BOOST_TEST(contains(m, "index 4 is out of range for dim 0 of size 4"), m);
    BOOST_CHECK_THROW(embedding(iota({4}), ids({0})), Error);
}

BOOST_AUTO_TEST_CASE(embedding_backward_is_thread_safe_for_repeated_ids) {
    // Many repeats of few ids over wide rows: the parallel accumulation must not race.
    const int64_t V = 5, C = 4096, n = 64;
    Tensor w = ones({V, C}).requires_grad_();
    std::vector<int64_t> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = i % 3;
    sum(embedding(w, ids(v))).backward();
    std::vector<float> g = to_vector<float>(w.grad());
    BOOST_TEST(g[0] == 22);              // id 0: i = 0, 3, ..., 63
    BOOST_TEST(g[1 * C + C - 1] == 21);  // id 1
    BOOST_TEST(g[2 * C + 7] == 21);
    BOOST_TEST(g[3 * C] == 0);
}

BOOST_AUTO_TEST_CASE(gather_and_scatter_add) {
    Tensor x = iota({2, 3});  // [[0, 1, 2], [3, 4, 5]]
    Tensor g = gather(x, 1, ids({2, 2, 0, 1, 0, 1}, {2, 3}));
    BOOST_TEST((to_vector<float>(g) == std::vector<float>{2, 2, 0, 4, 3, 4}));
    Tensor g0 = gather(x, 0, ids({1, 0}, {1, 2}));
    BOOST_TEST((to_vector<float>(g0) == std::vector<float>{3, 1}));
    Tensor s = scatter_add(zeros({2, 3}), 1, ids({2, 2, 0, 1}, {2, 2}), iota({2, 2}) + 1.0);
    BOOST_TEST((to_vector<float>(s) == std::vector<float>{0, 0, 3, 3, 4, 0}));
    Tensor s0 = scatter_add(x, 0, ids({1, 1}, {1, 2}), full({1, 3}, 10));
    BOOST_TEST((to_vector<float>(s0) == std::vector<float>{0, 1, 2, 13, 14, 5}));
    std::string m = error_of([&] { gather(x, 1, ids({3}, {1, 1})); });
    BOOST_TEST(contains(m, "[gather] index 3 is out of range for dim 1 of size 3"), m);
    BOOST_CHECK_THROW(gather(x, 1, ids({0, 0, 0}, {3, 1})), Error);  // 3 rows > 2
    BOOST_CHECK_THROW(gather(x, 1, ids({0}, {1})), Error);           // wrong number of dims
    BOOST_CHECK_THROW(scatter_add(x, 0, ids({0}, {1, 1}), zeros({1, 1}, DType::f64)), Error);
}

BOOST_AUTO_TEST_CASE(cat_and_stack) {
    Tensor a = iota({2, 2}), b = iota({2, 1}) + 10.0, e = zeros({2, 0});
    Tensor c = cat({a, e, b}, -1);
    BOOST_TEST((c.shape() == Shape{2, 3}));
    BOOST_TEST((to_vector<float>(c) == std::vector<float>{0, 1, 10, 2, 3, 11}));
    Tensor c0 = cat({a, transpose(a, 0, 1)}, 0);  // a non-contiguous input takes the strided path
    BOOST_TEST((to_vector<float>(c0) == std::vector<float>{0, 1, 2, 3, 0, 2, 1, 3}));
    Tensor st = stack({a, a * 2.0}, -1);
    BOOST_TEST((st.shape() == Shape{2, 2, 2}));
    BOOST_TEST((to_vector<float>(st) == std::vector<float>{0, 0, 1, 2, 2, 4, 3, 6}));
    Tensor i = cat({ids({1, 2}), ids({3})});
    BOOST_TEST((to_vector<int64_t>(i) == std::vector<int64_t>{1, 2, 3}));
    std::string m = error_of([&] { cat({a, b, iota({3, 1})}, 1); });
    BOOST_TEST(contains(m, "[cat] tensor 2 has shape (3, 1) but tensor 0 has shape (2, 2)"), m);
    m = error_of([&] { stack({a, b}); });
    BOOST_TEST(contains(m, "[stack] tensor 1 has shape (2, 1)"), m);
    BOOST_CHECK_THROW(cat({a, iota({2, 2, 1})}, 0), Error);
    BOOST_CHECK_THROW(cat({a, zeros({2, 2}, DType::f64)}, 0), Error);
    BOOST_CHECK_THROW(cat({}, 0), Error);
}

BOOST_AUTO_TEST_CASE(split_and_chunk_are_views) {
    Tensor x = iota({7, 2});
    std::vector<Tensor> p = split(x, 3);
    BOOST_TEST(p.size() == 3u);
    BOOST_TEST((p[2].shape() == Shape{1, 2}));
    BOOST_TEST(p[1].storage() == x.storage());
    BOOST_TEST(element_at(p[1], {0, 1}) == 7);
    std::vector<Tensor> q = split(x, std::vector<int64_t>{1, 0, 1}, 1);
    BOOST_TEST((q[1].shape() == Shape{7, 0}));
    BOOST_TEST(element_at(q[2], {3, 0}) == 7);
    std::vector<Tensor> c = chunk(x, 3);  // ceil(7 / 3) = 3 -> 3, 3, 1
    BOOST_TEST(c.size() == 3u);
    BOOST_TEST(chunk(iota({6}), 4).size() == 3u);  // ceil(6 / 4) = 2 -> 2, 2, 2
    BOOST_TEST(chunk(zeros({0}), 2).size() == 2u);
    BOOST_TEST(split(x, {2}).size() == 4u);  // {2} is a split_size
    std::string m = error_of([&] { split(x, std::vector<int64_t>{3, 3}); });
    BOOST_TEST(contains(m, "[split] sizes (3, 3) add up to 6"), m);
    BOOST_CHECK_THROW(split(x, 0), Error);
    BOOST_CHECK_THROW(chunk(x, 0), Error);
}

BOOST_AUTO_TEST_CASE(triu_and_tril) {
    Tensor x = iota({3, 4}) + 1.0;
    BOOST_TEST(
        (to_vector<float>(triu(x)) == std::vector<float>{1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12}));
    BOOST_TEST(
        (to_vector<float>(triu(x, 2)) == std::vector<float>{0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0}));
    BOOST_TEST(
        (to_vector<float>(tril(x)) == std::vector<float>{1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0}));
    BOOST_TEST(
        (to_vector<float>(tril(x, -1)) == std::vector<float>{0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0}));
    // Batched and non-contiguous: tril of a transposed batch.
    Tensor b = permute(iota({3, 2, 2}), {1, 2, 0});  // (2, 2, 3)
    Tensor t = tril(b);
    BOOST_TEST((to_vector<float>(t) == std::vector<float>{0, 0, 0, 1, 5, 0, 2, 0, 0, 3, 7, 0}));
    Tensor mask = tril(ones({3, 3}, DType::b8));
    BOOST_TEST(element_at(mask, {0, 1}) == 0);
    BOOST_TEST(element_at(mask, {2, 1}) == 1);
    BOOST_CHECK_THROW(triu(iota({3})), Error);
}

BOOST_AUTO_TEST_CASE(topk_values_indices_and_ties) {
    Tensor x = from_vector<float>({1, 5, 3, 5, 2, 0, -1, 4}, {2, 4});
    auto [v, i] = topk(x, 2);
    BOOST_TEST((to_vector<float>(v) == std::vector<float>{5, 5, 4, 2}));
    BOOST_TEST((to_vector<int64_t>(i) == std::vector<int64_t>{1, 3, 3, 0}));  // tie: lower first
    auto [vs, is] = topk(x, 3, 1, false);
    BOOST_TEST((to_vector<float>(vs) == std::vector<float>{1, 3, 5, -1, 0, 2}));
    BOOST_TEST((to_vector<int64_t>(is) == std::vector<int64_t>{0, 2, 1, 2, 1, 0}));
    auto [v0, i0] = topk(x, 1, 0);
    BOOST_TEST((to_vector<int64_t>(i0) == std::vector<int64_t>{1, 0, 0, 0}));
    float nan = std::numeric_limits<float>::quiet_NaN();
    auto [vn, in] = topk(from_vector<float>({1, nan, 3}), 2);
    BOOST_TEST((to_vector<int64_t>(in) == std::vector<int64_t>{1, 2}));
    BOOST_TEST(topk(x, 0).second.numel() == 0);
    std::string m = error_of([&] { topk(x, 5); });
    BOOST_TEST(contains(m, "[topk] k = 5 is out of range for dim 1 of size 4"), m);
}

BOOST_AUTO_TEST_CASE(topk_long_rows_match_sort) {
    // A decoding-sized row (50257 logits) in parallel rows: the top 40 equal the sort's first 40.
    Generator gen(7);
    Tensor x = randn({3, 50257}, DType::f32, &gen);
    auto [v, i] = topk(x, 40);
    auto [sv, si] = sort(x, -1, true);
    BOOST_TEST((to_vector<int64_t>(i) == to_vector<int64_t>(slice(si, 1, 0, 40).detach())));
    std::vector<float> vv = to_vector<float>(v);
    BOOST_TEST(std::is_sorted(vv.begin(), vv.begin() + 40, std::greater<float>()));
}

BOOST_AUTO_TEST_CASE(sort_is_stable) {
    Tensor x = from_vector<float>({3, 1, 2, 1, 3, 0}, {6});
    auto [v, i] = sort(x);
    BOOST_TEST((to_vector<float>(v) == std::vector<float>{0, 1, 1, 2, 3, 3}));
    BOOST_TEST((to_vector<int64_t>(i) == std::vector<int64_t>{5, 1, 3, 2, 0, 4}));
    auto [vd, id] = sort(x, 0, true);
    BOOST_TEST((to_vector<int64_t>(id) == std::vector<int64_t>{0, 4, 2, 1, 3, 5}));
    Tensor m = from_vector<int64_t>({2, 4, 1, 9}, {2, 2});
    BOOST_TEST((to_vector<int64_t>(argsort(m, 0)) == std::vector<int64_t>{1, 0, 0, 1}));
    BOOST_CHECK_THROW(sort(ones({2}, DType::b8)), Error);
}

BOOST_AUTO_TEST_CASE(multinomial_frequencies_match_probabilities) {
    Generator gen(42);
    const int64_t n = 20000;
    Tensor draws = multinomial(from_vector<float>({1, 2, 7}), n, true, &gen);  // unnormalised
    BOOST_TEST((draws.shape() == Shape{n}));
    std::vector<int64_t> count(3, 0);
    for (int64_t d : to_vector<int64_t>(draws)) ++count.at(d);
    // Standard deviation of a frequency: sqrt(p (1 - p) / n) <= 0.0036; allow 4 of them.
    BOOST_TEST(std::abs(count[0] / double(n) - 0.1) < 0.015);
    BOOST_TEST(std::abs(count[1] / double(n) - 0.2) < 0.015);
    BOOST_TEST(std::abs(count[2] / double(n) - 0.7) < 0.015);
    // Zero-probability categories are never drawn.
    Tensor z = multinomial(from_vector<double>({0, 1, 0, 1}), 1000, true, &gen);
    for (int64_t d : to_vector<int64_t>(z)) BOOST_TEST((d == 1 || d == 3));
}

BOOST_AUTO_TEST_CASE(multinomial_without_replacement) {
    Generator gen(3);
    // First draws follow the probabilities; a row's draws are distinct and non-zero entries only.
    const int64_t rows = 20000;
    Tensor p = expand(from_vector<float>({0.1f, 0.2f, 0.7f, 0}, {1, 4}), {rows, 4});
    Tensor d = multinomial(p, 3, false, &gen);
    BOOST_TEST((d.shape() == Shape{rows, 3}));
    std::vector<int64_t> v = to_vector<int64_t>(d);
    std::vector<int64_t> first(4, 0);
    for (int64_t r = 0; r < rows; ++r) {
        ++first[v[r * 3]];
        std::vector<int64_t> row(v.begin() + r * 3, v.begin() + r * 3 + 3);
        std::sort(row.begin(), row.end());
        BOOST_TEST((row == std::vector<int64_t>{0, 1, 2}));
        if (row != std::vector<int64_t>{0, 1, 2}) break;
    }
    BOOST_TEST(std::abs(first[2] / double(rows) - 0.7) < 0.015);
    BOOST_TEST(std::abs(first[0] / double(rows) - 0.1) < 0.015);
    // The second draw given the first was 2: 0 with probability 0.1 / 0.3.
    int64_t after2 = 0, zero_after2 = 0;
    for (int64_t r = 0; r < rows; ++r)
        if (v[r * 3] == 2) ++after2, zero_after2 += v[r * 3 + 1] == 0;
    BOOST_TEST(std::abs(zero_after2 / double(after2) - 1.0 / 3) < 0.02);
    std::string m = error_of([&] { multinomial(from_vector<float>({0.5f, 0, 0.5f}), 3); });
    BOOST_TEST(contains(m, "only 2 non-zero entries"), m);
}

BOOST_AUTO_TEST_CASE(multinomial_is_reproducible_across_thread_counts) {
    Generator weights(11);
    Tensor p = rand({64, 1000}, DType::f32, &weights);
    auto draw = [&](int threads, bool replacement) {
        const int saved = omp_get_max_threads();
        omp_set_num_threads(threads);
        Generator gen(5);
        std::vector<int64_t> a = to_vector<int64_t>(multinomial(p, 8, replacement, &gen));
        std::vector<int64_t> b = to_vector<int64_t>(multinomial(p, 8, replacement, &gen));
        omp_set_num_threads(saved);
        a.insert(a.end(), b.begin(), b.end());  // the second call continues the counter
        return a;
    };
    for (bool replacement : {true, false}) {
        std::vector<int64_t> one = draw(1, replacement);
        BOOST_TEST((one == draw(2, replacement)));
        BOOST_TEST((one == draw(3, replacement)));
        BOOST_TEST(!std::equal(one.begin(), one.begin() + 512, one.begin() + 512));
    }
    Generator g1(9), g2(10);
    BOOST_TEST((to_vector<int64_t>(multinomial(p, 4, true, &g1)) !=
                to_vector<int64_t>(multinomial(p, 4, true, &g2))));
}

BOOST_AUTO_TEST_CASE(multinomial_rejects_bad_rows) {
    float nan = std::numeric_limits<float>::quiet_NaN();
    float inf = std::numeric_limits<float>::infinity();
    std::string m = error_of([&] { multinomial(from_vector<float>({1, 1, 0, -1}, {2, 2}), 1); });
    BOOST_TEST(contains(m, "[multinomial] row 1 has probability -1 at column 1"), m);
    BOOST_CHECK_THROW(multinomial(from_vector<float>({1, nan}), 1), Error);
    BOOST_CHECK_THROW(multinomial(from_vector<float>({1, inf}), 1), Error);
    m = error_of([&] { multinomial(from_vector<float>({0, 0}), 1, true); });
    BOOST_TEST(contains(m, "row 0 sums to 0"), m);
    BOOST_CHECK_THROW(multinomial(from_vector<float>({1, 1}), 3), Error);
    BOOST_CHECK_THROW(multinomial(ids({1, 1}), 1), Error);
    BOOST_CHECK_THROW(multinomial(from_vector<float>({1, 1}), 0), Error);
}

BOOST_AUTO_TEST_CASE(one_hot_marks_ids) {
    Tensor h = one_hot(ids({2, 0, 1, 2}, {2, 2}), 3);
    BOOST_TEST((h.shape() == Shape{2, 2, 3}));
    BOOST_TEST((to_vector<int64_t>(h) == std::vector<int64_t>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}));
    BOOST_CHECK_THROW(one_hot(ids({3}), 3), Error);
    BOOST_CHECK_THROW(one_hot(ids({0}), 0), Error);
}

BOOST_AUTO_TEST_SUITE_END()
