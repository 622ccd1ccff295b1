// `gradstack generate` run as users run it, on the tiny reference model (tests/data/tiny_gpt2):
// --json gives one JSON object equal to the library's result (and the reference's tokens); the
// streamed text is the prompt plus the decoded tokens; bad values fail with "error:" naming the
// flag (more hostile values: test_robust_cli.cpp).
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <sstream>

#include "gpt/checkpoint.h"
#include "gpt/generation/generate.h"
#include "tests/gpt/cli_helpers.h"

using namespace gradstack::test;
using gradstack::gpt::GenerationConfig;

namespace {

fs::path tiny_dir() { return source_dir() / "tests" / "data" / "tiny_gpt2"; }

CliRun run_generate(const std::string& args) {
    return run_cli("generate --model " + tiny_dir().string() + " " + args);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(generate_cli)

BOOST_AUTO_TEST_CASE(json_output_equals_the_library, *boost::unit_test::precondition(HasGradstackBinary{})) {
    // Two prompts of different lengths (one left-padded batch), beam search.
    CliRun r = run_generate(
        "--prompt-ids 464,3616,286,1204,318 --prompt-ids 15496 --max-new-tokens 6 --num-beams 3 "
        "--num-return-sequences 2 --no-repeat-ngram-size 2 --json");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const nlohmann::json j = nlohmann::json::parse(r.out);  // nothing but the JSON on stdout
    auto model = gradstack::gpt::load_pretrained(tiny_dir().string());
    GenerationConfig g;
    g.max_new_tokens = 6, g.num_beams = 3, g.num_return_sequences = 2, g.no_repeat_ngram_size = 2;
    const auto want = gradstack::gpt::generate(*model, {{464, 3616, 286, 1204, 318}, {15496}}, g);
    BOOST_REQUIRE(j["prompts"].size() == 2u);
    BOOST_TEST(ids_of(j["prompts"][1]["prompt_ids"]) == std::vector<int64_t>{15496});
    for (size_t p = 0; p < 2; ++p)
        for (size_t k = 0; k < 2; ++k) {
            const auto& o = j["prompts"][p]["outputs"][k];
            BOOST_TEST(ids_of(o["new_ids"]) == want[p][k].new_ids);
            BOOST_TEST(o["score"].get<double>() == want[p][k].score, boost::test_tools::tolerance(1e-9));
            BOOST_TEST(o["logprobs"].size() == want[p][k].new_ids.size());
        }
}

BOOST_AUTO_TEST_CASE(streams_text, *boost::unit_test::precondition(HasGradstackBinary{}) *
                                       boost::unit_test::precondition(HasGpt2Vocab{})) {
    const std::string tok = "--tokenizer " + gpt2_vocab_dir().string();
    // The reference's greedy continuation of "The meaning of life is" is " hire" x 20.
    CliRun r = run_generate(tok + " --prompt \"The meaning of life is\" --max-new-tokens 3");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(r.out == "The meaning of life is hire hire hire\n");
    r = run_generate(tok + " --prompt \"The meaning of life is\" --max-new-tokens 3 --json");
    const nlohmann::json j = nlohmann::json::parse(r.out);
    BOOST_TEST(j["prompts"][0]["outputs"][0]["text"] == " hire hire hire");
    BOOST_TEST(!j["prompts"][0]["outputs"][0].contains("score"));  // greedy: no beam score
    // Sampling with a seed is reproducible through the CLI.
    const std::string s = tok + " --prompt Hi --max-new-tokens 5 --sample --top-k 0 --seed 4 --json";
    BOOST_TEST(run_generate(s).out == run_generate(s).out);
}

BOOST_AUTO_TEST_CASE(bad_values_fail, *boost::unit_test::precondition(HasGradstackBinary{})) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"--prompt-ids 1 --max-new-tokens 2 --sample --top-p 0", "--top-p"},
        {"--prompt-ids 1 --max-new-tokens 2 --sample --top-p 1.5", "--top-p"},
        {"--prompt-ids 1 --max-new-tokens 2 --sample --temperature 0", "--temperature"},
        {"--prompt-ids 1 --max-new-tokens 2 --num-beams 2 --num-return-sequences 3",
         "--num-return-sequences"},
        {"--prompt-ids 1,2 --max-new-tokens 127", "n_positions"},
        {"--prompt-ids 1,x --max-new-tokens 2", "--prompt-ids"},
        {"--prompt-ids 99999 --max-new-tokens 2", "vocabulary"},
    };
    for (const auto& [args, word] : bad) {
        CliRun r = run_generate(args);
        BOOST_TEST(r.exit_code != 0, args);
        BOOST_TEST(r.err.find("error") != std::string::npos, args << ": " << r.err);
        BOOST_TEST(r.err.find(word) != std::string::npos, args << ": " << r.err);
        BOOST_TEST(r.out.empty(), args);
    }
}

BOOST_AUTO_TEST_SUITE_END()
