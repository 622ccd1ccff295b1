// matmul and linear forward values: small products worked by hand, torch.matmul's 1-d and batch
// broadcasting rules, every operand layout the CPU kernel handles (checked against a naive
// triple loop), and the errors.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/ops.h"
#include "tensor/kernels/linalg.h"
#include "tensor/view.h"

using namespace gradstack;

namespace {

// a @ b by the definition, for a [..., M, K] and b [..., K, N] with broadcast batch dims, using
// element_at so that any layout is read correctly. Returns a float64 tensor.
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
    Shape shape = kernels::matmul_shape(a, b);
    Tensor out = zeros(shape, DType::f64);
    const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    const int64_t nb = static_cast<int64_t>(shape.size()) - 2;
    std::vector<double> values;
    for (int64_t flat = 0; flat < out.numel(); ++flat) {
        std::vector<int64_t> idx(shape.size());
        for (int64_t d = nb + 1, rem = flat; d >= 0; --d) {
            idx[d] = rem % shape[d];
            rem /= shape[d];
        }
        // Batch index of each operand: aligned right, 0 where the operand has size 1.
        auto operand_index = [&](const Tensor& t, int64_t row, int64_t col) {
            std::vector<int64_t> i(t.dim());
            for (int64_t d = 0; d < t.dim() - 2; ++d) {
                int64_t od = d + nb - (t.dim() - 2);
                i[d] = t.size(d) == 1 ? 0 : idx[od];
            }
            i[t.dim() - 2] = row;
            i[t.dim() - 1] = col;
            return i;
        };
        int64_t m = idx[nb], n = idx[nb + 1];
        double acc = 0;
        for (int64_t k = 0; k < K; ++k)
            acc += element_at(a, operand_index(a, m, k)) * element_at(b, operand_index(b, k, n));
        values.push_back(acc);
    }
    (void)M;
    (void)N;
    return from_vector<double>(values, shape);
}

// |got - want| <= tol * max(1, |want|) elementwise: relative for large values, absolute near 0
// (a sum of many products can cancel to almost nothing, where float32 has no relative accuracy).
void check_close(const Tensor& got, const Tensor& want, double tol) {
    BOOST_REQUIRE(got.shape() == want.shape());
    std::vector<double> g = to_vector<double>(got), w = to_vector<double>(want);
    for (size_t i = 0; i < g.size(); ++i)
        BOOST_TEST(std::abs(g[i] - w[i]) <= tol * std::max(1.0, std::abs(w[i])),
                   "element " << i << ": " << g[i] << " vs " << w[i]);
}

// Standard normal values from a fixed seed.
Tensor normal(const Shape& shape, DType dtype = DType::f32) {
    static Generator gen(42);
    return randn(shape, dtype, &gen);
}

