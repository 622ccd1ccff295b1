// PPLM evaluation: distinct-n and perplexity on hand-checked inputs, the four methods on the tiny
// checkpoint (shapes, ranking picks the best, the judge), and `gradstack pplm-eval --json`.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/score.h"
#include "pplm/eval.h"
#include "tests/gpt/cli_helpers.h"
#include "tests/test_util.h"

namespace gradstack::test {
namespace {

using testing::contains;
using testing::error_of;

BOOST_AUTO_TEST_SUITE(pplm_eval)

BOOST_AUTO_TEST_CASE(distinct_n_counts_unique_ngrams) {
    // 1 2 1 2 and 1 3: unigrams 6 (1, 2, 3 distinct), bigrams 4 ({1,2}, {2,1}, {1,3} distinct).
    std::vector<std::vector<int64_t>> t = {{1, 2, 1, 2}, {1, 3}};
    BOOST_TEST(pplm::distinct_n(t, 1) == 3.0 / 6.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(pplm::distinct_n(t, 2) == 3.0 / 4.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(pplm::distinct_n(t, 3) == 2.0 / 2.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(pplm::distinct_n({{1}}, 2) == 0.0);
}

BOOST_AUTO_TEST_CASE(perplexity_is_exp_of_the_mean_nll_of_the_new_tokens) {
    auto model = gpt::load_pretrained(testing::test_data("tiny_gpt2"));
    const std::vector<int64_t> prompt = {50256, 464}, added = {13546, 318, 257};
    const double ppl = pplm::perplexities(*model, prompt, {added})[0];
    // The same from per-token log-probabilities of the whole sequence.
    NoGradGuard no_grad;
    Tensor logits = model->forward(from_vector<int64_t>({50256, 464, 13546, 318, 257}, {1, 5})).logits;
    Tensor logp = log_softmax(select(logits, 0, 0), -1);  // (5, V)
    double nll = 0;
    for (int t = 0; t < 3; ++t) nll -= element_at(logp, {1 + t, added[t]});
    BOOST_TEST(ppl == std::exp(nll / 3), boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(four_methods_on_the_tiny_model) {
    auto model = gpt::load_pretrained(testing::test_data("tiny_gpt2"));
    pplm::AttributeModel a;
    pplm::BagOfWords bag;
    bag.name = "ids";
    bag.ids = {5151, 40930, 3491, 22703};
    a.bags.push_back(bag);
    pplm::EvalJudge judge;
    judge.discrim = std::make_shared<pplm::Discriminator>(
        pplm::load_discriminator(testing::test_data("pplm/discrim_tiny")));
    judge.class_label = 2;
    pplm::EvalConfig c;
    c.prompts = {{50256, 464, 13546}, {50256}};
    c.samples = 2;
    c.rank = 3;
    c.pplm.length = 4;
    c.pplm.stepsize = 0.3;
    Generator gen(1);
    pplm::EvalResult r = pplm::evaluate_pplm(*model, a, judge, c, &gen);
    BOOST_REQUIRE(r.methods.size() == 4u);
    const char* names[] = {"B", "BR", "BC", "BCR"};
    for (int m = 0; m < 4; ++m) {
        const auto& x = r.methods[m];
        BOOST_TEST(x.name == names[m]);
        BOOST_TEST(x.samples == 4);  // 2 prompts x 2 samples
        BOOST_TEST(x.accuracy.has_value());
        BOOST_TEST(*x.accuracy >= 0.0);
        BOOST_TEST(*x.accuracy <= 1.0);
        BOOST_TEST(x.bag_hit_rate.has_value());
        BOOST_TEST(x.perplexity > 1.0);
        BOOST_TEST(x.dist1 > 0.0);
        BOOST_TEST(x.dist1 <= 1.0);
        BOOST_TEST(x.seconds_per_token > 0.0);
    }
    // Ranking keeps the best of each group: never a worse mean attribute loss than its pool's
    // first samples.
    BOOST_TEST(r.methods[1].attribute_loss <= r.methods[0].attribute_loss + 1e-9);
    BOOST_TEST(r.methods[3].attribute_loss <= r.methods[2].attribute_loss + 1e-9);
    BOOST_TEST(r.samples.size() == 16u);
    for (const auto& s : r.samples) BOOST_TEST(s.new_ids.size() == 4u);

    // The steering discriminator cannot judge itself.
    pplm::AttributeModel d;
    d.discrim = judge.discrim;
    d.class_label = 2;
    BOOST_TEST(contains(error_of([&] { pplm::evaluate_pplm(*model, d, judge, c, &gen); }),
                        "must not be the one that steers"));
    c.rank = 0;
    BOOST_TEST(contains(error_of([&] { pplm::evaluate_pplm(*model, a, judge, c, &gen); }), "--rank"));
}

BOOST_AUTO_TEST_CASE(cli_json, *boost::unit_test::precondition(HasGradstackBinary{}) *
                                   boost::unit_test::precondition(HasGpt2Vocab{})) {
    const std::string base = "pplm-eval --model " + testing::test_data("tiny_gpt2") +
                             " --tokenizer " + gpt2_vocab_dir().string();
    CliRun r = run_cli(base + " --bow space --prompt 'The lake' --samples 2 --rank 2 --length 3 "
                              "--eval-discrim " + testing::test_data("pplm/discrim_tiny") +
                       " --eval-class positive --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto j = nlohmann::json::parse(r.out);
    BOOST_REQUIRE(j["methods"].size() == 4u);
    for (const auto& m : j["methods"]) {
        for (const char* key : {"name", "samples", "attribute_loss", "accuracy", "bag_hit_rate",
                                "bag_words_per_100", "perplexity", "dist1", "dist2", "dist3",
                                "seconds_per_token"})
            BOOST_TEST(m.contains(key), key);
        BOOST_TEST(m["samples"] == 2);
        BOOST_TEST(m["accuracy"].is_number());
    }
    BOOST_TEST(j["samples"].size() == 8u);
    // The steering discriminator as the judge is refused.
    const std::string d = testing::test_data("pplm/discrim_tiny");
    r = run_cli(base + " --discrim " + d + " --class-label 1 --eval-discrim " + d + " --length 2");
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(contains(r.err, "is the steering discriminator"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace gradstack::test
