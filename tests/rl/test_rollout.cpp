// The guard against the seed notebook's negative KL: rollouts sample from exactly the distribution
// whose log-probabilities PPO uses, for left-padded batches too, with an EOS scored like any other
// token; KL is exactly 0 against an identical reference. Also the value head (its options, loading
// a plain checkpoint, saving and reloading) and the reference's shared layers.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "rl/ppo_math.h"
#include "rl/reference.h"
#include "rl/rollout.h"
#include "rl/value_head.h"
#include "tests/rl/rl_helpers.h"

using namespace gradstack;
using namespace gradstack::rl;
using namespace gradstack::test;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
    return max(abs(to_dtype(a, DType::f64) - to_dtype(b, DType::f64))).item<double>();
}

const Rows kQueries = {{3, 1, 4, 1, 5}, {9}, {2, 6}, {5, 3, 5, 8, 9, 7, 9}};

}  // namespace

BOOST_AUTO_TEST_SUITE(rollout)

BOOST_AUTO_TEST_CASE(batches_are_left_padded) {
    Batch b = make_batch({{1, 2, 3}, {4}}, {{5, 6}, {7, 8}}, 0);
    BOOST_TEST(b.Q == 3);
    BOOST_TEST(b.N == 2);
    std::vector<int64_t> ids(b.ids.data<int64_t>(), b.ids.data<int64_t>() + 10);
    BOOST_TEST(ids == (std::vector<int64_t>{1, 2, 3, 5, 6, 0, 0, 4, 7, 8}), boost::test_tools::per_element());
    Tensor pos = contiguous(b.positions);
    std::vector<int64_t> p(pos.data<int64_t>(), pos.data<int64_t>() + 10);
    BOOST_TEST(p == (std::vector<int64_t>{0, 1, 2, 3, 4, 1, 1, 0, 1, 2}), boost::test_tools::per_element());
    BOOST_TEST(testing::contains(testing::error_of([] { make_batch({{}}, {{1}}, 0); }), "query 0 is empty"));
}

BOOST_AUTO_TEST_CASE(sampled_logprobs_equal_a_fresh_forward) {
    // The log-probabilities recorded while sampling (incremental, through the KV cache) are those
    // a fresh forward over the whole left-padded batch gives the same tokens.
    auto lm = small_model();
    Generator gen(7);
    Samples s = sample_responses(*lm, kQueries, 12, gen);
    Batch b = make_batch(kQueries, s.responses, lm->config().eos_token_id);
    NoGradGuard no_grad;
    ResponseForward f = forward_responses(*lm, nullptr, b);
    std::vector<float> flat;
    for (auto& row : s.logprobs) flat.insert(flat.end(), row.begin(), row.end());
    BOOST_TEST(max_abs_diff(f.logprobs, from_vector(flat, {4, 12})) < 2e-5);
    // And each is log softmax of the plain distribution (no filter): summing exp over the
    // vocabulary gives 1 at every position.
    Tensor total = sum(exp(f.logp), {-1});
    BOOST_TEST(max_abs_diff(total, ones_like(total)) < 1e-5);
}

BOOST_AUTO_TEST_CASE(responses_run_through_eos_and_eos_is_scored) {
    // A model that puts most of its mass on EOS: responses are still exactly N tokens, with EOS
    // inside them, and the EOS positions carry their real log-probability (no mask, no padding).
    auto lm = small_model(2);
    const int64_t eos = lm->config().eos_token_id, C = lm->config().n_embd;
    {
        // ln_f outputs e_0 at every position (weight 0, bias e_0), so the logits are column 0 of
        // the tied head; EOS gets logit 2 there: p(EOS) about 0.3 at every step.
        NoGradGuard no_grad;
        float* g = lm->transformer->ln_f->weight.data<float>();
        float* b = lm->transformer->ln_f->bias.data<float>();
        for (int64_t i = 0; i < C; ++i) g[i] = 0.0f, b[i] = i == 0 ? 1.0f : 0.0f;
        lm->transformer->wte->weight.data<float>()[eos * C] = 2.0f;
    }
    Generator gen(1);
    Samples s = sample_responses(*lm, kQueries, 10, gen);
    int64_t eos_count = 0, after_eos = 0;
    for (auto& r : s.responses) {
        BOOST_TEST(r.size() == 10u);
        for (size_t t = 0; t < r.size(); ++t) {
            if (r[t] == eos) {
                ++eos_count;
                if (t + 1 < r.size()) ++after_eos;
            }
        }
    }
    BOOST_TEST(eos_count > 0);
    BOOST_TEST(after_eos > 0);  // sampling went on after an EOS
    Batch b = make_batch(kQueries, s.responses, eos);
    NoGradGuard no_grad;
    ResponseForward f = forward_responses(*lm, nullptr, b);
    Tensor lp = contiguous(f.logprobs);
    for (size_t r = 0; r < s.responses.size(); ++r)
        for (int64_t t = 0; t < 10; ++t) {
            const float v = lp.data<float>()[r * 10 + t];
            BOOST_TEST(std::isfinite(v));
            BOOST_TEST(v < 0.0f);  // a real log-probability, not a masked 0
            BOOST_TEST(std::abs(v - s.logprobs[r][t]) < 2e-5);
        }
}

