// Scoring text (gpt/score.h and `gradstack score`) on the reference tiny model with the tiny
// test vocabulary: every log-probability against a direct forward + log_softmax, the sliding
// window's contexts for a text longer than n_positions, and the CLI's output and errors.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/score.h"
#include "tests/gpt/cli_helpers.h"

using namespace gradstack;
using namespace gradstack::test;

namespace {

fs::path tiny() {
    return source_dir() / "tests" / "data" / "tiny_gpt2";
}

// log p(ids[end-1] | ids[begin..end-2]) from one plain forward pass over ids[begin, end).
double direct_logprob(gpt::GPT2LMHeadModel& model, const std::vector<int64_t>& ids, int64_t begin,
                      int64_t end) {
    NoGradGuard no_grad;
    std::vector<int64_t> window(ids.begin() + begin, ids.begin() + end);
    Tensor logits = model.forward(from_vector<int64_t>(window, {1, end - begin})).logits;
    Tensor logp =
        log_softmax(to_dtype(select(select(logits, 0, 0), 0, end - begin - 2), DType::f64), -1);
    return element_at(logp, {ids[end - 1]});
}

std::string long_text() {
    std::string text;
    for (int i = 0; i < 12; ++i)
        text += "the hen had aaa eggs and he ate " + std::to_string(i) + ". ";
    return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(score)

BOOST_AUTO_TEST_CASE(short_text_matches_one_forward_pass) {
    auto model = gpt::load_pretrained(tiny().string());
    const std::vector<int64_t> ids{50256, 258, 257, 32, 256, 97, 104, 101};
    const std::vector<double> lp = gpt::token_logprobs(*model, ids, 64);
    BOOST_TEST(std::isnan(lp[0]));
    for (int64_t t = 1; t < 8; ++t)
        BOOST_TEST(std::abs(lp[t] - direct_logprob(*model, ids, 0, t + 1)) < 1e-5, "token " << t);
}

BOOST_AUTO_TEST_CASE(long_text_slides_a_window_of_n_positions) {
    auto model = gpt::load_pretrained(tiny().string());  // n_positions = 128
    TempDir dir;
    write_tiny_tokenizer(dir.path, false);
    std::vector<int64_t> ids = gpt::Tokenizer::from_directory(dir.path).encode(long_text());
    BOOST_REQUIRE(ids.size() > 300);
    // stride 64: windows start at 0, 64, 128, 192, ...; token t is scored in the first window
    // whose end (start + 128) is past it, with the context from that window's start.
    const std::vector<double> lp = gpt::token_logprobs(*model, ids, 64);
    const std::vector<std::pair<int64_t, int64_t>> token_and_start{
        {100, 0}, {127, 0}, {128, 64}, {130, 64}, {191, 64}, {192, 128}, {200, 128}, {290, 192}};
    for (auto [t, begin] : token_and_start)
        BOOST_TEST(std::abs(lp[t] - direct_logprob(*model, ids, begin, t + 1)) < 1e-5,
                   "token " << t);
    // stride 1: every token sees the 127 tokens before it (one pass per token: 140 tokens only).
    ids.resize(140);
    const std::vector<double> dense = gpt::token_logprobs(*model, ids, 1);
    for (int64_t t : {5, 127, 128, 133, 139})
        BOOST_TEST(std::abs(dense[t] - direct_logprob(*model, ids, std::max<int64_t>(0, t - 127),
                                                      t + 1)) < 1e-5,
                   "token " << t);
    BOOST_CHECK_THROW(gpt::token_logprobs(*model, ids, 128), Error);
    BOOST_CHECK_THROW(gpt::token_logprobs(*model, ids, 0), Error);
    BOOST_CHECK_THROW(gpt::token_logprobs(*model, {1, 50257}, 64), Error);
}

BOOST_AUTO_TEST_CASE(cli_prints_tokens_nll_and_perplexity,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    auto model = gpt::load_pretrained(tiny().string());
    TempDir dir;
    write_tiny_tokenizer(dir.path, false);
    const std::string base =
        "score --model " + tiny().string() + " --tokenizer " + dir.path.string() + " ";
    CliRun r = run_cli(base + "--text ' hehe aaa' --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto j = nlohmann::json::parse(r.out);
    const std::vector<int64_t> ids{50256, 258, 257, 32, 256, 97};  // <|endoftext|> + the text
    BOOST_REQUIRE(j["tokens"].size() == 5);
    BOOST_TEST(j["n_tokens"].get<int64_t>() == 5);
    double nll = 0;
    for (int t = 1; t < 6; ++t) {
        const auto& token = j["tokens"][t - 1];
        BOOST_TEST(token["id"].get<int64_t>() == ids[t]);
        const double want = direct_logprob(*model, ids, 0, t + 1);
        BOOST_TEST(std::abs(token["logprob"].get<double>() - want) < 1e-5, "token " << t);
        nll -= want;
    }
    BOOST_TEST(j["tokens"][0]["text"].get<std::string>() == " he");
    BOOST_TEST(std::abs(j["nll"].get<double>() - nll) < 1e-4);
    BOOST_TEST(std::abs(j["perplexity"].get<double>() - std::exp(nll / 5)) <
               1e-4 * std::exp(nll / 5));

    // --no-bos: the first token is shown without a score.
    r = run_cli(base + "--text ' hehe aaa' --json --no-bos");
    j = nlohmann::json::parse(r.out);
    BOOST_TEST(j["n_tokens"].get<int64_t>() == 4);
    BOOST_TEST(j["tokens"][0]["logprob"].is_null());
    const std::vector<int64_t> plain(ids.begin() + 1, ids.end());
    BOOST_TEST(std::abs(j["tokens"][1]["logprob"].get<double>() -
                        direct_logprob(*model, plain, 0, 2)) < 1e-5);

    // A file longer than n_positions, and the table output.
    write_text(dir.path / "long.txt", long_text());
    r = run_cli(base + "--file " + (dir.path / "long.txt").string() + " --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    j = nlohmann::json::parse(r.out);
    std::vector<int64_t> long_ids = gpt::Tokenizer::from_directory(dir.path).encode(long_text());
    long_ids.insert(long_ids.begin(), 50256);
    const std::vector<double> lp = gpt::token_logprobs(*model, long_ids, 64);
    BOOST_REQUIRE(j["tokens"].size() == long_ids.size() - 1);
    for (std::size_t t = 1; t < long_ids.size(); t += 37)
        BOOST_TEST(std::abs(j["tokens"][t - 1]["logprob"].get<double>() - lp[t]) < 1e-9);
    r = run_cli(base + "--text ' hehe aaa'");
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "perplexity"), r.out);
    BOOST_TEST(contains(r.out, "\" he\""), r.out);
}

BOOST_AUTO_TEST_CASE(cli_errors, *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir dir;
    write_tiny_tokenizer(dir.path, false);
    const std::string base =
        "score --model " + tiny().string() + " --tokenizer " + dir.path.string() + " ";
    const std::pair<std::string, std::string> cases[] = {
        {"--text ''", "empty"},
        {"--text a --no-bos", "nothing to score"},
        {"", "--text or --file"},
        {"--file " + (dir.path / "absent.txt").string(), "absent.txt"},
        {"--text abc --stride 128", "stride"},
    };
    for (const auto& [args, message] : cases) {
        CliRun r = run_cli(base + args);
        BOOST_TEST(r.exit_code != 0, args);
        BOOST_TEST(contains(r.err, message), args << " -> " << r.err);
    }
}

BOOST_AUTO_TEST_SUITE_END()
