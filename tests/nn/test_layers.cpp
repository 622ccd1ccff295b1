// The layer catalog: every layer gradchecked in float64 with respect to its input and each named
// parameter, plus forward checks of shapes, modes and masks.
#include <boost/test/unit_test.hpp>

#include <functional>

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "autograd/ops/index.h"
#include "nn/layers/activation.h"
#include "nn/layers/block.h"
#include "nn/layers/container.h"
#include "nn/layers/embedding.h"
#include "nn/layers/linear.h"
#include "nn/losses.h"

using namespace gradstack;
using namespace gradstack::nn;

namespace {

// Gradchecks `run(x)` with respect to x (when given) and every parameter of `m`.
void check_layer(const std::string& name, Module& m, const Tensor& x,
                 const std::function<Tensor(const Tensor&)>& run, std::vector<Tensor> extra = {}) {
    std::vector<Tensor> inputs;
    if (x.defined()) inputs.push_back(x);
    for (Tensor& e : extra) inputs.push_back(e);
    for (auto& [n, p] : m.named_parameters()) inputs.push_back(p);
    GradcheckResult r = gradcheck([&](const std::vector<Tensor>&) { return run(x); }, inputs);
    BOOST_CHECK_MESSAGE(r.ok, name << ": " << r.message);
}

Tensor leaf64(const Shape& s, uint64_t seed) {
    Generator g(seed);
    return randn(s, DType::f64, &g).requires_grad_();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(layer_catalog)

BOOST_AUTO_TEST_CASE(linear_conv1d_embedding_layernorm) {
    Generator g(1);
    Linear lin({4, 3, true, DType::f64}, &g);
    Tensor x = leaf64({2, 5, 4}, 2);
    check_layer("Linear", lin, x, [&](const Tensor& v) { return lin(v); });
    Linear nobias({4, 3, false, DType::f64}, &g);
    BOOST_TEST(nobias.named_parameters().size() == 1u);
    check_layer("Linear without bias", nobias, x, [&](const Tensor& v) { return nobias(v); });
    Conv1D conv({4, 6, 0.5, DType::f64}, &g);
    check_layer("Conv1D", conv, x, [&](const Tensor& v) { return conv(v); });
    Embedding emb({7, 3, 1.0, DType::f64}, &g);
    Tensor ids = from_vector<int64_t>({1, 6, 1, 0, 3, 1}, {2, 3});
    check_layer("Embedding", emb, Tensor(), [&](const Tensor&) { return emb(ids); });
    LayerNorm ln({4, 1e-5, DType::f64});
    {
        NoGradGuard ng;  // non-trivial affine parameters
        copy_(ln.weight, from_vector<double>({0.5, 1.5, -1, 2}));
        copy_(ln.bias, from_vector<double>({0.1, -0.2, 0.3, 0}));
    }
    check_layer("LayerNorm", ln, x, [&](const Tensor& v) { return ln(v); });
}

BOOST_AUTO_TEST_CASE(activations_dropout_sequential_mlp) {
    Generator g(3);
    Tensor x = leaf64({3, 4}, 4);
    GELU gelu_m;
    check_layer("GELU", gelu_m, x, [&](const Tensor& v) { return gelu_m(v); });
    Generator dg(5);
    Dropout drop(0.3, &dg);
    check_layer("Dropout", drop, x, [&](const Tensor& v) {
        dg.manual_seed(5);  // the same mask on every evaluation
        return drop(v);
    });
    drop.eval();
    BOOST_TEST(to_vector<double>(drop(x)) == to_vector<double>(x), boost::test_tools::per_element());
    Sequential seq({std::make_shared<Linear>(LinearConfig{4, 5, true, DType::f64}, &g),
                    std::make_shared<ReLU>(),
                    std::make_shared<Linear>(LinearConfig{5, 2, true, DType::f64}, &g)});
    BOOST_TEST(seq.named_parameters()[2].first == "2.weight");
    check_layer("Sequential", seq, x, [&](const Tensor& v) { return seq(v); });
    MLP mlp({4, 8, 0.0, 0.3, 0.3, DType::f64}, &g);
    check_layer("MLP", mlp, x, [&](const Tensor& v) { return mlp(v); });
}

BOOST_AUTO_TEST_CASE(attention_plain_masked_and_cached) {
    Generator g(7);
    AttentionConfig c{8, 2, 0.0, 0.0, 0.3, 0.3, DType::f64};
    CausalSelfAttention attn(c, &g);
    Tensor x = leaf64({2, 3, 8}, 8);
    check_layer("attention", attn, x, [&](const Tensor& v) { return attn.forward(v).y; });
    // Padding mask: batch 1 has its first position padded. The padded query's own output is left
    // out: every key of that row is masked, so (as in Hugging Face) its scores sit at the dtype's
    // lowest value, where adding the score rounds away and finite differences see no dependence.
    Tensor mask = from_vector<int64_t>({1, 1, 1, 0, 1, 1}, {2, 3});
    Tensor real = unsqueeze(to_dtype(mask, DType::f64), -1);  // (2, 3, 1)
    check_layer("attention with padding mask", attn, x,
                [&](const Tensor& v) { return attn.forward(v, mask).y * real; });
    // KV cache: 2 past positions, differentiable (PPLM perturbs them).
    Tensor pk = leaf64({2, 2, 2, 4}, 9), pv = leaf64({2, 2, 2, 4}, 10);
    check_layer("attention with KV cache", attn, x,
                [&](const Tensor& v) { return attn.forward(v, Tensor(), {pk, pv}).y; }, {pk, pv});
    Block block({8, 2, 16, 1e-5, 0.0, 0.0, 0.3, 0.3, DType::f64}, &g);
    check_layer("Block", block, x, [&](const Tensor& v) { return block.forward(v).y; });
}

BOOST_AUTO_TEST_CASE(cache_reproduces_full_forward) {
    Generator g(11);
    CausalSelfAttention attn({8, 2, 0.0, 0.0, 0.3, 0.3, DType::f64}, &g);
    Tensor x = randn({2, 5, 8}, DType::f64, &g);
    Tensor full = attn.forward(x).y;
    auto first = attn.forward(slice(x, 1, 0, 3));
    BOOST_TEST((first.present.key.shape() == Shape{2, 2, 3, 4}));
    auto rest = attn.forward(slice(x, 1, 3, 5), Tensor(), first.present);
    Tensor joined = cat({first.y, rest.y}, 1);
    BOOST_TEST(max(abs(joined - full)).item() < 1e-12);
    // A left-padded row gives its real tokens the same outputs as the unpadded row.
    Tensor mask = from_vector<int64_t>({0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, {2, 5});
    Tensor padded = attn.forward(x, mask).y;
    Tensor alone = attn.forward(slice(slice(x, 0, 0, 1), 1, 2, 5)).y;  // row 0, real tokens only
    BOOST_TEST(max(abs(slice(slice(padded, 0, 0, 1), 1, 2, 5) - alone)).item() < 1e-12);
    BOOST_CHECK_THROW(attn.forward(x, from_vector<int64_t>({1, 1}, {1, 2})), Error);
}

// Under no-grad the cache grows in place (KVBuffer): token-by-token decoding must still equal the
// full forward, and a second continuation of the same cache must not change the first's result.
BOOST_AUTO_TEST_CASE(cache_appended_in_place_under_no_grad) {
    Generator g(12);
    CausalSelfAttention attn({8, 2, 0.0, 0.0, 0.3, 0.3, DType::f64}, &g);
    Tensor x = randn({2, 70, 8}, DType::f64, &g);  // 70 > the first buffer's 64 positions
    NoGradGuard no_grad;
    Tensor full = attn.forward(x).y;
    auto step = attn.forward(slice(x, 1, 0, 2));
    std::vector<Tensor> ys{step.y};
    KVCache at3;
    for (int64_t t = 2; t < 70; ++t) {
        step = attn.forward(slice(x, 1, t, t + 1), Tensor(), step.present);
        BOOST_REQUIRE(step.present.buffer != nullptr);
        BOOST_REQUIRE_EQUAL(step.present.length(), t + 1);
        if (t == 2) at3 = step.present;
        ys.push_back(step.y);
    }
    BOOST_TEST(max(abs(cat(ys, 1) - full)).item() < 1e-12);
    // at3 was extended above; continuing it with other tokens copies it into a fresh buffer.
    Tensor key3 = clone(at3.key);
    Tensor other = randn({2, 1, 8}, DType::f64, &g);
    auto branch = attn.forward(other, Tensor(), at3);
    BOOST_TEST(branch.present.buffer != at3.buffer);
    BOOST_TEST(max(abs(at3.key - key3)).item() == 0);
    Tensor want = attn.forward(cat({slice(x, 1, 0, 3), other}, 1)).y;
    BOOST_TEST(max(abs(branch.y - slice(want, 1, 3, 4))).item() < 1e-12);
    // The longer continuation made earlier still reads its own tokens.
    BOOST_TEST(max(abs(slice(step.present.key, 2, 0, 3) - key3)).item() == 0);
}

BOOST_AUTO_TEST_CASE(losses_values_and_gradients) {
    Tensor a = leaf64({3, 4}, 12), b = leaf64({3, 4}, 13);
    auto gc = [](const std::string& name, std::function<Tensor(const std::vector<Tensor>&)> f,
                 std::vector<Tensor> in) {
        GradcheckResult r = gradcheck(f, in);
        BOOST_CHECK_MESSAGE(r.ok, name << ": " << r.message);
    };
    gc("mse_loss", [](auto& v) { return mse_loss(v[0], v[1]); }, {a, b});
    Tensor target = from_vector<double>({1, 0, 1, 0, 0.3, 1, 0, 1, 0, 0, 1, 0.5}, {3, 4});
    gc("bce_with_logits", [&](auto& v) { return binary_cross_entropy_with_logits(v[0] * 3.0, target); }, {a});
    gc("kl_divergence", [](auto& v) { return kl_divergence(v[0], v[1]); }, {a, b});
    // Values by hand.
    Tensor x = from_vector<double>({0.0, 2.0, -3.0}), y = from_vector<double>({1, 0, 1});
    double want = (std::log(2.0) + (2 + std::log1p(std::exp(-2.0))) + (3 + std::log1p(std::exp(-3.0)))) / 3;
    BOOST_TEST(std::abs(binary_cross_entropy_with_logits(x, y).item() - want) < 1e-12);
    BOOST_TEST(binary_cross_entropy_with_logits(from_vector<double>({1000, -1000}),
                                                from_vector<double>({1, 0})).item() == 0.0);
    BOOST_TEST(mse_loss(x, y, Reduction::sum).item() == 1.0 + 4.0 + 16.0);
    Tensor p = from_vector<double>({0.0, 0.0}, {1, 2});
    Tensor q = from_vector<double>({0.0, std::log(3.0)}, {1, 2});  // q = (1/4, 3/4)
    double kl = 0.5 * std::log(0.5 / 0.25) + 0.5 * std::log(0.5 / 0.75);
    BOOST_TEST(std::abs(kl_divergence(p, q).item() - kl) < 1e-12);
    BOOST_TEST(std::abs(kl_divergence(log_softmax(p, -1), log_softmax(q, -1), -1, true).item() - kl) < 1e-12);
    BOOST_CHECK_THROW(mse_loss(x, from_vector<double>({1, 2})), Error);
}

BOOST_AUTO_TEST_SUITE_END()