BOOST_AUTO_TEST_CASE(kl_is_exactly_zero_against_an_identical_reference) {
    auto lm = small_model();
    auto ref = create_reference(*lm);
    Generator gen(5);
    Samples s = sample_responses(*lm, kQueries, 8, gen);
    Batch b = make_batch(kQueries, s.responses, lm->config().eos_token_id);
    NoGradGuard no_grad;
    ResponseForward p = forward_responses(*lm, nullptr, b), r = forward_responses(*ref, nullptr, b);
    for (KlPenalty k : {KlPenalty::kl, KlPenalty::abs, KlPenalty::mse, KlPenalty::full}) {
        Tensor kl = kl_estimate(k, p.logprobs, r.logprobs, p.logp, r.logp);
        BOOST_TEST(max(abs(kl)).item<double>() == 0.0);
    }
}

BOOST_AUTO_TEST_CASE(the_sampled_kl_estimates_the_true_kl) {
    // Against a different reference, the exact KL per token is >= 0, and the mean of the sampled
    // estimate log p - log p_ref converges to it: the tokens come from p itself. (Sampling from a
    // filtered distribution while scoring p, the notebook's bug, would break this.)
    auto lm = small_model(1), other = small_model(9);
    Rows qs;
    for (int i = 0; i < 64; ++i) qs.push_back({i % 15, (3 * i) % 15});
    Generator gen(11);
    Samples s = sample_responses(*lm, qs, 8, gen);
    Batch b = make_batch(qs, s.responses, 15);
    NoGradGuard no_grad;
    ResponseForward p = forward_responses(*lm, nullptr, b), r = forward_responses(*other, nullptr, b);
    Tensor full = kl_estimate(KlPenalty::full, p.logprobs, r.logprobs, p.logp, r.logp);
    BOOST_TEST(min(full).item<double>() >= 0.0);
    Tensor sampled = to_dtype(p.logprobs - r.logprobs, DType::f64);
    const double n = static_cast<double>(sampled.numel());
    const double mean_sampled = mean(sampled).item<double>();
    const double sd = std::sqrt(var(sampled).item<double>() / n);
    const double mean_full = mean(to_dtype(full, DType::f64)).item<double>();
    BOOST_TEST(mean_full > 0.05);
    BOOST_TEST(std::abs(mean_sampled - mean_full) < 4 * sd + 1e-9,
               "sampled " << mean_sampled << " exact " << mean_full << " se " << sd);
}

