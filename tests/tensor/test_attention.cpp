// The fused attention op (autograd/ops/nn.h, scaled_dot_product_attention) against the explicit
// composition it replaces (matmul, where, softmax, dropout, matmul, written out here): forward and
// the gradients of q, k and v in float64, with a cache, a padding mask, odd layouts and dropout;
// dropout's keep rate and seeding; thread-count independence; errors for bad shapes.
#include <omp.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "tensor/kernels/nn.h"
#include "tests/test_util.h"

using namespace gradstack;
using gradstack::testing::error_of;

namespace {

// Hugging Face's GPT-2 attention, op by op, as nn/layers/attention.cpp computed it before the
// fused op: q (B, nh, T, hs), k and v (B, nh, S, hs), query i at position S - T + i.
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                          double p = 0, Generator* gen = nullptr) {
    const int64_t T = q.size(2), S = k.size(2), hs = q.size(3);
    Tensor scores = matmul(q, transpose(k, -2, -1)) / std::sqrt(static_cast<double>(hs));
    Tensor causal = le(reshape(arange(S), {1, S}), reshape(arange(S - T, S, 1), {T, 1}));
    const double lowest = q.dtype() == DType::f32
                              ? static_cast<double>(std::numeric_limits<float>::lowest())
                              : std::numeric_limits<double>::lowest();
    scores = where(causal, scores, scalar_like(scores, lowest));
    if (mask.defined()) scores = scores + mask;
    Tensor att = softmax(scores, -1);
    if (p > 0) att = dropout(att, p, true, gen);
    return matmul(att, v);
}

// An additive (B, 1, 1, S) mask: lowest where pad[b][j], else 0.
Tensor padding_mask(const std::vector<std::vector<int>>& pad, DType dtype) {
    std::vector<double> m;
    const double lowest = dtype == DType::f32
                              ? static_cast<double>(std::numeric_limits<float>::lowest())
                              : std::numeric_limits<double>::lowest();
    for (const auto& row : pad)
        for (int x : row) m.push_back(x ? lowest : 0.0);
    return to_dtype(from_vector<double>(m, {static_cast<int64_t>(pad.size()), 1, 1,
                                            static_cast<int64_t>(pad[0].size())}),
                    dtype);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    BOOST_REQUIRE(a.shape() == b.shape());
    std::vector<double> va = to_vector<double>(a), vb = to_vector<double>(b);
    double worst = 0;
    for (size_t i = 0; i < va.size(); ++i) {
        if (std::isnan(va[i]) || std::isnan(vb[i])) return INFINITY;
        worst = std::max(worst, std::abs(va[i] - vb[i]));
    }
    return worst;
}

struct Result {
    Tensor out, gq, gk, gv;
};

// Runs `attend` on fresh float64 leaves made from the given values and returns its output and
// the gradients of sum(out * weights). `make` may turn the leaves into views first.
using Attend = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&)>;
Result run(const Attend& attend, const Tensor& q0, const Tensor& k0, const Tensor& v0,
           const Tensor& weights) {
    Tensor q = q0.detach().requires_grad_(), k = k0.detach().requires_grad_(),
           v = v0.detach().requires_grad_();
    Tensor out = attend(q, k, v);
    sum(out * weights).backward();
    return {out.detach(), q.grad(), k.grad(), v.grad()};
}

void check_same_results(const Result& a, const Result& b, double tol) {
    BOOST_TEST(max_abs_diff(a.out, b.out) <= tol);
    BOOST_TEST(max_abs_diff(a.gq, b.gq) <= tol);
    BOOST_TEST(max_abs_diff(a.gk, b.gk) <= tol);
    BOOST_TEST(max_abs_diff(a.gv, b.gv) <= tol);
}

