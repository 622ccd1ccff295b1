// PPO's arithmetic against values worked out by hand from trl's formulas (each case shows its
// working in the comments), and float64 gradient checks of the two losses, the exact KL and the
// entropy.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "rl/ppo_math.h"
#include "tests/test_util.h"

using namespace gradstack;
using namespace gradstack::rl;

namespace {

Tensor f64(std::vector<double> v, Shape shape) { return from_vector(v, shape); }

void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-12) {
    Tensor d = contiguous(to_dtype(t, DType::f64));
    BOOST_REQUIRE_EQUAL(d.numel(), static_cast<int64_t>(expected.size()));
    for (size_t i = 0; i < expected.size(); ++i)
        BOOST_TEST(d.data<double>()[i] == expected[i], boost::test_tools::tolerance(tol));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ppo_math)

BOOST_AUTO_TEST_CASE(gae_by_hand) {
    // rewards 1, 0, 2; values 0.5, 0.2, 0.1; gamma 0.9, lambda 0.8 (gamma lambda = 0.72):
    //   t=2: delta = 2 + 0 - 0.1 = 1.9                      A = 1.9
    //   t=1: delta = 0 + 0.9 * 0.1 - 0.2 = -0.11            A = -0.11 + 0.72 * 1.9 = 1.258
    //   t=0: delta = 1 + 0.9 * 0.2 - 0.5 = 0.68             A = 0.68 + 0.72 * 1.258 = 1.58576
    //   returns = A + V
    Advantages a = gae(f64({1, 0, 2}, {1, 3}), f64({0.5, 0.2, 0.1}, {1, 3}), 0.9, 0.8);
    check_close(a.advantages, {1.58576, 1.258, 1.9});
    check_close(a.returns, {2.08576, 1.458, 2.0});
    // gamma = lambda = 1: A_t = sum of later rewards - V_t (Monte Carlo); rows are independent.
    Advantages b = gae(f64({1, 2, 0, 3}, {2, 2}), f64({0, 1, 0.5, 0}, {2, 2}), 1.0, 1.0);
    check_close(b.advantages, {3, 1, 2.5, 3});
}

BOOST_AUTO_TEST_CASE(rewards_put_the_score_on_the_last_token) {
    // -0.5 * kl, then + score at t = N - 1.
    Tensor r = compute_rewards(f64({1, 2}, {2}), f64({0.1, 0.2, 0.3, 0.4}, {2, 2}), 0.5);
    check_close(r, {-0.05, 0.9, -0.15, 1.8});
}

BOOST_AUTO_TEST_CASE(whitening_uses_the_unbiased_variance) {
    // [1, 2, 3, 4]: mean 2.5, var (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3.
    const double s = 1.0 / std::sqrt(5.0 / 3.0 + 1e-8);
    check_close(whiten(f64({1, 2, 3, 4}, {2, 2})), {-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s});
    check_close(whiten(f64({1, 2, 3, 4}, {4}), false),
                {-1.5 * s + 2.5, -0.5 * s + 2.5, 0.5 * s + 2.5, 1.5 * s + 2.5});
}