BOOST_AUTO_TEST_CASE(shared_layers_use_the_policy_storage) {
    auto lm = small_model();
    auto ref = create_reference(*lm, 1);
    auto names = shared_parameter_names(*lm, 1);
    BOOST_TEST(names.front() == "transformer.wte.weight");
    BOOST_TEST(names.back().rfind("transformer.h.0.", 0) == 0);
    auto mine = lm->named_parameters(), theirs = ref->named_parameters();
    for (size_t i = 0; i < mine.size(); ++i) {
        const bool shared = std::find(names.begin(), names.end(), mine[i].first) != names.end();
        BOOST_TEST((mine[i].second.storage() == theirs[i].second.storage()) == shared, mine[i].first);
        BOOST_TEST(mine[i].second.requires_grad() == !shared, mine[i].first);
        BOOST_TEST(!theirs[i].second.requires_grad());
    }
    // The shared reference computes what an unshared copy computes.
    auto plain = create_reference(*lm, 0);
    Batch b = make_batch(kQueries, {{1, 2}, {3, 4}, {5, 6}, {7, 8}}, 15);
    NoGradGuard no_grad;
    BOOST_TEST(max_abs_diff(forward_responses(*ref, nullptr, b).logprobs,
                            forward_responses(*plain, nullptr, b).logprobs) == 0.0);
    BOOST_TEST(testing::contains(testing::error_of([&] { create_reference(*lm, 3); }),
                                 "--shared-layers 3 must be in [0, n_layer = 2]"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(value_head)

BOOST_AUTO_TEST_CASE(options_are_read_and_checked) {
    nlohmann::json j = {{"summary_activation", "tanh"}, {"summary_first_dropout", 0.0},
                        {"summary_type", "last"}};
    ValueHeadConfig c = value_head_config(j, "config.json");
    BOOST_TEST(c.summary_activation == "tanh");
    BOOST_TEST(c.summary_type == "last");
    BOOST_TEST(c.summary_use_proj);
    auto err = [](nlohmann::json j) {
        return testing::error_of([&] { value_head_config(j, "cfg.json"); });
    };
    BOOST_TEST(testing::contains(err({{"summary_use_proj", false}}), "cfg.json: summary_use_proj is false"));
    BOOST_TEST(testing::contains(err({{"summary_proj_to_labels", false}}), "summary_proj_to_labels"));
    BOOST_TEST(testing::contains(err({{"summary_type", "attn"}}), "summary_type \"attn\""));
    BOOST_TEST(testing::contains(err({{"summary_activation", "relu"}}), "summary_activation \"relu\""));
    BOOST_TEST(testing::contains(err({{"summary_first_dropout", "x"}}), "\"summary_first_dropout\" has the wrong type"));
    BOOST_TEST(testing::contains(err({{"summary_last_dropout", 1.5}}), "summary_last_dropout = 1.5"));
}

BOOST_AUTO_TEST_CASE(head_gradcheck) {
    // float64, with respect to the hidden states (contiguous, permuted, broadcast) and the head's
    // parameters; tanh on, dropout off.
    ValueHeadConfig c;
    c.summary_activation = "tanh";
    c.summary_first_dropout = 0;
    Generator gen(4);
    ValueHead head(c, 6, 0.5, DType::f64, &gen);
    Tensor h = randn({2, 3, 6}, DType::f64, &gen).requires_grad_();
    auto fn = [&](const std::vector<Tensor>& x) { return head.forward(x[0]); };
    GradcheckResult r = gradcheck(fn, {h, head.summary->weight, head.summary->bias});
    BOOST_TEST(r.ok, r.message);
    Tensor ht = randn({3, 2, 6}, DType::f64, &gen).requires_grad_();
    r = gradcheck([&](const std::vector<Tensor>& x) { return head.forward(transpose(x[0], 0, 1)); }, {ht});
    BOOST_TEST(r.ok, r.message);
    Tensor one = randn({1, 1, 6}, DType::f64, &gen).requires_grad_();
    r = gradcheck([&](const std::vector<Tensor>& x) { return head.forward(expand(x[0], {2, 3, 6})); }, {one});
    BOOST_TEST(r.ok, r.message);
}

BOOST_AUTO_TEST_CASE(detach_head_keeps_the_value_gradient_out_of_the_body) {
    for (bool detach : {false, true}) {
        Policy p{small_model(), nullptr};
        ValueHeadConfig c;
        c.detach_head = detach;
        p.v_head = std::make_shared<ValueHead>(c, 16, 0.02, DType::f32);
        p.v_head->eval();
        Tensor ids = from_vector(std::vector<int64_t>{1, 2, 3}, {1, 3});
        sum(p.forward(ids, {}).values).backward();
        BOOST_TEST(p.v_head->summary->weight.grad().defined());
        const Tensor& g = p.lm->transformer->h->operator[](0).mlp->c_fc->weight.grad();
        BOOST_TEST(g.defined() != detach);
    }
}

BOOST_AUTO_TEST_CASE(a_plain_checkpoint_loads_and_the_policy_saves_for_generate) {
    std::vector<std::string> warnings;
    Generator gen(0);
    Policy p = load_policy(tiny_gpt2_dir(), false, &gen, [&](const std::string& w) { warnings.push_back(w); });
    BOOST_REQUIRE_EQUAL(warnings.size(), 1u);
    BOOST_TEST(testing::contains(warnings[0], "newly initialized: ['v_head.summary.weight', 'v_head.summary.bias']"));
    BOOST_TEST(p.v_head->config().summary_first_dropout == 0.1);  // tiny_gpt2's config.json
    TempDir dir;
    save_policy(p, dir.path.string(), {{"step", "3"}});
    // The LM alone, as `gradstack generate` loads it, equals the policy's LM.
    auto lm = gpt::load_pretrained(dir.path.string());
    Tensor ids = from_vector(std::vector<int64_t>{464, 3290, 318}, {1, 3});
    NoGradGuard no_grad;
    BOOST_TEST(max_abs_diff(lm->forward(ids).logits, p.lm->forward(ids).logits) == 0.0);
    // And the policy reloads with its head, without a warning.
    warnings.clear();
    Policy q = load_policy(dir.path.string(), false, &gen, [&](const std::string& w) { warnings.push_back(w); });
    BOOST_TEST(warnings.empty());
    BOOST_TEST(max_abs_diff(q.v_head->summary->weight, p.v_head->summary->weight) == 0.0);
    auto names = p.named_parameters();
    BOOST_TEST(names.back().first == "v_head.summary.bias");
    auto config = nlohmann::json::parse(read_file_text(dir.path / "config.json"));
    BOOST_TEST(config.at("num_labels").get<int>() == 1);
    BOOST_TEST(config.at("summary_use_proj").get<bool>());
}

BOOST_AUTO_TEST_SUITE_END()
