// The latent DDPM: schedules, the forward process and the posterior against hand-computed
// values, one ancestral and one DDIM step by hand, DDIM with K = T and eta = 1 against ancestral
// sampling, save/load, and a denoiser that learns a ring in 2-D.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "autograd/ops.h"
#include "nn/optim/adam.h"
#include "tests/gpt/tokenizer_helpers.h"
#include "tests/test_util.h"
#include "vae/latent_diffusion.h"

using namespace gradstack;
using namespace gradstack::vae;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(diffusion)

BOOST_AUTO_TEST_CASE(beta_schedules) {
    std::vector<double> l = linear_betas(1000);
    BOOST_TEST(l.front() == 1e-4, tt::tolerance(1e-12));
    BOOST_TEST(l.back() == 0.02, tt::tolerance(1e-12));
    BOOST_TEST(l[1] == 1e-4 + (0.02 - 1e-4) / 999, tt::tolerance(1e-12));
    std::vector<double> l10 = linear_betas(10);  // scaled by 1000 / 10
    BOOST_TEST(l10.front() == 0.01, tt::tolerance(1e-12));
    BOOST_TEST(l10[4] == 0.01 + (2.0 - 0.01) * 4 / 9, tt::tolerance(1e-12));
    BOOST_TEST(l10.back() == 0.999);  // 2.0 clipped
    // Cosine, T = 4: abar(t) = f(t) / f(0), f(t) = cos^2(pi/2 (t/4 + 0.008) / 1.008).
    const double pi = std::acos(-1.0);
    auto f = [&](double t) { return std::pow(std::cos(pi / 2 * (t / 4 + 0.008) / 1.008), 2); };
    std::vector<double> c = cosine_betas(4);
    for (int t = 1; t <= 3; ++t) BOOST_TEST(c[t - 1] == 1 - f(t) / f(t - 1), tt::tolerance(1e-12));
    BOOST_TEST(c[3] == 0.999);  // 1 - f(4)/f(3) = 1 exactly: clipped
    NoiseSchedule s(cosine_betas(4));
    for (int t = 1; t <= 3; ++t) BOOST_TEST(s.alpha_bar(t) == f(t) / f(0), tt::tolerance(1e-9));
    BOOST_TEST(s.alpha_bar(0) == 1.0);
    BOOST_CHECK_THROW(NoiseSchedule::make("quadratic", 10), Error);
    BOOST_CHECK_THROW(NoiseSchedule::make("linear", 0), Error);
}

BOOST_AUTO_TEST_CASE(forward_process_and_posterior) {
    NoiseSchedule s({0.1, 0.2, 0.3});
    // alphas 0.9, 0.8, 0.7; abar 0.9, 0.72, 0.504.
    BOOST_TEST(s.alpha_bar(2) == 0.72, tt::tolerance(1e-12));
    BOOST_TEST(s.alpha_bar(3) == 0.504, tt::tolerance(1e-12));
    Tensor x0 = from_vector<double>({1.0, -2.0, 0.5, 3.0}, {2, 2});
    Tensor noise = from_vector<double>({0.3, 0.1, -1.0, 2.0}, {2, 2});
    Tensor t = from_vector<int64_t>({2, 3}, {2});
    std::vector<double> xt = to_vector<double>(s.q_sample(x0, t, noise));
    BOOST_TEST(xt[0] == std::sqrt(0.72) * 1.0 + std::sqrt(0.28) * 0.3, tt::tolerance(1e-12));
    BOOST_TEST(xt[3] == std::sqrt(0.504) * 3.0 + std::sqrt(0.496) * 2.0, tt::tolerance(1e-12));
    // The mean and variance of q(x_t | x_0) over many draws.
    Generator g(1);
    Tensor many = randn({20000, 1}, DType::f64, &g);
    Tensor xs = s.q_sample(full({20000, 1}, 2.0, DType::f64), full({20000}, 3.0, DType::i64), many);
    BOOST_TEST(mean(xs).item() == std::sqrt(0.504) * 2.0, tt::tolerance(0.02));
    BOOST_TEST(var(xs).item() == 0.496, tt::tolerance(0.03));
    // Posterior at t = 2: c0 = 0.2 sqrt(0.9) / 0.28, ct = 0.1 sqrt(0.8) / 0.28, var = 0.2 0.1 / 0.28.
    BOOST_TEST(s.posterior_coef_x0(2) == 0.2 * std::sqrt(0.9) / 0.28, tt::tolerance(1e-12));
    BOOST_TEST(s.posterior_coef_xt(2) == 0.1 * std::sqrt(0.8) / 0.28, tt::tolerance(1e-12));
    BOOST_TEST(s.posterior_variance(2) == 0.02 / 0.28, tt::tolerance(1e-12));
    BOOST_TEST(s.posterior_variance(1) == 0.0);
}