// Checks matmul(a, b) against the naive product (float32 results to 1e-4 relative).
void check_product(const Tensor& a, const Tensor& b) {
    check_close(matmul(a, b), naive_matmul(a, b), a.dtype() == DType::f32 ? 1e-4 : 1e-12);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(matmul_suite)

BOOST_AUTO_TEST_CASE(small_products_by_hand) {
    Tensor a = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = from_vector<float>({7, 8, 9, 10, 11, 12}, {3, 2});
    // [1 2 3; 4 5 6] @ [7 8; 9 10; 11 12] = [58 64; 139 154]
    BOOST_TEST(to_vector<float>(matmul(a, b)) == std::vector<float>({58, 64, 139, 154}),
               boost::test_tools::per_element());
    Tensor v = from_vector<double>({1, 2, 3});
    Tensor w = from_vector<double>({4, -5, 6});
    Tensor dot = matmul(v, w);  // 4 - 10 + 18
    BOOST_TEST(dot.dim() == 0);
    BOOST_TEST(dot.item() == 12.0);
}

BOOST_AUTO_TEST_CASE(one_d_promotions_follow_torch) {
    Tensor v = from_vector<float>({1, 2});
    Tensor m = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor vm = matmul(v, m);  // [1, 2] @ [1 2 3; 4 5 6] = [9 12 15]
    BOOST_TEST((vm.shape() == Shape{3}));
    BOOST_TEST(to_vector<float>(vm) == std::vector<float>({9, 12, 15}),
               boost::test_tools::per_element());
    Tensor u = from_vector<float>({1, 0, -1});
    Tensor mu = matmul(m, u);  // [1 - 3, 4 - 6]
    BOOST_TEST((mu.shape() == Shape{2}));
    BOOST_TEST(to_vector<float>(mu) == std::vector<float>({-2, -2}),
               boost::test_tools::per_element());
    // 1-d with a batch: [K] @ [B, K, N] -> [B, N]; [B, M, K] @ [K] -> [B, M].
    Tensor bm = normal({4, 2, 3});
    BOOST_TEST((matmul(v, bm).shape() == Shape{4, 3}));
    check_close(matmul(v, bm), reshape(naive_matmul(views::unsqueeze(v, 0), bm), {4, 3}), 1e-5);
    BOOST_TEST((matmul(normal({4, 2, 3}), u).shape() == Shape{4, 2}));
}

BOOST_AUTO_TEST_CASE(batch_dims_broadcast) {
    // [B, 1, M, K] @ [H, K, N] -> [B, H, M, N]
    Tensor a = normal({2, 1, 3, 4}), b = normal({5, 4, 6});
    BOOST_TEST((matmul(a, b).shape() == Shape{2, 5, 3, 6}));
    check_product(a, b);
    check_product(normal({3, 4}), normal({2, 4, 5}));  // 2-d a, batched b
    check_product(normal({2, 3, 4}), normal({4, 5}));  // batched a, 2-d b: one folded GEMM
    check_product(normal({2, 3, 1, 4}), normal({1, 4, 2}));
    // Stride-0 batch dims (expanded), read in place.
    check_product(views::expand(normal({1, 3, 4}), {5, 3, 4}), normal({5, 4, 2}));
}

BOOST_AUTO_TEST_CASE(every_layout_in_both_dtypes) {
    for (DType dt : {DType::f32, DType::f64}) {
        BOOST_TEST_CONTEXT(dtype_name(dt)) {
            Tensor a = normal({5, 7}, dt), b = normal({7, 6}, dt);
            check_product(a, b);
            // Column-major operands (transposed views) and the weight layout x @ W^T.
            Tensor at = views::transpose(normal({7, 5}, dt), 0, 1);
            Tensor bt = views::transpose(normal({6, 7}, dt), 0, 1);
            check_product(at, b);
            check_product(a, bt);
            check_product(at, bt);
            // Rows with a gap (row stride > cols), columns with step 2 (copied), stride-0 rows.
            check_product(views::slice(normal({5, 10}, dt), 1, 1, 8), b);
            check_product(a, views::slice(normal({7, 12}, dt), 1, 0, 12, 2));
            check_product(views::expand(normal({1, 7}, dt), {5, 7}), b);
            // Matrix-vector shapes (gemv): one row, one column, a strided single row.
            check_product(normal({1, 7}, dt), bt);
            check_product(normal({1, 7}, dt), b);
            check_product(views::slice(normal({1, 14}, dt), 1, 0, 14, 2), bt);
            check_product(a, normal({7, 1}, dt));
            check_product(at, views::slice(normal({7, 3}, dt), 1, 1, 2));
            // Batched transposed operands, and a batch of small products (the parallel loop).
            check_product(views::transpose(normal({3, 7, 5}, dt), 1, 2), normal({3, 7, 6}, dt));
            Tensor q = normal({8, 16, 4}, dt), k = normal({8, 16, 4}, dt);
            check_product(q, views::transpose(k, 1, 2));
            // Batched a whose batch cannot fold into rows (transposed batch dims) with 2-d b.
            check_product(views::transpose(normal({4, 3, 7}, dt), 0, 1), b);
        }
    }
}

BOOST_AUTO_TEST_CASE(large_product_matches) {
    // Big enough for BLAS's threaded path; compared in float64 against the float32 result.
    Tensor a = normal({64, 300}), b = normal({300, 130});
    Tensor got = matmul(a, b);
    Tensor want = matmul(to_dtype(a, DType::f64), to_dtype(b, DType::f64));
    check_close(got, want, 1e-4);
}

BOOST_AUTO_TEST_CASE(kernel_output_layouts_and_accumulate) {
    Tensor a = normal({3, 4}), b = normal({4, 5});
    Tensor want = naive_matmul(a, b);
    // A transposed output view: computed in a buffer, then copied through the view.
    Tensor store = zeros({5, 3});
    Tensor out = views::transpose(store, 0, 1);
    kernels::matmul(out, a, b, false);
    check_close(out, want, 1e-5);
    // accumulate: out += a @ b.
    Tensor acc = ones({3, 5});
    kernels::matmul(acc, a, b, true);
    check_close(acc, naive_matmul(a, b) + 1.0, 1e-5);
    kernels::matmul(out, a, b, true);
    check_close(out, want * 2.0, 1e-5);
    // K = 0: an empty sum is zero. (empty, not zeros: filling a 0-element tensor divides by
    // zero in the core's cpu/loops.h for_each_segment, reported upstream.)
    Tensor z = matmul(empty({3, 0}), empty({0, 2}));
    BOOST_TEST((z.shape() == Shape{3, 2}));
    BOOST_TEST(to_vector<float>(z) == std::vector<float>(6, 0.0f),
               boost::test_tools::per_element());
    BOOST_TEST((matmul(empty({0, 3}), empty({3, 2})).shape() == Shape{0, 2}));
}

BOOST_AUTO_TEST_CASE(linear_adds_bias) {
    Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor w = from_vector<float>({1, 0, 0, 0, 1, 1}, {2, 3});  // [out = 2, in = 3]
    Tensor bias = from_vector<float>({10, 20});
    // rows: [1, 2 + 3] + [10, 20], [4, 5 + 6] + [10, 20]
    BOOST_TEST(to_vector<float>(linear(x, w, bias)) == std::vector<float>({11, 25, 14, 31}),
               boost::test_tools::per_element());
    BOOST_TEST(to_vector<float>(linear(x, w)) == std::vector<float>({1, 5, 4, 11}),
               boost::test_tools::per_element());
    Tensor y1 = linear(from_vector<float>({1, 2, 3}), w, bias);
    BOOST_TEST((y1.shape() == Shape{2}));
    BOOST_TEST(to_vector<float>(y1) == std::vector<float>({11, 25}),
               boost::test_tools::per_element());
    Tensor xb = normal({2, 3, 8}), wb = normal({5, 8}), bb = normal({5});
    check_close(linear(xb, wb, bb),
                naive_matmul(xb, views::transpose(wb, 0, 1)) + to_dtype(bb, DType::f64), 1e-4);
}

BOOST_AUTO_TEST_CASE(errors_name_both_shapes) {
    try {
        matmul(zeros({2, 3}), zeros({4, 5}));
        BOOST_FAIL("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "[matmul] last dim of a (2, 3) must match dim -2 of b (4, 5)");
    }
    BOOST_CHECK_THROW(matmul(zeros({3}), zeros({4})), Error);
    BOOST_CHECK_THROW(matmul(zeros({2, 3}), zeros({4})), Error);
    BOOST_CHECK_THROW(matmul(zeros({2, 2, 3}), zeros({3, 3, 4})), Error);  // batch 2 vs 3
    BOOST_CHECK_THROW(matmul(scalar_tensor(1), zeros({3})), Error);
    BOOST_CHECK_THROW(matmul(zeros({2, 3}), zeros({3, 2}, DType::f64)), Error);
    try {
        matmul(zeros({2, 3}, DType::i64), zeros({3, 2}, DType::i64));
        BOOST_FAIL("expected an error");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("int64") != std::string::npos);
    }
    BOOST_CHECK_THROW(linear(zeros({2, 3}), zeros({4, 2})), Error);              // in 3 vs 2
    BOOST_CHECK_THROW(linear(zeros({2, 3}), zeros({3})), Error);                 // weight not 2-d
    BOOST_CHECK_THROW(linear(zeros({2, 3}), zeros({4, 3}), zeros({3})), Error);  // bias size
    BOOST_CHECK_THROW(kernels::matmul(zeros({2, 2}), zeros({2, 3}), zeros({3, 4}), false), Error);
}

BOOST_AUTO_TEST_SUITE_END()
