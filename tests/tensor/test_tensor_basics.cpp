// Creation, dtypes, item, printing and the seeded generator.
#include <boost/test/unit_test.hpp>
#include <omp.h>

#include "autograd/ops.h"

using namespace gradstack;

BOOST_AUTO_TEST_SUITE(basics)

BOOST_AUTO_TEST_CASE(creation_and_dtypes) {
    BOOST_TEST(to_vector<int64_t>(arange(5)) == std::vector<int64_t>({0, 1, 2, 3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(to_vector<double>(arange(1, 2, 0.25, DType::f64)) ==
                   std::vector<double>({1, 1.25, 1.5, 1.75}),
               boost::test_tools::per_element());
    Tensor l = linspace(0, 1, 5, DType::f64);
    BOOST_TEST(to_vector<double>(l) == std::vector<double>({0, 0.25, 0.5, 0.75, 1}),
               boost::test_tools::per_element());
    Tensor f = full({2, 2}, 3.5, DType::f32);
    BOOST_TEST(f.dtype() == DType::f32);
    BOOST_TEST(sum(f).item<float>() == 14.0f);
    BOOST_TEST(scalar_tensor(2).dim() == 0);
    BOOST_TEST(to_vector<int64_t>(to_dtype(from_vector<double>({1.7, -1.7}), DType::i64)) ==
                   std::vector<int64_t>({1, -1}),
               boost::test_tools::per_element());  // truncation toward zero, like PyTorch
    BOOST_CHECK_THROW(from_vector<float>({1, 2, 3}, {2, 2}), Error);
    BOOST_CHECK_THROW(ones({2}).item(), Error);
    BOOST_TEST(sum(to_dtype(from_vector<bool>({true, false, true}), DType::i64)).item<int64_t>() == 2);
}

BOOST_AUTO_TEST_CASE(comparisons_and_where) {
    Tensor a = from_vector<float>({1, 5, 3});
    Tensor b = from_vector<float>({2, 2, 3});
    BOOST_TEST(to_vector<bool>(a > b) == std::vector<bool>({false, true, false}),
               boost::test_tools::per_element());
    BOOST_TEST(to_vector<bool>(a == b) == std::vector<bool>({false, false, true}),
               boost::test_tools::per_element());
    BOOST_TEST(to_vector<float>(where(a > b, a, b)) == std::vector<float>({2, 5, 3}),
               boost::test_tools::per_element());
    BOOST_TEST(to_vector<float>(masked_fill(a, a > b, -1)) == std::vector<float>({1, -1, 3}),
               boost::test_tools::per_element());
    BOOST_TEST(to_vector<float>(clamp(a, 2, 4)) == std::vector<float>({2, 4, 3}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(unary_values) {
    Tensor x = from_vector<double>({-1, 0, 2});
    auto close = [](const Tensor& t, std::vector<double> want) {
        auto got = to_vector<double>(t);
        for (size_t i = 0; i < want.size(); ++i) BOOST_TEST(std::abs(got[i] - want[i]) < 1e-12);
    };
    close(exp(x), {std::exp(-1.0), 1, std::exp(2.0)});
    close(tanh(x), {std::tanh(-1.0), 0, std::tanh(2.0)});
    close(sigmoid(x), {1 / (1 + std::exp(1.0)), 0.5, 1 / (1 + std::exp(-2.0))});
    close(relu(x), {0, 0, 2});
    close(abs(x), {1, 0, 2});
    // gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    auto g = [](double v) {
        return 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    };
    close(gelu(x), {g(-1), 0, g(2)});
    close(pow(from_vector<double>({2, 3}), 3.0), {8, 27});
    BOOST_TEST(std::isnan(log(from_vector<double>({-1})).item()));
}

BOOST_AUTO_TEST_CASE(rng_is_seeded_and_thread_count_independent) {
    Generator g1(42), g2(42), g3(43);
    Tensor a = randn({1000}, DType::f32, &g1);
    Tensor b = randn({1000}, DType::f32, &g2);
    Tensor c = randn({1000}, DType::f32, &g3);
    BOOST_TEST(to_vector<float>(a) == to_vector<float>(b), boost::test_tools::per_element());
    BOOST_TEST(to_vector<float>(a) != to_vector<float>(c));
    // A second draw continues the stream rather than repeating it.
    BOOST_TEST(to_vector<float>(randn({1000}, DType::f32, &g1)) != to_vector<float>(a));
    // Large draws run in parallel: 1 and 2 threads must agree.
    int before = omp_get_max_threads();
    omp_set_num_threads(1);
    Generator s1(7);
    auto one = to_vector<double>(randn({100000}, DType::f64, &s1));
    omp_set_num_threads(2);
    Generator s2(7);
    auto two = to_vector<double>(randn({100000}, DType::f64, &s2));
    omp_set_num_threads(before);
    BOOST_TEST(one == two);
    // Moments of the normal and uniform samples.
    double m = mean(from_vector<double>(one)).item();
    double v = mean(pow(from_vector<double>(one) - m, 2.0)).item();
    BOOST_TEST(std::abs(m) < 0.02);
    BOOST_TEST(std::abs(v - 1) < 0.02);
    Generator s3(9);
    double um = mean(rand({100000}, DType::f64, &s3)).item();
    BOOST_TEST(std::abs(um - 0.5) < 0.01);
    Tensor r = randint(3, 7, {1000}, &s3);
    auto rv = to_vector<int64_t>(r);
    BOOST_TEST(*std::min_element(rv.begin(), rv.end()) == 3);
    BOOST_TEST(*std::max_element(rv.begin(), rv.end()) == 6);
    auto p = to_vector<int64_t>(randperm(10, &s3));
    std::sort(p.begin(), p.end());
    BOOST_TEST(p == to_vector<int64_t>(arange(10)), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(printing_like_pytorch) {
    std::string s = to_string(from_vector<float>({1, 2.5, -3}, {3}));
    BOOST_TEST(s == "tensor([ 1.0000,  2.5000, -3.0000], shape=(3,), dtype=float32, device=cpu)");
    std::string m = to_string(reshape(arange(6), {2, 3}));
    BOOST_TEST(m == "tensor([[0, 1, 2],\n        [3, 4, 5]], shape=(2, 3), dtype=int64, device=cpu)");
    std::string big = to_string(arange(5000));
    BOOST_TEST(big.find("...") != std::string::npos);
    BOOST_TEST(big.find("4999") != std::string::npos);
    BOOST_TEST(to_string(from_vector<bool>({true, false})).find("True, False") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(large_elementwise_matches_serial_reference) {
    // Exercises the parallel, strided and broadcast paths of the elementwise engine.
    Generator g(3);
    Tensor a = randn({257, 130}, DType::f32, &g);
    Tensor b = randn({130}, DType::f32, &g);
    Tensor at = transpose(randn({130, 257}, DType::f32, &g), 0, 1);
    Tensor y = a * b + at;
    auto va = to_vector<float>(a), vb = to_vector<float>(b), vt = to_vector<float>(at),
         vy = to_vector<float>(y);
    size_t bad = 0;
    for (size_t i = 0; i < vy.size(); ++i) {
        double want = static_cast<double>(va[i]) * vb[i % 130] + vt[i];
        if (std::abs(vy[i] - want) > 1e-5 * (1 + std::abs(want))) ++bad;
    }
    BOOST_TEST(bad == 0u);
    Tensor s = sum(at, {0});
    auto vs = to_vector<float>(s);
    for (int64_t j = 0; j < 130; j += 17) {
        double ref = 0;
        for (int64_t i = 0; i < 257; ++i) ref += vt[i * 130 + j];
        BOOST_TEST(std::abs(vs[j] - ref) < 1e-3);
    }
}

BOOST_AUTO_TEST_SUITE_END()