BOOST_AUTO_TEST_CASE(one_ancestral_and_one_ddim_step) {
    NoiseSchedule s({0.1, 0.2, 0.3});
    Tensor xt = from_vector<double>({0.7}, {1, 1});
    Tensor eps = from_vector<double>({0.4}, {1, 1});
    Tensor z = from_vector<double>({-0.5}, {1, 1});
    const double x0 = (0.7 - std::sqrt(1 - 0.504) * 0.4) / std::sqrt(0.504);
    // Ancestral from t = 3: c0 x0 + ct xt + sqrt(var) z.
    const double c0 = 0.3 * std::sqrt(0.72) / 0.496, ct = 0.28 * std::sqrt(0.7) / 0.496;
    const double v = 0.3 * 0.28 / 0.496;
    BOOST_TEST(s.ancestral_step(xt, 3, eps, z).item() == c0 * x0 + ct * 0.7 + std::sqrt(v) * -0.5,
               tt::tolerance(1e-12));
    // DDIM from 3 to 1, eta = 0.5.
    const double sigma = 0.5 * std::sqrt((1 - 0.9) / (1 - 0.504)) * std::sqrt(1 - 0.504 / 0.9);
    const double want = std::sqrt(0.9) * x0 + std::sqrt(1 - 0.9 - sigma * sigma) * 0.4 + sigma * -0.5;
    BOOST_TEST(s.ddim_step(xt, 3, 1, eps, 0.5, z).item() == want, tt::tolerance(1e-12));
    // eta = 0 is deterministic; the last step (to 0) gives the predicted x_0.
    BOOST_TEST(s.ddim_step(xt, 3, 0, eps, 0.0, z).item() == x0, tt::tolerance(1e-12));
    BOOST_TEST((s.ddim_timesteps(3) == std::vector<int64_t>{3, 2, 1, 0}));
    BOOST_TEST((NoiseSchedule(linear_betas(10)).ddim_timesteps(2) == std::vector<int64_t>{10, 5, 0}));
    BOOST_CHECK_THROW(s.ddim_timesteps(4), Error);
}

BOOST_AUTO_TEST_CASE(ddim_with_all_steps_and_eta_1_is_ancestral) {
    Generator g(2);
    MLPSkipNet net({3, 8, 2, 4, DType::f64}, &g);
    NoiseSchedule s = NoiseSchedule::make("linear", 20);
    Generator a(7), b(7);
    Tensor anc = sample_diffusion(net, s, 4, 0, 0.0, &a);
    Tensor ddim = sample_diffusion(net, s, 4, 20, 1.0, &b);
    BOOST_TEST(max(abs(anc - ddim)).item() < 1e-9);
    Generator c(7);
    Tensor det = sample_diffusion(net, s, 4, 20, 0.0, &c);
    BOOST_TEST(max(abs(anc - det)).item() > 1e-3);  // eta = 0 differs
}

BOOST_AUTO_TEST_CASE(save_load_and_latent_mismatch) {
    test::TempDir dir;
    Generator g(3);
    LatentDiffusion d({3, 8, 2, 4}, "cosine", 30, &g);
    d.mean = {0.1, -0.2, 0.3};
    d.stddev = {1.5, 0.5, 2.0};
    save_diffusion(d, dir.path.string());
    auto back = load_diffusion(dir.path.string(), 3);
    BOOST_TEST(back->schedule_name == "cosine");
    BOOST_TEST(back->schedule.steps() == 30);
    BOOST_TEST(back->stddev == d.stddev, tt::per_element());
    Tensor x = randn({2, 3}, DType::f32, &g), t = from_vector<int64_t>({1, 30}, {2});
    BOOST_TEST(max(abs(back->net->forward(x, t) - d.net->forward(x, t))).item() == 0.0);
    Tensor z = randn({2, 3}, DType::f32, &g);
    BOOST_TEST(max(abs(d.unstandardize(d.standardize(z)) - z)).item() < 1e-5);
    std::string e = testing::error_of([&] { load_diffusion(dir.path.string(), 32); });
    BOOST_TEST(testing::contains(e, "trained for latent size 3, but the VAE has latent size 32"));
    e = testing::error_of([&] { load_diffusion((dir.path / "nope").string()); });
    BOOST_TEST(testing::contains(e, "not a latent diffusion folder"));
}

BOOST_AUTO_TEST_CASE(denoiser_learns_a_ring) {
    // x_0 on the unit circle; after training, samples land near it, while N(0, I) samples are
    // 0.55 away from it on average. Linear schedule as is; cosine with x_0 clamped to [-3, 3]
    // (without it, its abar_T ~ 1e-7 magnifies the denoiser's errors: distances of 20 to 170).
    for (auto [name, clip] : {std::pair{"linear", 0.0}, std::pair{"cosine", 3.0}}) {
        Generator g(4);
        LatentDiffusion d({2, 64, 3, 16}, name, 100, &g);
        d.schedule.x0_clip = clip;
        nn::AdamW opt(d.net->parameters(), nn::AdamConfig{.lr = 3e-3, .weight_decay = 0.0});
        const double pi = std::acos(-1.0);
        for (int step = 0; step < 800; ++step) {
            std::vector<float> a = to_vector<float>(rand({128, 1}, DType::f32, &g) * (2 * pi)), xy;
            for (float v : a) {
                xy.push_back(std::cos(v));
                xy.push_back(std::sin(v));
            }
            Tensor loss = ddpm_loss(*d.net, d.schedule, from_vector<float>(xy, {128, 2}), &g);
            loss.backward();
            opt.step();
            opt.zero_grad();
        }
        d.net->eval();
        auto ring_distance = [](const Tensor& x) {
            return mean(abs(sqrt(sum(x * x, {1})) - 1.0)).item();
        };
        Generator s(5);
        const double ddim = ring_distance(d.sample(400, 25, 0.0, &s));
        const double ancestral = ring_distance(d.sample(400, 0, 0.0, &s));
        const double prior = ring_distance(randn({400, 2}, DType::f32, &s));
        BOOST_TEST_MESSAGE(name << " ring distance: DDIM-25 " << ddim << ", ancestral "
                                << ancestral << ", N(0, I) " << prior);
        BOOST_TEST(ddim < 0.15, name);
        BOOST_TEST(ancestral < 0.1, name);
        BOOST_TEST(prior > 0.3);
    }
}

BOOST_AUTO_TEST_SUITE_END()
