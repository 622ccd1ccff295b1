// Optimizer behaviour beyond the PyTorch numbers: state dict round trips (resuming gives the same
// parameters as never stopping), bad state dicts, skipped parameters, version bumps, parameter
// groups, float64 and strided parameters, the OpenMP path, schedules and clipping by hand.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip.h"
#include "nn/optim/schedule.h"
#include "nn/optim/sgd.h"
#include "optim_reference.h"

using namespace gradstack;
using namespace gradstack::nn;
using namespace gradstack::test;

namespace {

const nlohmann::json& reference_case(const std::string& name) {
    for (const auto& c : optim_reference()["optimizers"])
        if (c["name"] == name) return c;
    throw Error("no reference case " + name);
}

std::vector<Tensor> fresh_copies(const std::vector<Tensor>& params) {
    std::vector<Tensor> out;
    for (const Tensor& p : params) {
        out.push_back(clone(p.detach()));
        out.back().requires_grad_(true);
    }
    return out;
}

NamedTensors replace(NamedTensors state, const std::string& key, Tensor value) {
    for (auto& [k, t] : state)
        if (k == key) t = value;
    return state;
}

NamedTensors without(NamedTensors state, const std::string& key) {
    std::erase_if(state, [&](const auto& kv) { return kv.first == key; });
    return state;
}

// Runs `body` and checks that it throws a gradstack::Error whose message contains `text`.
template <class F>
void check_throws_with(F&& body, const std::string& text) {
    try {
        body();
        BOOST_ERROR("no exception; expected one mentioning '" << text << "'");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find(text) != std::string::npos,
                   "message '" << e.what() << "' lacks '" << text << "'");
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optim)

BOOST_AUTO_TEST_CASE(resume_from_state_dict_equals_uninterrupted_steps) {
    for (const char* name : {"sgd_momentum", "sgd_nesterov", "adam", "adamw_groups"}) {
        const auto& c = reference_case(name);
        std::vector<Tensor> params = make_params(c);
        auto opt = make_optimizer(c, params);
        for (int s = 0; s < 2; ++s) {
            set_grads(c, s, params);
            opt->step();
        }
        // "Save" after step 2 and resume in a fresh optimizer over fresh parameters.
        std::vector<Tensor> resumed = fresh_copies(params);
        auto opt2 = make_optimizer(c, resumed);
        opt2->load_state_dict(opt->state_dict());
        BOOST_TEST(opt2->step_count() == 2);
        for (int s = 2; s < 5; ++s) {
            set_grads(c, s, params);
            opt->step();
            set_grads(c, s, resumed);
            opt2->step();
        }
        for (size_t j = 0; j < params.size(); ++j)
            BOOST_TEST(to_vector<float>(params[j]) == to_vector<float>(resumed[j]),
                       boost::test_tools::per_element());
        BOOST_TEST(opt2->step_count() == 5);
    }
}

BOOST_AUTO_TEST_CASE(state_dict_names_and_copies) {
    const auto& c = reference_case("adam");
    std::vector<Tensor> params = make_params(c);
    auto opt = make_optimizer(c, params);
    std::vector<std::string> keys;
    for (const auto& [k, t] : opt->state_dict()) keys.push_back(k);
    BOOST_TEST(keys == std::vector<std::string>(
                           {"state.step", "param_groups.0.lr", "param_groups.0.weight_decay",
                            "param_groups.0.params", "hyper.beta1", "hyper.beta2", "hyper.eps",
                            "hyper.decoupled_weight_decay"}),
               boost::test_tools::per_element());
    for (int s = 0; s < 2; ++s) {  // parameter 2 has no gradient at step 1
        set_grads(c, s, params);
        opt->step();
    }
    const NamedTensors state = opt->state_dict();
    std::map<std::string, Tensor> by_name(state.begin(), state.end());
    BOOST_TEST(by_name.at("state.step").item<int64_t>() == 2);
    BOOST_TEST(by_name.at("state.0.0.step").item<int64_t>() == 2);
    BOOST_TEST(by_name.at("state.0.2.step").item<int64_t>() == 1);
    BOOST_TEST(by_name.at("state.0.1.exp_avg_sq").shape() == Shape({5}));
    BOOST_TEST(by_name.at("param_groups.0.lr").item<double>() == 0.01);
    BOOST_TEST(by_name.at("hyper.beta2").item<double>() == 0.999);

    // A loaded optimizer owns its buffers: writing into the dict afterwards changes nothing.
    std::vector<Tensor> resumed = fresh_copies(params);
    auto opt2 = make_optimizer(c, resumed);
    opt2->load_state_dict(state);
    Tensor m = by_name.at("state.0.0.exp_avg");
    fill_(m, 123.0);
    std::map<std::string, Tensor> loaded;
    for (const auto& [k, t] : opt2->state_dict()) loaded[k] = t;
    BOOST_TEST(to_vector<float>(loaded.at("state.0.0.exp_avg"))[0] != 123.0f);
}

BOOST_AUTO_TEST_CASE(bad_state_dicts_throw_and_change_nothing) {
    const auto& c = reference_case("adamw_groups");
    std::vector<Tensor> params = make_params(c);
    auto opt = make_optimizer(c, params);
    set_grads(c, 0, params);
    opt->step();
    const NamedTensors good = opt->state_dict();

    std::vector<Tensor> other = fresh_copies(params);
    auto target = make_optimizer(c, other);
    auto load = [&](const NamedTensors& s) { return [&target, s] { target->load_state_dict(s); }; };
    check_throws_with(load(without(good, "state.0.1.exp_avg_sq")),
                      "missing 'state.0.1.exp_avg_sq'");
    check_throws_with(load(without(good, "hyper.beta1")), "missing 'hyper.beta1'");
    check_throws_with(load(without(good, "state.0.0.step")), "unexpected key 'state.0.0.exp_avg'");
    NamedTensors extra = good;
    extra.emplace_back("state.0.7.exp_avg", zeros({1}));
    check_throws_with(load(extra), "unexpected key 'state.0.7.exp_avg'");
    extra = good;
    extra.emplace_back("hyper.beta1", scalar_tensor(0.5, DType::f64));
    check_throws_with(load(extra), "'hyper.beta1' appears twice");
    check_throws_with(load(replace(good, "state.1.0.exp_avg", zeros({4}))),
                      "'state.1.0.exp_avg' is float32 (4,) but its parameter is float32 (5,)");
    check_throws_with(load(replace(good, "state.1.0.exp_avg", zeros({5}, DType::f64))),
                      "'state.1.0.exp_avg' is float64");
    check_throws_with(load(replace(good, "hyper.eps", zeros({2}, DType::f64))),
                      "'hyper.eps' must be a 0-d tensor, got shape (2,)");
    check_throws_with(load(replace(good, "state.step", scalar_tensor(1.0, DType::f32))),
                      "'state.step' must be int64, got float32");
    check_throws_with(load(replace(good, "param_groups.1.params", scalar_tensor(2, DType::i64))),
                      "group 1 has 2 parameters in the state dict but 1 here");
    check_throws_with(load(replace(good, "hyper.beta2", scalar_tensor(1.5, DType::f64))),
                      "betas (0.9, 1.5) must be in [0, 1)");
    check_throws_with(load(replace(good, "param_groups.0.lr", scalar_tensor(-1, DType::f64))),
                      "group 0 has lr -1");
    // Wrong optimizer with the same groups: AdamW's state into Adam, and into SGD.
    const std::vector<Tensor> copies = fresh_copies(params);
    const std::vector<ParamGroup> groups{{{copies[0], copies[2]}, 0.1, 0}, {{copies[1]}, 0.1, 0}};
    Adam adam(groups);
    check_throws_with([&] { adam.load_state_dict(good); }, "comes from adamw, not adam");
    Sgd sgd(groups);
    check_throws_with([&] { sgd.load_state_dict(good); }, "missing 'hyper.momentum'");

    // None of the failures changed the target: it still has no state and its own settings.
    BOOST_TEST(target->step_count() == 0);
    BOOST_TEST(target->state_dict().size() == 1 + 3 * 2 + 4);
    BOOST_TEST(static_cast<Adam&>(*target).config().beta2 == 0.999);
    target->load_state_dict(good);  // and the good one still loads
    BOOST_TEST(target->step_count() == 1);
}

BOOST_AUTO_TEST_CASE(skips_parameters_without_grad_and_bumps_versions) {
    Tensor a = from_vector<float>({1, 2}).requires_grad_(true);
    Tensor b = from_vector<float>({3, 4}).requires_grad_(true);
    Sgd opt(std::vector<Tensor>{a, b}, SgdConfig{.lr = 0.5});
    Tensor y = sum(a * a);  // saves a for its backward
    a.set_grad(from_vector<float>({1, -1}));
    const uint64_t before = a.storage()->version();
    opt.step();
    BOOST_TEST(to_vector<float>(a) == std::vector<float>({0.5f, 2.5f}),
               boost::test_tools::per_element());
    BOOST_TEST(to_vector<float>(b) == std::vector<float>({3, 4}), boost::test_tools::per_element());
    BOOST_TEST(a.storage()->version() > before);
    BOOST_CHECK_THROW(y.backward(), Error);  // a changed under the graph
    opt.zero_grad();
    BOOST_TEST(!a.grad().defined());
}

BOOST_AUTO_TEST_CASE(decay_groups_split_like_nanogpt) {
    Tensor w = zeros({4, 3}).requires_grad_(true);
    Tensor bias = zeros({3}).requires_grad_(true);
    Tensor ln = ones({3}).requires_grad_(true);
    Tensor wte = zeros({10, 4}).requires_grad_(true);
    Tensor frozen = zeros({2, 2});
    const auto groups = decay_groups(
        {{"w", w}, {"b", bias}, {"ln.weight", ln}, {"wte", wte}, {"frozen", frozen}}, 0.1, 6e-4);
    BOOST_TEST_REQUIRE(groups.size() == 2u);
    BOOST_TEST(groups[0].params.size() == 2u);
    BOOST_TEST(groups[0].params[1].is_same(wte));
    BOOST_TEST(groups[0].weight_decay == 0.1);
    BOOST_TEST(groups[1].params.size() == 2u);
    BOOST_TEST(groups[1].weight_decay == 0.0);
    BOOST_TEST(groups[1].lr == 6e-4);
    BOOST_TEST(decay_groups({{"b", bias}}, 0.1, 1e-3).size() == 1u);
    AdamW opt(groups);
    opt.set_lr(1e-3);
    BOOST_TEST(opt.param_groups()[1].lr == 1e-3);
}

BOOST_AUTO_TEST_CASE(constructor_errors) {
    Tensor p = zeros({2}).requires_grad_(true);
    check_throws_with([&] { Sgd(std::vector<Tensor>{p}, SgdConfig{.nesterov = true}); },
                      "nesterov needs momentum > 0");
    check_throws_with([&] { Sgd(std::vector<Tensor>{p}, SgdConfig{.lr = -1}); }, "lr -1");
    check_throws_with([&] { Adam(std::vector<Tensor>{p, p}); }, "appears more than once");
    check_throws_with([&] { Adam(std::vector<Tensor>{}); }, "no parameters");
    check_throws_with([&] { Adam(std::vector<Tensor>{p}, AdamConfig{.beta1 = 1.0}); },
                      "betas (1, 0.999)");
    check_throws_with([&] { Adam(std::vector<Tensor>{p * 2.0}); }, "computed by an op");
    check_throws_with([&] { Adam(std::vector<Tensor>{zeros({2}, DType::i64)}); }, "is int64");
    check_throws_with([&] { Adam(std::vector<Tensor>{p}).set_lr(-0.1); }, "set_lr(-0.1)");
}

BOOST_AUTO_TEST_CASE(adam_float64_first_step_by_hand) {
    // On step 1, m_hat = g and v_hat = g^2, so p moves by lr * g / (|g| + eps).
    Tensor p = from_vector<double>({1, 2}).requires_grad_(true);
    Adam opt(std::vector<Tensor>{p}, AdamConfig{.lr = 0.1});
    p.set_grad(from_vector<double>({0.5, -0.25}));
    opt.step();
    const auto v = to_vector<double>(p);
    BOOST_TEST(std::abs(v[0] - (1 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-15);
    BOOST_TEST(std::abs(v[1] - (2 + 0.1 * 0.25 / (0.25 + 1e-8))) < 1e-15);
}

BOOST_AUTO_TEST_CASE(strided_and_large_parameters_match_contiguous_small_ones) {
    // A transposed leaf is updated through a copy and written back in place.
    Tensor base = arange(0, 6, 1, DType::f32).detach();
    Tensor strided = transpose(view(base, {2, 3}), 0, 1).detach().requires_grad_(true);  // (3, 2)
    Tensor plain = contiguous(strided).detach().requires_grad_(true);
    BOOST_TEST_REQUIRE(!strided.is_contiguous());
    Tensor g = from_vector<float>({1, -2, 3, -4, 5, -6}, {3, 2});
    AdamW a(std::vector<Tensor>{strided}), b(std::vector<Tensor>{plain});
    for (int s = 0; s < 3; ++s) {
        strided.set_grad(g);
        plain.set_grad(g);
        a.step();
        b.step();
    }
    BOOST_TEST(to_vector<float>(strided) == to_vector<float>(plain),
               boost::test_tools::per_element());
    BOOST_TEST(to_vector<float>(base)[1] == to_vector<float>(plain)[2]);  // written through

    // A tensor above the OpenMP grain gives the same bits as the same values in small pieces.
    const int64_t n = 80000, piece = 8000;
    std::vector<float> values(n), grads(n);
    for (int64_t k = 0; k < n; ++k) {
        values[k] = float(std::sin(0.01 * k));
        grads[k] = float(std::cos(0.003 * k));
    }
    Tensor big = from_vector(values).requires_grad_(true);
    Tensor big_grad = from_vector(grads);
    std::vector<Tensor> pieces;
    for (int64_t k = 0; k < n; k += piece)
        pieces.push_back(contiguous(slice(big, 0, k, k + piece)).detach().requires_grad_(true));
    AdamW whole(std::vector<Tensor>{big}), split(pieces);
    for (int s = 0; s < 3; ++s) {
        big.set_grad(big_grad);
        for (size_t i = 0; i < pieces.size(); ++i)
            pieces[i].set_grad(contiguous(slice(big_grad, 0, i * piece, (i + 1) * piece)));
        whole.step();
        split.step();
    }
    const auto w = to_vector<float>(big);
    bool same = true;
    for (size_t i = 0; i < pieces.size(); ++i) {
        const auto part = to_vector<float>(pieces[i]);
        for (int64_t k = 0; k < piece; ++k) same = same && part[k] == w[i * piece + k];
    }
    BOOST_TEST(same);
}

BOOST_AUTO_TEST_CASE(schedules_by_hand) {
    const WarmupCosineLr cosine(1.0, 4, 12, 0.1);
    BOOST_TEST(cosine(0) == 0.0);
    BOOST_TEST(cosine(2) == 0.5);
    BOOST_TEST(cosine(4) == 1.0);
    BOOST_TEST(std::abs(cosine(8) - 0.55) < 1e-15);  // halfway: 0.1 + 0.9 * 0.5
    BOOST_TEST(std::abs(cosine(12) - 0.1) < 1e-15);
    BOOST_TEST(cosine(100) == 0.1);
    const WarmupLinearLr linear(1.0, 4, 12, 0.1);
    BOOST_TEST(linear(2) == 0.5);
    BOOST_TEST(std::abs(linear(10) - 0.325) < 1e-15);  // 0.1 + 0.9 * 0.25
    BOOST_TEST(linear(50) == 0.1);
    BOOST_TEST(ConstantLr(3e-4)(1000) == 3e-4);
    // No warm-up and no decay phase: max_lr at step 0, the floor from step 1 (as Hugging Face).
    BOOST_TEST(WarmupCosineLr(1.0, 0, 0, 0.1)(0) == 1.0);
    BOOST_TEST(WarmupCosineLr(1.0, 0, 0, 0.1)(1) == 0.1);
    check_throws_with([] { WarmupCosineLr(1.0, 10, 5); }, "0 <= warmup <= total");
    check_throws_with([] { WarmupLinearLr(1.0, 0, 5, 2.0); }, "min_lr 2 and max_lr 1");
    check_throws_with([] { WarmupCosineLr(1.0, 0, 5)(-1); }, "step -1 is negative");
    BOOST_CHECK_THROW(ConstantLr(-1.0), Error);
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_by_hand) {
    Tensor a = zeros({2}).requires_grad_(true);
    a.set_grad(from_vector<float>({3, 4}));
    BOOST_TEST(clip_grad_norm({a}, 10.0) == 5.0);  // below the limit: unchanged
    BOOST_TEST(to_vector<float>(a.grad()) == std::vector<float>({3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(clip_grad_norm({a}, 1.0) == 5.0);
    const auto g = to_vector<float>(a.grad());
    BOOST_TEST(std::abs(g[0] - 0.6f) < 1e-6f);
    BOOST_TEST(std::abs(g[1] - 0.8f) < 1e-6f);
    a.set_grad(from_vector<float>({std::numeric_limits<float>::quiet_NaN(), 1}));
    BOOST_TEST(std::isnan(clip_grad_norm({a}, 1.0)));
    BOOST_TEST(to_vector<float>(a.grad())[1] == 1.0f);
    BOOST_TEST(clip_grad_norm({zeros({1})}, 1.0) == 0.0);
    check_throws_with([&] { clip_grad_norm({a}, 0.0); }, "max_norm 0 must be > 0");
}

BOOST_AUTO_TEST_SUITE_END()
