// Greedy and beam search on the reference tiny model (tests/data/tiny_gpt2, a copy of
// ../shared/reference/models/tiny) reproduce transformers 4.30's sequences and scores
// (tests/data/decoding/cases.json): greedy per prompt, a left-padded batch, and beam search with
// num_beams 4, early_stopping, no_repeat_ngram_size 2 and 3 returned sequences.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "gpt/checkpoint.h"
#include "gpt/generation/generate.h"
#include "tests/test_env.h"

using namespace gradstack;
using namespace gradstack::gpt;
using gradstack::testing::test_data;
using nlohmann::json;

namespace {

json cases() {
    std::ifstream in(test_data("decoding/cases.json"));
    BOOST_REQUIRE(in);
    return json::parse(in)["cases"];
}

GPT2LMHeadModel& tiny() {
    static auto model = load_pretrained(test_data("tiny_gpt2"));
    return *model;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(generate_reference)

BOOST_AUTO_TEST_CASE(greedy_matches_transformers) {
    const json c = cases()["greedy"];
    GenerationConfig g;
    g.max_new_tokens = c["settings"]["max_new_tokens"];
    for (const json& item : c["items"]) {
        const auto prompt = item["prompt_ids"].get<std::vector<int64_t>>();
        const auto out = generate(tiny(), {prompt}, g);
        BOOST_TEST(out[0][0].new_ids == item["new_ids"].get<std::vector<int64_t>>(),
                   boost::test_tools::per_element());
    }
    // Cache off: the same tokens.
    g.use_cache = false;
    const json& first = c["items"][0];
    BOOST_TEST(generate(tiny(), {first["prompt_ids"].get<std::vector<int64_t>>()}, g)[0][0].new_ids ==
                   first["new_ids"].get<std::vector<int64_t>>(),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(left_padded_batch_matches_transformers) {
    const json c = cases()["greedy_batch_left_padded"];
    GenerationConfig g;
    g.max_new_tokens = c["settings"]["max_new_tokens"];
    std::vector<std::vector<int64_t>> prompts;
    for (size_t b = 0; b < c["input_ids"].size(); ++b) {
        std::vector<int64_t> p;
        for (size_t i = 0; i < c["input_ids"][b].size(); ++i)
            if (c["attention_mask"][b][i] == 1) p.push_back(c["input_ids"][b][i]);
        prompts.push_back(p);
    }
    const auto out = generate(tiny(), prompts, g);
    for (size_t b = 0; b < prompts.size(); ++b)
        BOOST_TEST(out[b][0].new_ids == c["new_ids"][b].get<std::vector<int64_t>>(),
                   boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(beam_search_matches_transformers) {
    const json c = cases()["beam_search"];
    for (const json& item : c["items"]) {
        const json& s = item["settings"];
        GenerationConfig g;
        g.max_new_tokens = s["max_new_tokens"];
        g.num_beams = s["num_beams"];
        g.no_repeat_ngram_size = s["no_repeat_ngram_size"];
        g.num_return_sequences = s["num_return_sequences"];
        g.early_stopping = s["early_stopping"].get<bool>() ? EarlyStopping::yes
                                                           : EarlyStopping::heuristic;
        g.length_penalty = c["common_settings"]["length_penalty_default"];
        const auto prompt = item["prompt_ids"].get<std::vector<int64_t>>();
        const auto out = generate(tiny(), {prompt}, g);
        BOOST_REQUIRE(out[0].size() == item["sequences"].size());
        for (size_t k = 0; k < out[0].size(); ++k) {
            std::vector<int64_t> seq = prompt;
            seq.insert(seq.end(), out[0][k].new_ids.begin(), out[0][k].new_ids.end());
            BOOST_TEST(seq == item["sequences"][k].get<std::vector<int64_t>>(),
                       boost::test_tools::per_element());
            const double want = item["sequences_scores"][k];
            BOOST_TEST(std::abs(out[0][k].score - want) <= 1e-4 + 1e-5 * std::abs(want),
                       "sequence " << k << ": score " << out[0][k].score << " vs " << want);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
