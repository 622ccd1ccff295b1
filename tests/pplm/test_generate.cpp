// PPLM generation: float64 gradient checks of the two perturbation losses, stepsize 0 equal to
// plain greedy decoding, steering that lowers the attribute loss, batched samples equal to one at
// a time, and every bad option rejected with a message naming it.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/generation/generate.h"
#include "pplm/generate.h"
#include "pplm/loss.h"
#include "nn/safetensors.h"
#include "tests/gpt/cli_helpers.h"
#include "tests/test_util.h"

namespace gradstack::test {
namespace {

using testing::contains;
using testing::error_of;

// A random float64 GPT-2 small enough for finite differences.
std::shared_ptr<gpt::GPT2LMHeadModel> tiny_f64_model() {
    gpt::GPT2Config c;
    c.vocab_size = 23;
    c.n_positions = 16;
    c.n_embd = 8;
    c.n_layer = 2;
    c.n_head = 2;
    c.initializer_range = 0.3;  // large enough that the distributions are far from uniform
    c.dtype = DType::f64;
    Generator gen(3);
    auto m = std::make_shared<gpt::GPT2LMHeadModel>(c, &gen);
    m->eval();
    m->requires_grad_(false);
    return m;
}

pplm::AttributeModel both_attributes(int64_t embed, int64_t classes) {
    pplm::AttributeModel a;
    pplm::BagOfWords bag;
    bag.name = "planted";
    bag.ids = {3, 7, 7, 11};  // a repeated word counts twice, as uber's one-hot rows
    a.bags.push_back(bag);
    a.discrim = std::make_shared<pplm::Discriminator>();
    Generator gen(5);
    a.discrim->head = std::make_shared<pplm::ClassifierHead>(classes, embed, &gen, DType::f64);
    a.discrim->head->requires_grad_(false);
    a.discrim->meta.class_size = classes;
    a.discrim->meta.embed_size = embed;
    a.class_label = 1;
    return a;
}

// The state of one token's perturbation problem: the prompt [1, 4, 9, 2, 5] with `last` = 5.
struct Problem {
    std::shared_ptr<gpt::GPT2LMHeadModel> model = tiny_f64_model();
    pplm::AttributeModel attribute = both_attributes(8, 3);
    pplm::PplmConfig config;
    pplm::LossContext context;
    std::vector<gpt::KVCache> past;
    Tensor last = from_vector<int64_t>({5, 5}, {2, 1});
    Tensor h_last;