// Fused vs composed in float64 on random inputs of the given sizes, with an optional mask.
void check_against_composition(int64_t B, int64_t nh, int64_t T, int64_t S, int64_t hs,
                               const Tensor& mask = Tensor()) {
    BOOST_TEST_CONTEXT("B " << B << " nh " << nh << " T " << T << " S " << S << " hs " << hs
                            << (mask.defined() ? " masked" : "")) {
        Generator gen(B * 1000 + T * 100 + S * 10 + hs);
        Tensor q = randn({B, nh, T, hs}, DType::f64, &gen);
        Tensor k = randn({B, nh, S, hs}, DType::f64, &gen);
        Tensor v = randn({B, nh, S, hs}, DType::f64, &gen);
        Tensor w = randn({B, nh, T, hs}, DType::f64, &gen);
        Result fused =
            run([&](const Tensor& a, const Tensor& b,
                    const Tensor& c) { return scaled_dot_product_attention(a, b, c, mask); },
                q, k, v, w);
        Result composed = run([&](const Tensor& a, const Tensor& b,
                                  const Tensor& c) { return composed_attention(a, b, c, mask); },
                              q, k, v, w);
        check_same_results(fused, composed, 1e-10);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(attention_suite)

BOOST_AUTO_TEST_CASE(matches_the_composition_in_float64) {
    for (int64_t hs : {1, 8, 64}) {
        check_against_composition(2, 3, 5, 5, hs);
        check_against_composition(2, 3, 5, 8, hs);  // a cache of 3 earlier positions
    }
    check_against_composition(1, 2, 1, 9, 8);    // decoding one token
    check_against_composition(2, 1, 37, 41, 8);  // more than one tile of keys and rows
}

BOOST_AUTO_TEST_CASE(padding_mask_with_fully_padded_rows) {
    // Batch 1 is left-padded: at S = T = 5 its queries 0..2 see only padding keys; at S = 8,
    // T = 5 (a cache of 3) its query 0 (position 3) does. Such a row gets a uniform softmax over
    // every key whose score is lowest: the padded visible keys (score + lowest rounds to lowest)
    // and the real future ones (lowest + 0), while padded future keys drop out (-inf).
    const Tensor m5 = padding_mask({{0, 0, 0, 0, 0}, {1, 1, 1, 0, 0}}, DType::f64);
    const Tensor m8 =
        padding_mask({{0, 0, 0, 0, 1, 0, 0, 0}, {1, 1, 1, 1, 1, 0, 0, 0}}, DType::f64);
    for (int64_t hs : {1, 8, 64}) {
        check_against_composition(2, 3, 5, 5, hs, m5);
        check_against_composition(2, 3, 5, 8, hs, m8);
    }
    // A full (B, nh, T, S) random additive mask and one broadcast from (T, S).
    Generator gen(3);
    check_against_composition(2, 3, 5, 8, 8, randn({2, 3, 5, 8}, DType::f64, &gen));
    check_against_composition(2, 3, 5, 8, 8, randn({5, 8}, DType::f64, &gen));

    // The fully padded rows are finite and uniform over the keys whose score is lowest.
    Tensor q = randn({2, 1, 5, 4}, DType::f32, &gen), k = randn({2, 1, 5, 4}, DType::f32, &gen);
    Tensor v = randn({2, 1, 5, 4}, DType::f32, &gen);
    Tensor out = scaled_dot_product_attention(
        q, k, v, padding_mask({{0, 0, 0, 0, 0}, {1, 1, 1, 0, 0}}, DType::f32));
    // Query 0 of batch 1 sees key 0 (padded: lowest) and, in the future, keys 1, 2 (padded and
    // future: -inf, dropped) and 3, 4 (real, future: lowest): the mean of v's keys 0, 3 and 4.
    Tensor want =
        (select(select(select(v, 0, 1), 0, 0), 0, 0) + select(select(select(v, 0, 1), 0, 0), 0, 3) +
         select(select(select(v, 0, 1), 0, 0), 0, 4)) /
        3.0;
    BOOST_TEST(max_abs_diff(select(select(select(out, 0, 1), 0, 0), 0, 0), want) < 1e-6);
}

BOOST_AUTO_TEST_CASE(strided_inputs_match_contiguous_ones) {
    // q, k, v as the model makes them: head views of a (B, T, 3C) tensor, k and v slices of a
    // bigger cache buffer; float64, against the composition on the same views.
    Generator gen(11);
    const int64_t B = 2, T = 5, nh = 3, hs = 8, C = nh * hs, P = 3;
    Tensor qkv = randn({B, T, 3 * C}, DType::f64, &gen);
    Tensor cache = randn({2, B, nh, 16, hs}, DType::f64, &gen);
    Tensor w = randn({B, nh, T, hs}, DType::f64, &gen);
    auto attend_with = [&](auto attention) {
        return [&, attention](const Tensor& x, const Tensor& c, const Tensor&) {
            auto head = [&](int64_t i) {
                return permute(reshape(slice(x, 2, i * C, (i + 1) * C), {B, T, nh, hs}),
                               {0, 2, 1, 3});
            };
            Tensor k = cat({slice(select(c, 0, 0), 2, 0, P), head(1)}, 2);
            Tensor v = slice(select(c, 0, 1), 2, 4, 4 + P + T);  // a plain strided slice
            return attention(head(0), k, v);
        };
    };
    Tensor unused = zeros({1}, DType::f64);
    Result fused = run(attend_with([](const Tensor& q, const Tensor& k, const Tensor& v) {
                           return scaled_dot_product_attention(q, k, v);
                       }),
                       qkv, cache, unused, w);
    Result composed = run(attend_with([](const Tensor& q, const Tensor& k, const Tensor& v) {
                              return composed_attention(q, k, v, Tensor());
                          }),
                          qkv, cache, unused, w);
    BOOST_TEST(max_abs_diff(fused.out, composed.out) <= 1e-10);
    BOOST_TEST(max_abs_diff(fused.gq, composed.gq) <= 1e-10);  // d qkv
    BOOST_TEST(max_abs_diff(fused.gk, composed.gk) <= 1e-10);  // d cache
}

BOOST_AUTO_TEST_CASE(dropout_draws_the_composition_mask) {
    // With the same generator state the fused op keeps exactly the elements that
    // dropout(softmax(scores)) keeps, and reserves the same counters.
    for (int64_t S : {6, 9}) {
        Generator init(5);
        Tensor q = randn({2, 3, 6, 8}, DType::f64, &init),
               k = randn({2, 3, S, 8}, DType::f64, &init);
        Tensor v = randn({2, 3, S, 8}, DType::f64, &init),
               w = randn({2, 3, 6, 8}, DType::f64, &init);
        Generator g1(77), g2(77);
        g1.set_counter(13), g2.set_counter(13);  // a counter base not aligned to anything
        Result fused = run(
            [&](const Tensor& a, const Tensor& b, const Tensor& c) {
                return scaled_dot_product_attention(a, b, c, Tensor(), 0.25, &g1);
            },
            q, k, v, w);
        Result composed =
            run([&](const Tensor& a, const Tensor& b,
                    const Tensor& c) { return composed_attention(a, b, c, Tensor(), 0.25, &g2); },
                q, k, v, w);
        check_same_results(fused, composed, 1e-10);
        BOOST_TEST(g1.counter() == g2.counter());
        BOOST_TEST(g1.counter() == 13 + kernels::dropout_blocks(2 * 3 * 6 * S));
    }
}

BOOST_AUTO_TEST_CASE(dropout_keep_rate_and_seeding) {
    // v = identity, so out[b, h, i, j] = P'_ij: the kept fraction of visible entries is 1 - p,
    // and each kept entry is the undropped probability / (1 - p).
    const int64_t B = 2, nh = 4, T = 64, hs = 64;
    const double p = 0.3;
    Generator init(9);
    Tensor q = randn({B, nh, T, hs}, DType::f32, &init),
           k = randn({B, nh, T, hs}, DType::f32, &init);
    std::vector<float> identity(T * T, 0.0f);
    for (int64_t i = 0; i < T; ++i) identity[i * T + i] = 1.0f;
    Tensor v = contiguous(expand(from_vector<float>(identity, {1, 1, T, T}), {B, nh, T, T}));
    Generator gen(1234);
    Tensor dropped = scaled_dot_product_attention(q, k, v, Tensor(), p, &gen);
    Tensor full = scaled_dot_product_attention(q, k, v);
    std::vector<float> d = to_vector<float>(dropped), f = to_vector<float>(full);
    int64_t visible = 0, kept = 0;
    double worst = 0;
    for (int64_t r = 0; r < B * nh * T; ++r)
        for (int64_t j = 0; j <= r % T; ++j) {
            const size_t e = static_cast<size_t>(r * T + j);
            ++visible;
            if (d[e] != 0) {
                ++kept;
                worst = std::max(worst, std::abs(d[e] - f[e] / (1 - p)) / (f[e] / (1 - p)));
            }
        }
    const double rate = static_cast<double>(kept) / static_cast<double>(visible);
    BOOST_TEST(std::abs(rate - (1 - p)) < 0.02, "kept " << rate);
    BOOST_TEST(worst < 1e-5);

    // The same seed and counter give the same mask; the next call draws a new one.
    Generator again(1234);
    BOOST_TEST(max_abs_diff(scaled_dot_product_attention(q, k, v, Tensor(), p, &again), dropped) ==
               0.0);
    Tensor next = scaled_dot_product_attention(q, k, v, Tensor(), p, &again);
    BOOST_TEST(max_abs_diff(next, dropped) > 0.0);
    // Without a generator, or in eval-style p = 0, there is no dropout.
    BOOST_TEST(max_abs_diff(scaled_dot_product_attention(q, k, v, Tensor(), p, nullptr), full) ==
               0.0);
}

BOOST_AUTO_TEST_CASE(thread_count_does_not_change_results) {
    // One head at 2 threads splits the head's row tiles (and sums private dk / dv); many heads
    // split by head. Both must agree with one thread.
    const int saved = omp_get_max_threads();
    for (int64_t heads : {1, 6}) {
        Generator gen(21);
        Tensor q = randn({1, heads, 64, 8}, DType::f64, &gen);
        Tensor k = randn({1, heads, 70, 8}, DType::f64, &gen);
        Tensor v = randn({1, heads, 70, 8}, DType::f64, &gen);
        Tensor w = randn({1, heads, 64, 8}, DType::f64, &gen);
        auto attend = [](const Tensor& a, const Tensor& b, const Tensor& c) {
            Generator g(8);
            return scaled_dot_product_attention(a, b, c, Tensor(), 0.1, &g);
        };
        omp_set_num_threads(1);
        Result one = run(attend, q, k, v, w);
        omp_set_num_threads(2);
        Result two = run(attend, q, k, v, w);
        check_same_results(one, two, 1e-12);
    }
    omp_set_num_threads(saved);
}

BOOST_AUTO_TEST_CASE(float32_is_close_to_float64) {
    Generator gen(4);
    Tensor q = randn({2, 4, 32, 64}, DType::f64, &gen), k = randn({2, 4, 40, 64}, DType::f64, &gen);
    Tensor v = randn({2, 4, 40, 64}, DType::f64, &gen);
    Tensor want = scaled_dot_product_attention(q, k, v);
    Tensor got = scaled_dot_product_attention(to_dtype(q, DType::f32), to_dtype(k, DType::f32),
                                              to_dtype(v, DType::f32));
    BOOST_TEST(max_abs_diff(got, want) < 1e-5);
}

// float32 packs keys and values 8 x 8 through register transposes where the head dims are
// contiguous, element by element elsewhere: key counts and head sizes on both sides of 8, one to
// five query rows (a decoding step has one; tiles hold four), keys and values laid out as a KV
// cache slice (B, S, nh, hs) permuted and as transposed views (head dims not contiguous). Forward
// and gradients against float64.
BOOST_AUTO_TEST_CASE(float32_odd_shapes_and_layouts_match_float64) {
    struct Case {
        int64_t T, S, hs;
    };
    for (Case c : {Case{1, 13, 12}, Case{1, 96, 64}, Case{2, 9, 7}, Case{3, 37, 64},
                   Case{5, 21, 20}, Case{4, 8, 8}, Case{1, 1, 16}})
        for (int layout = 0; layout < 3; ++layout) {
            BOOST_TEST_CONTEXT("T " << c.T << " S " << c.S << " hs " << c.hs << " layout "
                                    << layout) {
                const int64_t B = 2, nh = 3;
                Generator gen(c.T * 1000 + c.S * 10 + c.hs + layout);
                Tensor q = randn({B, nh, c.T, c.hs}, DType::f64, &gen);
                Tensor w = randn({B, nh, c.T, c.hs}, DType::f64, &gen);
                Tensor k, v;
                if (layout == 0) {  // contiguous
                    k = randn({B, nh, c.S, c.hs}, DType::f64, &gen);
                    v = randn({B, nh, c.S, c.hs}, DType::f64, &gen);
                } else if (layout == 1) {  // (B, S, nh, hs) permuted: dims contiguous
                    k = randn({B, c.S, nh, c.hs}, DType::f64, &gen);
                    v = randn({B, c.S, nh, c.hs}, DType::f64, &gen);
                } else {  // (B, nh, hs, S) transposed: dims strided
                    k = randn({B, nh, c.hs, c.S}, DType::f64, &gen);
                    v = randn({B, nh, c.hs, c.S}, DType::f64, &gen);
                }
                auto attend = [layout](const Tensor& a, const Tensor& b, const Tensor& d) {
                    auto view = [layout](const Tensor& x) {
                        return layout == 1 ? permute(x, {0, 2, 1, 3})
                               : layout == 2 ? transpose(x, 2, 3)
                                             : x;
                    };
                    return scaled_dot_product_attention(a, view(b), view(d));
                };
                auto f32 = [](const Tensor& x) { return to_dtype(x, DType::f32); };
                Result want = run(attend, q, k, v, w);
                Result got = run(attend, f32(q), f32(k), f32(v), f32(w));
                check_same_results(got, want, 2e-5);
            }
        }
}

// No query rows (T = 0) against a cache of 3 keys: an empty output, and no gradient for the keys
// and values (empty tensors count as contiguous, so the kernels' output checks accept them).
BOOST_AUTO_TEST_CASE(no_query_rows_give_an_empty_output_and_zero_gradients) {
    Generator gen(3);
    Tensor q = randn({1, 2, 0, 8}, DType::f64, &gen).requires_grad_();
    Tensor k = randn({1, 2, 3, 8}, DType::f64, &gen).requires_grad_();
    Tensor v = randn({1, 2, 3, 8}, DType::f64, &gen).requires_grad_();
    Tensor y = scaled_dot_product_attention(q, k, v);
    BOOST_TEST(y.numel() == 0);
    BOOST_TEST(y.is_contiguous());
    sum(y).backward();
    for (const Tensor& g : {k.grad(), v.grad()}) {
        BOOST_REQUIRE(g.defined());
        for (double e : to_vector<double>(g)) BOOST_TEST(e == 0.0);
    }
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
    Tensor q = randn({2, 3, 5, 8}), k = randn({2, 3, 6, 8}), v = randn({2, 3, 6, 8});
    auto msg = [&](const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& m = Tensor()) {
        return error_of([&] { scaled_dot_product_attention(a, b, c, m); });
    };
    BOOST_TEST(msg(randn({3, 5, 8}), k, v).find("(3, 5, 8)") != std::string::npos);
    BOOST_TEST(msg(q, k, randn({2, 3, 7, 8})).find("(2, 3, 7, 8)") != std::string::npos);
    BOOST_TEST(msg(q, randn({2, 3, 4, 8}), randn({2, 3, 4, 8})).find("S >= T") !=
               std::string::npos);  // fewer keys than queries
    BOOST_TEST(msg(q, randn({2, 3, 6, 4}), randn({2, 3, 6, 4})).find("(2, 3, 6, 4)") !=
               std::string::npos);
    BOOST_TEST(msg(q, k, v, zeros({2, 1, 1, 7})).find("(2, 1, 1, 7)") != std::string::npos);
    BOOST_TEST(msg(q, k, v, zeros({2, 1, 1, 6}, DType::f64)).find("float64") != std::string::npos);
    BOOST_TEST(msg(q, to_dtype(k, DType::f64), v).find("float64") != std::string::npos);
    BOOST_TEST(error_of([&] {
                   scaled_dot_product_attention(q, k, v, Tensor(), 1.0);
               }).find("dropout_p") != std::string::npos);
    // A failed call does not move the generator.
    Generator gen(1);
    error_of([&] {
        scaled_dot_product_attention(q, randn({2, 3, 4, 8}), v, Tensor(), 0.5, &gen);
    });
    BOOST_TEST(gen.counter() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
