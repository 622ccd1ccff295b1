// The vae layer catalog: every new layer and loss gradchecked in float64 with respect to its
// inputs and each parameter (contiguous, non-contiguous and broadcast inputs where they apply),
// plus closed-form checks of the KL, the KL schedule and active units.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "vae/denoiser.h"
#include "vae/diffusion.h"
#include "vae/model.h"

using namespace gradstack;
using namespace gradstack::vae;

namespace {

// Gradchecks `run()` with respect to `leaves` and every parameter of `m` (when given).
void check_fn(const std::string& name, nn::Module* m, std::vector<Tensor> leaves,
              const std::function<Tensor()>& run, GradcheckOptions o = {}) {
    if (m)
        for (auto& [n, p] : m->named_parameters()) leaves.push_back(p);
    GradcheckResult r = gradcheck([&](const std::vector<Tensor>&) { return run(); }, leaves, o);
    BOOST_CHECK_MESSAGE(r.ok, name << ": " << r.message);
}

Tensor leaf64(const Shape& s, uint64_t seed) {
    Generator g(seed);
    return randn(s, DType::f64, &g).requires_grad_();
}

gpt::GPT2Config tiny_gpt(int64_t n_embd = 8) {
    gpt::GPT2Config c;
    c.vocab_size = 11;
    c.n_positions = 8;
    c.n_embd = n_embd;
    c.n_layer = 1;
    c.n_head = 2;
    c.resid_pdrop = c.embd_pdrop = c.attn_pdrop = 0;
    c.bos_token_id = c.eos_token_id = 10;
    c.dtype = DType::f64;
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vae_layer_catalog)

BOOST_AUTO_TEST_CASE(masked_mean_pool_layouts) {
    Tensor mask = from_vector<int64_t>({1, 1, 0, 1, 1, 1}, {2, 3});
    Tensor h = leaf64({2, 3, 4}, 1);
    check_fn("pool contiguous", nullptr, {h}, [&] { return masked_mean_pool(h, mask); });
    Tensor hp = leaf64({4, 3, 2}, 2);  // stored (C, T, B), viewed (B, T, C)
    check_fn("pool permuted", nullptr, {hp},
             [&] { return masked_mean_pool(permute(hp, {2, 1, 0}), mask); });
    Tensor hb = leaf64({1, 3, 4}, 3);  // one row broadcast over the batch
    check_fn("pool broadcast", nullptr, {hb},
             [&] { return masked_mean_pool(expand(hb, {2, 3, 4}), mask); });
    // The value: row 0 averages its first two positions only.
    Tensor v = masked_mean_pool(h, mask);
    double want = (element_at(h, {0, 0, 1}) + element_at(h, {0, 1, 1})) / 2;
    BOOST_TEST(element_at(v, {0, 1}) == want, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(gaussian_head_reparameterisation_kl) {
    Generator g(4);
    GaussianHead head(6, 3, DType::f64, &g);
    Tensor x = leaf64({2, 6}, 5);
    check_fn("GaussianHead mu", &head, {x}, [&] { return head.forward(x).mu; });
    check_fn("GaussianHead logvar", &head, {x}, [&] { return head.forward(x).logvar; });
    Tensor mu = leaf64({2, 3}, 6), lv = leaf64({2, 3}, 7);
    Tensor eps = randn({2, 3}, DType::f64, &g);  // fixed noise
    check_fn("reparameterize", nullptr, {mu, lv}, [&] { return reparameterize({mu, lv}, eps); });
    Tensor mup = leaf64({3, 2}, 8);
    check_fn("reparameterize permuted", nullptr, {mup, lv},
             [&] { return reparameterize({transpose(mup, 0, 1), lv}, eps); });
    Tensor lvb = leaf64({1, 3}, 9);
    check_fn("kl broadcast logvar", nullptr, {mu, lvb},
             [&] { return kl_per_dim({mu, expand(lvb, {2, 3})}); });
    check_fn("kl_loss", nullptr, {mu, lv}, [&] { return kl_loss({mu, lv}); });
    // Free bits: a threshold between the dims' KLs, so that some dims are floored and none sits
    // at the kink.
    Tensor per_dim = mean(kl_per_dim({mu, lv}), {0});
    std::vector<double> kd = to_vector<double>(per_dim);
    std::sort(kd.begin(), kd.end());
    const double fb = (kd[0] + kd[1]) / 2;
    check_fn("kl_loss free bits", nullptr, {mu, lv}, [&] { return kl_loss({mu, lv}, fb); });
    double want = 0;
    for (double k : to_vector<double>(per_dim)) want += std::max(k, fb);
    BOOST_TEST(kl_loss({mu, lv}, fb).item() == want, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(kl_closed_form) {
    // KL(N(mu, s^2) || N(0, 1)) = 0.5 (mu^2 + s^2 - 1 - log s^2).
    Tensor mu = from_vector<double>({1.0, 0.0, -2.0, 0.5}, {2, 2});
    Tensor lv = from_vector<double>({0.0, std::log(4.0), std::log(0.25), 0.0}, {2, 2});
    std::vector<double> k = to_vector<double>(kl_per_dim({mu, lv}));
    BOOST_TEST(k[0] == 0.5, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(k[1] == 0.5 * (4 - 1 - std::log(4.0)), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(k[2] == 0.5 * (4 + 0.25 - 1 - std::log(0.25)), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(k[3] == 0.125, boost::test_tools::tolerance(1e-12));
    // kl_loss: batch mean per dim, summed: ((0.5 + k2) + (k1 + 0.125)) / 2.
    BOOST_TEST(kl_loss({mu, lv}).item() == (k[0] + k[1] + k[2] + k[3]) / 2,
               boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(kl_schedule_and_active_units) {
    KlSchedule s{2.0, 2, 0.25, 0.5, 100};  // period 50: 0 for 12.5 steps, ramp over 25
    s.validate();
    BOOST_TEST(s(0) == 0.0);
    BOOST_TEST(s(12) == 0.0);
    BOOST_TEST(s(25) == 2.0 * (25 / 50.0 - 0.25) / 0.5, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(s(40) == 2.0);
    BOOST_TEST(s(50) == 0.0);  // the second cycle starts again at 0
    BOOST_TEST(s(99) == 2.0);
    BOOST_TEST((KlSchedule{0.5, 0, 0.25, 0.25, 10}(3)) == 0.5);
    BOOST_CHECK_THROW((KlSchedule{1, 1, 0.6, 0.6, 10}.validate()), Error);
    // Dim 0 varies (variance 1), dim 1 barely (1e-4), dim 2 not at all.
    Tensor mu = from_vector<double>({1, 0.01, 3, -1, -0.01, 3}, {2, 3});
    BOOST_TEST(active_units(mu) == 1);
}

BOOST_AUTO_TEST_CASE(encoder_bidirectional_and_pooled) {
    Generator g(10);
    TextEncoder enc(tiny_gpt(), &g);
    Tensor ids = from_vector<int64_t>({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor mask = from_vector<int64_t>({1, 1, 1, 1, 1, 0}, {2, 3});
    check_fn("TextEncoder.encode", &enc, {}, [&] { return enc.encode(ids, mask); });
    // Bidirectional: position 0's state depends on the last token (a causal model's would not),
    // and padding changes nothing for the real positions.
    Tensor a = enc.forward(from_vector<int64_t>({1, 2, 3}, {1, 3}), ones({1, 3}, DType::i64));
    Tensor b = enc.forward(from_vector<int64_t>({1, 2, 7}, {1, 3}), ones({1, 3}, DType::i64));
    BOOST_TEST(max(abs(select(a, 1, 0) - select(b, 1, 0))).item() > 1e-6);
    Tensor p1 = enc.encode(from_vector<int64_t>({1, 2}, {1, 2}), ones({1, 2}, DType::i64));
    Tensor p2 = enc.encode(from_vector<int64_t>({1, 2, 9}, {1, 3}),
                           from_vector<int64_t>({1, 1, 0}, {1, 3}));
    BOOST_TEST(max(abs(p1 - p2)).item() < 1e-12);
}

BOOST_AUTO_TEST_CASE(decoder_conditioning_paths) {
    Tensor ids = from_vector<int64_t>({10, 1, 2, 10, 3, 4}, {2, 3});
    for (auto [emb, mem, name] : {std::tuple{true, false, "embedding"},
                                  std::tuple{false, true, "memory"},
                                  std::tuple{true, true, "both"}}) {
        Generator g(11);
        LatentDecoder dec(tiny_gpt(), 3, emb, mem, &g);
        {
            NoGradGuard ng;  // larger than the N(0, 0.02) start, so z matters in the check
            for (auto& [n, p] : dec.named_parameters())
                if (n.rfind("z_", 0) == 0) copy_(p, randn(p.shape(), DType::f64, &g) * 0.5);
        }
        Tensor z = leaf64({2, 3}, 12);
        check_fn(std::string("decoder ") + name, &dec, {z}, [&] { return dec.logits(ids, z); });
        // The logits depend on z.
        Tensor other = dec.logits(ids, z * 2.0);
        BOOST_TEST(max(abs(other - dec.logits(ids, z))).item() > 1e-6);
    }
    BOOST_CHECK_THROW(LatentDecoder(tiny_gpt(), 3, false, false), Error);
    BOOST_CHECK_THROW(LatentDecoder(tiny_gpt(), 0, true, false), Error);
}

BOOST_AUTO_TEST_CASE(vae_loss_tiny) {
    VaeConfig c;
    c.gpt = tiny_gpt(4);
    c.latent = 2;
    c.max_length = 4;
    Generator g(13);
    TextVae vae(c, &g);
    TextBatch b = make_batch({{1, 2, 3}, {4, 5}}, 10, 10);
    BOOST_TEST(b.tokens == 7);
    BOOST_TEST(to_vector<int64_t>(b.labels) ==
                   (std::vector<int64_t>{10, 1, 2, 3, 10, 10, 4, 5, 10, -100}),
               boost::test_tools::per_element());
    Tensor eps = randn({2, 2}, DType::f64, &g);
    check_fn("TextVae.loss", &vae, {}, [&] { return vae.loss(b, eps, 0.7, 0.0).total; },
             GradcheckOptions{.atol = 1e-5, .rtol = 1e-3});
    VaeLoss l = vae.loss(b, eps, 0.7, 0.0);
    BOOST_TEST(l.total.item() == l.rec.item() + 0.7 * l.kl.item(), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(denoiser_and_ddpm_loss) {
    Generator g(14);
    MLPSkipNet net({3, 6, 2, 4, DType::f64}, &g);
    Tensor x = leaf64({2, 3}, 15);
    Tensor t = from_vector<int64_t>({1, 7}, {2});
    check_fn("MLPSkipNet", &net, {x}, [&] { return net.forward(x, t); });
    Tensor xp = leaf64({3, 2}, 16);
    check_fn("MLPSkipNet permuted input", nullptr, {xp},
             [&] { return net.forward(transpose(xp, 0, 1), t); });
    Tensor xb = leaf64({1, 3}, 17);
    check_fn("MLPSkipNet broadcast input", nullptr, {xb},
             [&] { return net.forward(expand(xb, {2, 3}), t); });
    check_fn("silu", nullptr, {x}, [&] { return silu(x); });
    NoiseSchedule s = NoiseSchedule::make("cosine", 10);
    Tensor noise = randn({2, 3}, DType::f64, &g);
    check_fn("ddpm_loss", &net, {x}, [&] { return ddpm_loss(net, s, x, t, noise); });
    // Timestep embedding: [cos(t f_i), sin(t f_i)], f_i = 10000^(-i / half).
    std::vector<double> e = to_vector<double>(timestep_embedding(from_vector<int64_t>({3}, {1}), 4, DType::f64));
    BOOST_TEST(e[0] == std::cos(3.0), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(e[1] == std::cos(3.0 / 100), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(e[2] == std::sin(3.0), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(e[3] == std::sin(3.0 / 100), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