BOOST_AUTO_TEST_CASE(policy_loss_by_hand) {
    // ratio = exp(lp - old) = 1 and 1.5; advantages 1 and 2, cliprange 0.2:
    //   unclipped -A r = -1, -3; clipped -A clip(r) = -1, -2.4; max = -1, -2.4; mean -1.7.
    //   The clipped branch is larger for the second element only: clipfrac 0.5.
    LossTerms l = policy_loss(f64({0, std::log(1.5)}, {1, 2}), f64({0, 0}, {1, 2}),
                              f64({1, 2}, {1, 2}), 0.2);
    BOOST_TEST(l.loss.item<double>() == -1.7, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(l.clipfrac == 0.5);
    // A negative advantage with ratio 1.5: unclipped 1.5 > clipped 1.2, so nothing is clipped
    // (the pessimistic bound keeps the full penalty).
    LossTerms n = policy_loss(f64({std::log(1.5)}, {1, 1}), f64({0}, {1, 1}), f64({-1}, {1, 1}), 0.2);
    BOOST_TEST(n.loss.item<double>() == 1.5, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(n.clipfrac == 0.0);
}

BOOST_AUTO_TEST_CASE(value_loss_by_hand) {
    // values 1, 0; old 0.5, 0.5; returns 2, 0.4; clip 0.2: clipped values 0.7, 0.3.
    //   (V - R)^2 = 1, 0.16; (Vclip - R)^2 = 1.69, 0.01; max = 1.69, 0.16; 0.5 mean = 0.4625.
    LossTerms l = value_loss(f64({1, 0}, {1, 2}), f64({0.5, 0.5}, {1, 2}), f64({2, 0.4}, {1, 2}), 0.2);
    BOOST_TEST(l.loss.item<double>() == 0.4625, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(l.clipfrac == 0.5);
}

BOOST_AUTO_TEST_CASE(each_kl_estimator_by_hand) {
    // log p = -1, -2 and log p_ref = -1.5, -1.5: differences 0.5, -0.5.
    Tensor lp = f64({-1, -2}, {1, 2}), ref = f64({-1.5, -1.5}, {1, 2});
    check_close(kl_estimate(KlPenalty::kl, lp, ref), {0.5, -0.5});
    check_close(kl_estimate(KlPenalty::abs, lp, ref), {0.5, 0.5});
    check_close(kl_estimate(KlPenalty::mse, lp, ref), {0.125, 0.125});
    // full: p = (0.5, 0.5), p_ref = (0.25, 0.75): 0.5 ln 2 + 0.5 ln(2/3).
    Tensor logp = log(f64({0.5, 0.5}, {1, 1, 2})), ref_logp = log(f64({0.25, 0.75}, {1, 1, 2}));
    check_close(kl_estimate(KlPenalty::full, f64({0}, {1, 1}), f64({0}, {1, 1}), logp, ref_logp),
                {0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0)});
    BOOST_TEST(kl_penalty_name(parse_kl_penalty("full")) == "full");
    BOOST_TEST(testing::contains(testing::error_of([] { parse_kl_penalty("l2"); }), "--kl-penalty 'l2'"));
}

BOOST_AUTO_TEST_CASE(adaptive_controller_by_hand) {
    // KL 9 against target 6: error 0.5, clipped to 0.2; beta *= 1 + 0.2 * 64 / 10000.
    KlController up(0.2, true, 6, 10000);
    up.update(9, 64);
    BOOST_TEST(up.value() == 0.2 * 1.00128, boost::test_tools::tolerance(1e-14));
    // KL 5.4: error -0.1, inside the clip; beta *= 1 - 0.1 * 64 / 10000.
    KlController down(0.2, true, 6, 10000);
    down.update(5.4, 64);
    BOOST_TEST(down.value() == 0.2 * (1 - 0.00064), boost::test_tools::tolerance(1e-14));
    KlController fixed(0.2, false, 6, 10000);
    fixed.update(100, 64);
    BOOST_TEST(fixed.value() == 0.2);
}

BOOST_AUTO_TEST_CASE(running_moments_match_the_whole_sample) {
    // After [1, 2, 3] then [4]: the mean and unbiased std of [1, 2, 3, 4] (2.5 and sqrt(5/3)).
    RunningMoments m;
    m.update({1, 2, 3});
    BOOST_TEST(m.mean == 2.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(m.std == 1.0, boost::test_tools::tolerance(1e-12));
    m.update({4});
    BOOST_TEST(m.mean == 2.5, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(m.std == std::sqrt(5.0 / 3.0), boost::test_tools::tolerance(1e-12));
}

// float64 gradient checks (contiguous, permuted and broadcast inputs), at points away from the
// kinks of the clips.
BOOST_AUTO_TEST_CASE(losses_gradcheck) {
    Generator gen(3);
    Tensor old = randn({3, 4}, DType::f64, &gen) * scalar_tensor(0.1, DType::f64);
    Tensor adv = randn({3, 4}, DType::f64, &gen);
    Tensor lp = (old + randn({3, 4}, DType::f64, &gen) * scalar_tensor(0.3, DType::f64)).detach();
    lp.requires_grad_();
    auto pg = [&](const std::vector<Tensor>& x) { return policy_loss(x[0], old, adv, 0.2).loss; };
    GradcheckResult r = gradcheck(pg, {lp});
    BOOST_TEST(r.ok, r.message);
    // Permuted: the (4, 3) leaf seen as (3, 4).
    Tensor lp_t = contiguous(transpose(lp.detach(), 0, 1)).requires_grad_();
    r = gradcheck([&](const std::vector<Tensor>& x) {
        return policy_loss(transpose(x[0], 0, 1), old, adv, 0.2).loss;
    }, {lp_t});
    BOOST_TEST(r.ok, r.message);

    Tensor values = randn({3, 4}, DType::f64, &gen).requires_grad_();
    Tensor old_v = randn({3, 4}, DType::f64, &gen), ret = randn({3, 4}, DType::f64, &gen);
    r = gradcheck([&](const std::vector<Tensor>& x) { return value_loss(x[0], old_v, ret, 0.2).loss; },
                  {values});
    BOOST_TEST(r.ok, r.message);
    // Broadcast: one value per row, expanded over the tokens inside the function.
    Tensor row_v = randn({3, 1}, DType::f64, &gen).requires_grad_();
    r = gradcheck([&](const std::vector<Tensor>& x) {
        return value_loss(expand(x[0], {3, 4}), old_v, ret, 0.2).loss;
    }, {row_v});
    BOOST_TEST(r.ok, r.message);

    Tensor logits = randn({2, 3, 5}, DType::f64, &gen).requires_grad_();
    Tensor ref_logp = log_softmax(randn({2, 3, 5}, DType::f64, &gen), -1);
    r = gradcheck([&](const std::vector<Tensor>& x) {
        Tensor logp = log_softmax(x[0], -1);
        return kl_estimate(KlPenalty::full, Tensor(), Tensor(), logp, ref_logp) + entropy(logp);
    }, {logits});
    BOOST_TEST(r.ok, r.message);
}

BOOST_AUTO_TEST_SUITE_END()