    explicit Problem(int64_t horizon) {
        config.horizon_length = horizon;
        config.kl_scale = 0.3;  // large, so the KL term's gradient is checked too
        NoGradGuard no_grad;
        gpt::ForwardOptions o;
        o.output_hidden_states = true;
        auto pre = model->forward(from_vector<int64_t>({1, 4, 9, 2, 1, 4, 9, 2}, {2, 4}), o);
        past = pre.presents;
        gpt::ForwardOptions u;
        u.past = past;
        u.output_hidden_states = true;
        auto unpert = model->forward(last, u);
        context.model = model.get();
        context.attribute = &attribute;
        context.config = &config;
        context.unpert_probs_floored = pplm::floored(softmax(select(unpert.logits, 1, 0), -1));
        context.hidden_sum = sum(pre.hidden_states.back(), {1});
        context.unpert_past = unpert.presents;
        context.past_length = 4;
        context.labels = from_vector<int64_t>({1, 1});
        h_last = contiguous(select(unpert.hidden_states.back(), 1, 0));
    }
};

BOOST_AUTO_TEST_SUITE(pplm_generate)

BOOST_AUTO_TEST_CASE(past_perturbation_gradient_matches_finite_differences) {
    // Bags and KL: the loss is an ordinary function of the perturbation; gradcheck it whole.
    Problem p(1);
    p.attribute.discrim = nullptr;
    std::vector<Tensor> inputs;
    Generator gen(11);
    for (const auto& kv : p.past) {
        inputs.push_back((randn(kv.key.shape(), DType::f64, &gen) * 0.1).requires_grad_());
        inputs.push_back((randn(kv.value.shape(), DType::f64, &gen) * 0.1).requires_grad_());
    }
    auto split = [](const std::vector<Tensor>& d) {
        std::vector<Tensor> dk, dv;
        for (size_t l = 0; l < d.size(); l += 2) dk.push_back(d[l]), dv.push_back(d[l + 1]);
        return std::pair{dk, dv};
    };
    auto fn = [&](const std::vector<Tensor>& d) {
        auto [dk, dv] = split(d);
        return pplm::past_perturbation_loss(p.context, p.last, p.past, dk, dv);
    };
    GradcheckResult r = gradcheck(fn, inputs);
    BOOST_TEST(r.ok, r.message);
}

BOOST_AUTO_TEST_CASE(past_perturbation_gradient_with_a_discriminator) {
    // uber detaches the last token's hidden state where it enters the discriminator's mean, so
    // the gradient is that of the loss with that hidden state held at its current value h0:
    // compare with central differences of exactly that function, written out here.
    for (int64_t horizon : {1, 2}) {
        Problem p(horizon);
        Generator gen(13);
        std::vector<Tensor> dk, dv;
        for (const auto& kv : p.past) {
            dk.push_back((randn(kv.key.shape(), DType::f64, &gen) * 0.1).requires_grad_());
            dv.push_back((randn(kv.value.shape(), DType::f64, &gen) * 0.1).requires_grad_());
        }
        Tensor seed = randn({2}, DType::f64, &gen);
        sum(pplm::past_perturbation_loss(p.context, p.last, p.past, dk, dv) * seed).backward();

        auto run = [&](const std::vector<Tensor>& k, const std::vector<Tensor>& v) {
            gpt::ForwardOptions o;
            o.output_hidden_states = true;
            for (size_t l = 0; l < p.past.size(); ++l)
                o.past.emplace_back(p.past[l].key + k[l], p.past[l].value + v[l]);
            return p.model->forward(p.last, o);
        };
        NoGradGuard no_grad;
        const Tensor h0 = contiguous(select(run(dk, dv).hidden_states.back(), 1, 0));
        auto held = [&](const std::vector<Tensor>& k, const std::vector<Tensor>& v) {
            Tensor probs = softmax(select(run(k, v).logits, 1, 0), -1);
            return sum(pplm::pplm_loss(p.context, probs, h0) * seed).item<double>();
        };
        const double eps = 1e-6;
        for (size_t l = 0; l < dk.size(); ++l) {
            for (bool key : {true, false}) {
                Tensor& x = key ? dk[l] : dv[l];
                std::vector<double> analytic = to_vector<double>(x.grad());
                for (int64_t e = 0; e < x.numel(); e += 7) {
                    auto nudge = [&](double by) {
                        std::vector<Tensor> k = dk, v = dv;
                        Tensor& t = key ? k[l] : v[l];
                        std::vector<double> vals = to_vector<double>(t);
                        vals[e] += by;
                        t = from_vector<double>(vals, t.shape());
                        return held(k, v);
                    };
                    const double numeric = (nudge(eps) - nudge(-eps)) / (2 * eps);
                    BOOST_TEST(std::abs(analytic[e] - numeric) <= 1e-7 + 1e-4 * std::abs(numeric),
                               "horizon " << horizon << " layer " << l << (key ? " key " : " value ")
                                          << e << ": " << analytic[e] << " vs " << numeric);
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(hidden_perturbation_gradient_matches_finite_differences) {
    for (int64_t horizon : {1, 3}) {
        Problem p(horizon);
        Generator gen(12);
        Tensor delta = (randn({2, 8}, DType::f64, &gen) * 0.1).requires_grad_();
        auto fn = [&](const std::vector<Tensor>& d) {
            return pplm::hidden_perturbation_loss(p.context, p.h_last, d[0]);
        };
        GradcheckResult r = gradcheck(fn, {delta});
        BOOST_TEST(r.ok, "horizon " << horizon << ": " << r.message);
    }
}

BOOST_AUTO_TEST_CASE(bow_loss_is_minus_log_of_the_bag_mass) {
    Tensor probs = from_vector<double>({0.1, 0.2, 0.3, 0.4, 0.25, 0.25, 0.25, 0.25}, {2, 4});
    pplm::BagOfWords a, b;
    a.ids = {1, 3, 3};
    b.ids = {0};
    std::vector<double> l = to_vector<double>(pplm::bow_loss(probs, {a, b}));
    BOOST_TEST(l[0] == -std::log(0.2 + 0.4 + 0.4) - std::log(0.1), boost::test_tools::tolerance(1e-12));
    BOOST_TEST(l[1] == -std::log(0.75) - std::log(0.25), boost::test_tools::tolerance(1e-12));
    a.ids = {4};
    BOOST_TEST(contains(error_of([&] { pplm::bow_loss(probs, {a}); }), "outside the model's vocabulary"));
}

// The tiny reference checkpoint in float32, and a bag of ids that are likely there.
std::shared_ptr<gpt::GPT2LMHeadModel> tiny_model() {
    return gpt::load_pretrained(testing::test_data("tiny_gpt2"));
}

pplm::AttributeModel planted_bag(gpt::GPT2LMHeadModel& model, const std::vector<int64_t>& prompt) {
    // The bag: the 10th to 30th likeliest next tokens after the prompt, so steering has room.
    NoGradGuard no_grad;
    auto out = model.forward(from_vector<int64_t>(prompt, {1, static_cast<int64_t>(prompt.size())}));
    Tensor logits = select(select(out.logits, 0, 0), 0, static_cast<int64_t>(prompt.size()) - 1);
    std::vector<int64_t> order = to_vector<int64_t>(argsort(logits, -1, true));
    pplm::AttributeModel a;
    pplm::BagOfWords bag;
    bag.name = "planted";
    bag.ids.assign(order.begin() + 10, order.begin() + 30);
    a.bags.push_back(bag);
    return a;
}

const std::vector<int64_t> kPrompt = {50256, 464, 13546, 318};

BOOST_AUTO_TEST_CASE(stepsize_zero_is_plain_greedy_decoding) {
    auto model = tiny_model();
    gpt::GenerationConfig g;
    g.max_new_tokens = 12;
    g.eos_token_id = -1;
    auto plain = gpt::generate(*model, {kPrompt}, g)[0][0].new_ids;
    for (auto target : {pplm::PerturbTarget::past, pplm::PerturbTarget::hidden}) {
        pplm::PplmConfig c;
        c.length = 12;
        c.stepsize = 0;
        c.perturb = target;
        auto out = pplm::generate_pplm(*model, kPrompt, planted_bag(*model, kPrompt), c, nullptr);
        BOOST_TEST(out[0].new_ids == plain, boost::test_tools::per_element());
        BOOST_TEST(out[0].loss_trace.size() == 12u);
        BOOST_TEST(out[0].loss_trace[0].size() == 3u);
    }
    auto unpert = pplm::generate_unperturbed(*model, kPrompt, 12, 2, false, 10, 1.0, nullptr);
    BOOST_TEST(unpert[1].new_ids == plain, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(steering_raises_the_bag_probability) {
    // The bag holds the 10th to 30th likeliest next tokens: greedy decoding never picks one
    // first; steered hard enough, PPLM does.
    auto model = tiny_model();
    auto bag = planted_bag(*model, kPrompt);
    auto plain = pplm::generate_unperturbed(*model, kPrompt, 4, 1, false, 10, 1.0, nullptr);
    BOOST_TEST(!pplm::in_bags(bag.bags, plain[0].new_ids[0]));
    for (auto target : {pplm::PerturbTarget::past, pplm::PerturbTarget::hidden}) {
        pplm::PplmConfig c;
        c.length = 4;
        c.stepsize = 0.5;
        c.num_iterations = 5;
        c.perturb = target;
        auto out = pplm::generate_pplm(*model, kPrompt, bag, c, nullptr);
        // The steps lower the loss (-log p(bag) + KL) below its unperturbed value (a step this
        // large may overshoot, so not necessarily at every iteration).
        const auto& first = out[0].loss_trace[0];
        BOOST_TEST(*std::min_element(first.begin() + 1, first.end()) < first[0]);
        BOOST_TEST(pplm::in_bags(bag.bags, out[0].new_ids[0]));
    }
}

BOOST_AUTO_TEST_CASE(a_batch_of_samples_equals_one_run_per_sample) {
    auto model = tiny_model();
    auto bag = planted_bag(*model, kPrompt);
    bag.discrim = std::make_shared<pplm::Discriminator>();
    Generator gen(2);
    bag.discrim->head = std::make_shared<pplm::ClassifierHead>(3, 16, &gen);
    bag.discrim->meta.class_size = 3;
    bag.discrim->meta.embed_size = 16;
    bag.class_label = 2;
    for (bool with_bag : {true, false}) {
        pplm::AttributeModel a = bag;
        if (!with_bag) a.bags.clear();
        pplm::PplmConfig c;
        c.length = 6;
        c.stepsize = 0.04;
        c.window_length = 2;
        c.decay = true;
        auto one = pplm::generate_pplm(*model, kPrompt, a, c, nullptr);
        c.num_samples = 3;
        auto three = pplm::generate_pplm(*model, kPrompt, a, c, nullptr);
        BOOST_REQUIRE(three.size() == 3u);
        for (const auto& s : three) {
            BOOST_TEST(s.new_ids == one[0].new_ids, boost::test_tools::per_element());
            for (size_t t = 0; t < s.loss_trace.size(); ++t)
                for (size_t k = 0; k < s.loss_trace[t].size(); ++k)
                    BOOST_TEST(s.loss_trace[t][k] == one[0].loss_trace[t][k],
                               boost::test_tools::tolerance(1e-4));
            BOOST_TEST(s.attribute_loss == one[0].attribute_loss, boost::test_tools::tolerance(1e-4));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_one_token_prompt_starts_unperturbed) {
    auto model = tiny_model();
    auto bag = planted_bag(*model, {50256});
    pplm::PplmConfig c;
    c.length = 4;
    auto out = pplm::generate_pplm(*model, {50256}, bag, c, nullptr);
    BOOST_TEST(out[0].loss_trace[0].empty());
    BOOST_TEST(out[0].loss_trace[1].size() == 3u);
    c.perturb = pplm::PerturbTarget::hidden;  // the hidden state exists from the first token
    out = pplm::generate_pplm(*model, {50256}, bag, c, nullptr);
    BOOST_TEST(out[0].loss_trace[0].size() == 3u);
}

BOOST_AUTO_TEST_CASE(non_finite_probabilities_stop_with_an_error) {
    auto model = tiny_model();
    auto bag = planted_bag(*model, kPrompt);
    {
        NoGradGuard no_grad;
        Tensor w = model->transformer->ln_f->weight;
        fill_(w, std::nan(""));
    }
    pplm::PplmConfig c;
    c.length = 3;
    BOOST_TEST(contains(error_of([&] { pplm::generate_pplm(*model, kPrompt, bag, c, nullptr); }),
                        "not finite"));
    BOOST_TEST(contains(error_of([&] {
                   pplm::generate_unperturbed(*model, kPrompt, 3, 1, false, 10, 1.0, nullptr);
               }),
                        "not finite"));
}

BOOST_AUTO_TEST_CASE(bad_options_are_rejected_naming_them) {
    gpt::GPT2Config m;
    m.n_positions = 128;
    auto bad = [&](auto edit, int64_t prompt = 4, bool discrim = false) {
        pplm::PplmConfig c;
        edit(c);
        return error_of([&] { c.validate(m, prompt, discrim); });
    };
    BOOST_TEST(contains(bad([](auto& c) { c.stepsize = -0.1; }), "--stepsize"));
    BOOST_TEST(contains(bad([](auto& c) { c.window_length = 129; }), "--window-length"));
    BOOST_TEST(contains(bad([](auto& c) { c.decay = true; }), "--decay needs --window-length"));
    BOOST_TEST(contains(bad([](auto& c) { c.gm_scale = 1.5; }), "--gm-scale"));
    BOOST_TEST(contains(bad([](auto& c) { c.temperature = 0; }), "--temperature"));
    BOOST_TEST(contains(bad([](auto& c) { c.top_k = -1; }), "--top-k"));
    BOOST_TEST(contains(bad([](auto& c) { c.num_samples = 0; }), "--num-samples"));
    BOOST_TEST(contains(bad([](auto& c) { c.horizon_length = 0; }), "--horizon-length"));
    BOOST_TEST(contains(bad([](auto& c) { c.length = 0; }), "--length"));
    BOOST_TEST(contains(bad([](auto& c) { c.length = 100; }, 29), "n_positions = 128"));
    BOOST_TEST(bad([](auto& c) { c.length = 100; }, 28).empty());
    BOOST_TEST(contains(bad([](auto& c) { c.length = 100; c.horizon_length = 2; }, 28, true),
                        "--horizon-length"));
    BOOST_TEST(contains(bad([](auto&) {}, 0), "prompt is empty"));
}

BOOST_AUTO_TEST_SUITE_END()

// The command line: the JSON contract and the errors.
BOOST_AUTO_TEST_SUITE(pplm_cli)

const std::string kTiny = "--model " + testing::test_data("tiny_gpt2");

BOOST_AUTO_TEST_CASE(json_follows_the_contract,
                     *boost::unit_test::precondition(HasGradstackBinary{}) *
                         boost::unit_test::precondition(HasGpt2Vocab{})) {
    const std::string tok = " --tokenizer " + gpt2_vocab_dir().string();
    CliRun r = run_cli("pplm " + kTiny + tok +
                       " --prompt 'The lake' --bow space --bow military --length 5 "
                       "--num-samples 2 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto j = nlohmann::json::parse(r.out);
    std::vector<int64_t> expected_prompt = {50256};
    for (int64_t id : gpt2().encode("The lake")) expected_prompt.push_back(id);
    BOOST_TEST(j["prompt_ids"].get<std::vector<int64_t>>() == expected_prompt,
               boost::test_tools::per_element());
    BOOST_TEST(j["unperturbed"]["new_ids"].size() == 5u);
    BOOST_TEST(j["unperturbed"]["text"].get<std::string>() ==
               gpt2().decode_text(j["unperturbed"]["new_ids"].get<std::vector<int64_t>>()));
    BOOST_REQUIRE(j["samples"].size() == 2u);
    for (const auto& s : j["samples"]) {
        BOOST_TEST(s["new_ids"].size() == 5u);
        BOOST_TEST(s["text"].get<std::string>() ==
                   gpt2().decode_text(s["new_ids"].get<std::vector<int64_t>>()));
        BOOST_TEST(s["attribute_loss"].is_number());
        BOOST_REQUIRE(s["loss_trace"].size() == 5u);
        BOOST_TEST(s["loss_trace"][0].size() == 3u);
    }
    BOOST_TEST(contains(r.err, "bag 'space': "));

    // --prompt-ids are used as given; --uncond is <|endoftext|> alone.
    r = run_cli("pplm " + kTiny + tok + " --prompt-ids 464,13546 --bow space --length 2 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(nlohmann::json::parse(r.out)["prompt_ids"].dump() == "[464,13546]");
    r = run_cli("pplm " + kTiny + tok + " --uncond --bow space --length 2 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto u = nlohmann::json::parse(r.out);
    BOOST_TEST(u["prompt_ids"].dump() == "[50256]");
    BOOST_TEST(u["samples"][0]["loss_trace"][0].empty());  // no past before the first token
}

BOOST_AUTO_TEST_CASE(uber_spellings_are_accepted,
                     *boost::unit_test::precondition(HasGradstackBinary{}) *
                         boost::unit_test::precondition(HasGpt2Vocab{})) {
    const std::string base = "pplm " + kTiny + " --tokenizer " + gpt2_vocab_dir().string() +
                             " --prompt 'The lake' --length 4 --stepsize 0.3 --json";
    // -B "space;military" as run_pplm.py spells two bags.
    CliRun two = run_cli(base + " --bow space --bow military");
    CliRun joined = run_cli(base + " --bow 'space;military'");
    BOOST_REQUIRE_MESSAGE(two.exit_code == 0 && joined.exit_code == 0, two.err << joined.err);
    BOOST_TEST(nlohmann::json::parse(two.out)["samples"] == nlohmann::json::parse(joined.out)["samples"]);
    // A head saved with uber's state-dict names (mlp.weight, mlp.bias).
    TempDir dir;
    const std::string src = testing::test_data("pplm/discrim_tiny");
    fs::copy_file(src + "/meta.json", dir.path / "meta.json");
    auto d = pplm::load_discriminator(src);
    save_safetensors((dir.path / "head.safetensors").string(),
                     {{"mlp.weight", d.head->weight}, {"mlp.bias", d.head->bias}});
    CliRun ours = run_cli(base + " --discrim " + src + " --class-label 2");
    CliRun ubers = run_cli(base + " --discrim " + dir.path.string() + " --class-label 2");
    BOOST_REQUIRE_MESSAGE(ours.exit_code == 0 && ubers.exit_code == 0, ours.err << ubers.err);
    BOOST_TEST(nlohmann::json::parse(ours.out)["samples"] == nlohmann::json::parse(ubers.out)["samples"]);
}

BOOST_AUTO_TEST_CASE(bad_input_fails_with_a_clear_error,
                     *boost::unit_test::precondition(HasGradstackBinary{}) *
                         boost::unit_test::precondition(HasGpt2Vocab{})) {
    const std::string base = "pplm " + kTiny + " --tokenizer " + gpt2_vocab_dir().string();
    TempDir dir;
    const fs::path empty_bag = dir.path / "empty.txt";
    std::ofstream(empty_bag) << "antidisestablishmentarianism\n\n";
    struct Case {
        std::string args, message;
    };
    const std::vector<Case> cases = {
        {" --prompt hi --bow space --stepsize -1", "--stepsize: must be a finite number in [0, inf)"},
        {" --prompt hi --bow space --window-length 500", "--window-length must be in [0, n_positions = 128]"},
        {" --prompt hi --bow nosuchbag", "not a built-in bag"},
        {" --prompt hi --bow " + empty_bag.string(), "none of its 1 words is a single token"},
        {" --prompt hi --bow space --length 127", "n_positions = 128"},
        {" --prompt hi --bow space --decay", "--decay needs --window-length"},
        {" --prompt hi", "give a bag of words"},
        {" --bow space", "give --prompt TEXT"},
        {" --prompt hi --bow space --sample --greedy", "excludes"},
        {" --prompt hi --bow space --perturb sideways", "--perturb"},
        {" --prompt-ids 1,x --bow space", "--prompt-ids"},
        {" --prompt-ids 99999 --bow space", "vocab_size"},
        {" --prompt hi --discrim " + dir.path.string(), "meta.json"},
        {" --prompt hi --class-label 1 --bow space", "--discrim"},
    };
    for (const auto& c : cases) {
        CliRun r = run_cli(base + c.args);
        BOOST_TEST(r.exit_code != 0, c.args);
        BOOST_TEST(contains(r.err, c.message), c.args << " -> " << r.err);
    }
}

BOOST_AUTO_TEST_CASE(a_head_of_another_width_is_rejected,
                     *boost::unit_test::precondition(HasGradstackBinary{}) *
                         boost::unit_test::precondition(HasGpt2Vocab{})) {
    TempDir dir;
    pplm::Discriminator d;
    d.meta.class_size = 2;
    d.meta.embed_size = 8;
    d.meta.class_vocab = {{"a", 0}, {"b", 1}};
    d.head = std::make_shared<pplm::ClassifierHead>(2, 8);
    pplm::save_discriminator(d, dir.path.string());
    CliRun r = run_cli("pplm " + kTiny + " --tokenizer " + gpt2_vocab_dir().string() +
                       " --prompt hi --discrim " + dir.path.string() + " --class-label b");
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(contains(r.err, "embed_size = 8, but the model's n_embd is 16"), r.err);
    // An unknown label falls back to default_class with a warning, as uber's code.
    d.meta.embed_size = 16;
    d.head = std::make_shared<pplm::ClassifierHead>(2, 16);
    pplm::save_discriminator(d, dir.path.string());
    r = run_cli("pplm " + kTiny + " --tokenizer " + gpt2_vocab_dir().string() +
                " --prompt hi --discrim " + dir.path.string() + " --class-label zzz --length 2 --json");
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.err, "using default class 0"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace gradstack::test
