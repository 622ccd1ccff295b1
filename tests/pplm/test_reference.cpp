// PPLM against a reference run of uber's algorithm: tests/data/pplm/reference_cases.json, made by
// tests/pplm/reference/make_pplm_reference.py (a plain-torch port of run_pplm.py, checked token
// for token against run_pplm.py itself) on the tiny checkpoint. Greedy: the chosen tokens must be
// the same, exactly; the per-iteration losses agree to float32 rounding. Both through the
// library and through `gradstack pplm --json`.
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "gpt/checkpoint.h"
#include "pplm/generate.h"
#include "tests/gpt/cli_helpers.h"
#include "tests/test_util.h"

namespace gradstack::test {
namespace {

using nlohmann::json;

json reference_cases() {
    std::ifstream in(testing::test_data("pplm/reference_cases.json"));
    BOOST_REQUIRE_MESSAGE(in.good(), "tests/data/pplm/reference_cases.json is missing");
    return json::parse(in);
}

pplm::PplmConfig config_of(const json& o) {
    pplm::PplmConfig c;
    c.length = o.at("length");
    c.stepsize = o.at("stepsize");
    c.num_iterations = o.at("num_iterations");
    c.window_length = o.at("window_length");
    c.decay = o.at("decay");
    c.gamma = o.at("gamma");
    c.kl_scale = o.at("kl_scale");
    c.gm_scale = o.at("gm_scale");
    c.grad_length = o.at("grad_length");
    c.horizon_length = o.at("horizon_length");
    c.temperature = o.at("temperature");
    c.top_k = o.at("top_k");
    return c;
}

// The CLI flags for the same options.
std::string flags_of(const json& o) {
    std::string f = fmt::format(
        " --length {} --stepsize {} --num-iterations {} --window-length {} --gamma {} "
        "--kl-scale {} --gm-scale {} --grad-length {} --horizon-length {} --temperature {} "
        "--top-k {}",
        o.at("length").get<int64_t>(), o.at("stepsize").get<double>(),
        o.at("num_iterations").get<int64_t>(), o.at("window_length").get<int64_t>(),
        o.at("gamma").get<double>(), o.at("kl_scale").get<double>(),
        o.at("gm_scale").get<double>(), o.at("grad_length").get<int64_t>(),
        o.at("horizon_length").get<int64_t>(), o.at("temperature").get<double>(),
        o.at("top_k").get<int64_t>());
    if (o.at("decay").get<bool>()) f += " --decay";
    for (const auto& b : o.value("bow", json::array())) f += " --bow " + b.get<std::string>();
    if (o.contains("discrim"))
        f += fmt::format(" --discrim {}/{} --class-label {}", testing::source_dir(),
                         o["discrim"].get<std::string>(), o["class_label"].get<int64_t>());
    return f;
}

void check_trace(const std::string& name, const std::vector<std::vector<double>>& got,
                 const json& expected) {
    BOOST_REQUIRE_MESSAGE(got.size() == expected.size(), name << ": loss_trace has " << got.size()
                                                            << " tokens, expected " << expected.size());
    for (size_t t = 0; t < got.size(); ++t) {
        BOOST_REQUIRE_MESSAGE(got[t].size() == expected[t].size(),
                              name << ": token " << t << " has " << got[t].size() << " iterations");
        // The losses are float32 sums whose order depends on the SIMD width and the thread count
        // (an AVX-512 machine at 2 threads lands 1% from the AVX2 / PyTorch trace after a few
        // perturbed tokens: the normalised gradient steps amplify rounding), so they are held to
        // 2% here; the token ids above are compared exactly.
        for (size_t k = 0; k < got[t].size(); ++k) {
            const double e = expected[t][k];
            BOOST_TEST(std::abs(got[t][k] - e) <= 1e-4 + 2e-2 * std::abs(e),
                       name << ": loss at token " << t << " iteration " << k << ": " << got[t][k]
                            << " vs " << e);
        }
    }
}

BOOST_AUTO_TEST_SUITE(pplm_reference, *boost::unit_test::precondition(HasGpt2Vocab{}))

BOOST_AUTO_TEST_CASE(bags_encode_as_the_reference) {
    const json ref = reference_cases();
    for (const auto& [name, ids] : ref.at("bags").items()) {
        pplm::BagOfWords bag = pplm::load_bag(name, gpt2());
        BOOST_TEST(bag.ids == ids.get<std::vector<int64_t>>(), boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(greedy_pplm_chooses_the_reference_tokens) {
    const json ref = reference_cases();
    auto model = gpt::load_pretrained(testing::source_dir() + "/" + ref.at("model").get<std::string>());
    for (const auto& c : ref.at("cases")) {
        const std::string name = c.at("name");
        const json& o = c.at("options");
        pplm::AttributeModel a;
        for (const auto& b : o.value("bow", json::array()))
            a.bags.push_back(pplm::load_bag(b.get<std::string>(), gpt2()));
        if (o.contains("discrim")) {
            a.discrim = std::make_shared<pplm::Discriminator>(pplm::load_discriminator(
                testing::source_dir() + "/" + o["discrim"].get<std::string>()));
            a.class_label = o.at("class_label");
        }
        const auto prompt = c.at("prompt_ids").get<std::vector<int64_t>>();
        const pplm::PplmConfig config = config_of(o);
        auto unpert = pplm::generate_unperturbed(*model, prompt, config.length, 1, false, 10, 1.0,
                                                 nullptr);
        BOOST_TEST(unpert[0].new_ids == c.at("unperturbed_new_ids").get<std::vector<int64_t>>(),
                   name << " (unperturbed)" << boost::test_tools::per_element());
        auto out = pplm::generate_pplm(*model, prompt, a, config, nullptr);
        BOOST_TEST(out[0].new_ids == c.at("new_ids").get<std::vector<int64_t>>(),
                   name << boost::test_tools::per_element());
        check_trace(name, out[0].loss_trace, c.at("loss_trace"));
    }
}

BOOST_AUTO_TEST_CASE(the_cli_gives_the_same_json, *boost::unit_test::precondition(HasGradstackBinary{})) {
    const json ref = reference_cases();
    // A few cases through the binary: options spelled as flags, --prompt-ids as given.
    for (const char* wanted : {"bow_two_bags", "bow_window3_decay", "discrim_class2_horizon2"}) {
        for (const auto& c : ref.at("cases")) {
            if (c.at("name") != wanted) continue;
            std::vector<int64_t> prompt = c.at("prompt_ids");
            CliRun r = run_cli(fmt::format("pplm --model {}/{} --tokenizer {} --prompt-ids {} {} --json",
                                           testing::source_dir(), ref.at("model").get<std::string>(),
                                           gpt2_vocab_dir().string(), fmt::join(prompt, ","),
                                           flags_of(c.at("options"))));
            BOOST_REQUIRE_MESSAGE(r.exit_code == 0, wanted << ": " << r.err);
            json j = json::parse(r.out);
            BOOST_TEST(j["prompt_ids"] == c["prompt_ids"], wanted);
            BOOST_TEST(j["unperturbed"]["new_ids"] == c["unperturbed_new_ids"], wanted);
            BOOST_TEST(j["samples"][0]["new_ids"] == c["new_ids"], wanted);
            check_trace(wanted, j["samples"][0]["loss_trace"].get<std::vector<std::vector<double>>>(),
                        c["loss_trace"]);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace gradstack::test
