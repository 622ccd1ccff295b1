// Decoding strategies on models built here: a hand-built bigram model whose best sequence is
// known by brute force (beam search finds it, greedy does not), BeamHypotheses' stopping rules by
// hand, and on small random GPT-2s: cache vs no cache, batched (left-padded) vs one prompt at a
// time, seeds, EOS / ignore_eos / min_new_tokens, and recorded log-probs vs a fresh forward pass.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>

#include "autograd/ops.h"
#include "gpt/generation/beam_search.h"
#include "gpt/generation/generate.h"
#include "gpt/generation/logits_process.h"

using namespace gradstack;
using namespace gradstack::gpt;

namespace {

GPT2Config small_config(int64_t vocab = 97) {
    GPT2Config c;
    c.vocab_size = vocab;
    c.n_positions = 48;
    c.n_embd = 16;
    c.n_layer = 2;
    c.n_head = 4;
    c.initializer_range = 0.4;  // logits far enough apart that argmax is not decided by rounding
    c.bos_token_id = c.eos_token_id = vocab - 1;
    return c;
}

std::shared_ptr<GPT2LMHeadModel> random_model(uint64_t seed, int64_t vocab = 97) {
    Generator g(seed);
    return std::make_shared<GPT2LMHeadModel>(small_config(vocab), &g);
}

void set(Tensor t, const std::vector<float>& values) {
    NoGradGuard ng;
    copy_(t, reshape(from_vector(values), t.shape()));
}

// A GPT-2 whose next token depends only on the current one (V = C = 8): position embeddings and
// attention outputs are zero, wte = identity, and the MLP of block 0 maps e_t to z_t - e_t (c_fc
// picks unit t, c_proj writes row t), so the final hidden state is z_t and the logits are
// 3 * LayerNorm(z_t). Rows of z (by design; the test reads the model's real table):
//   0 -> 1 (p ~ .55) or 2 (p ~ .45);  1 -> anything (flat);  2 -> 3 (p ~ 1);  3 -> 3 or 7 (EOS).
std::shared_ptr<GPT2LMHeadModel> bigram_model() {
    GPT2Config c;
    c.vocab_size = 8, c.n_positions = 16, c.n_embd = 8, c.n_layer = 1, c.n_head = 2;
    c.eos_token_id = c.bos_token_id = 7;
    auto m = std::make_shared<GPT2LMHeadModel>(c);
    const int64_t V = 8, H = 32;
    std::vector<float> eye(V * V, 0), fc(V * H, 0), fc_b(H, 0), proj(H * V, 0);
    for (int64_t i = 0; i < V; ++i) eye[i * V + i] = 1;
    const std::vector<std::vector<float>> z = {
        {-5, 2.0f, 1.8f, -5, -5, -5, -5, -5}, {0, 0, 0, 0, 0, 0, 0, 0},
        {-3, -3, -3, 5, -3, -3, -3, -3},     {-3, -3, -3, 3, -3, -3, -3, 2.5f},
        {1, 2, 3, 4, 5, 6, 7, 8},           {8, 7, 6, 5, 4, 3, 2, 1},
        {0, 1, 0, 1, 0, 1, 0, 1},           {1, 0, 1, 0, 1, 0, 1, 0}};
    // ln_2(e_t) is a at t and -b elsewhere; +b in c_fc's bias leaves unit t at a + b > 0 and
    // the others at 0, so gelu passes unit t (times about a + b) and zeroes the rest.
    const float b = 1.0f / std::sqrt(7.0f), gain = 8.0f / std::sqrt(7.0f);  // a + b = sqrt(7) + b
    for (int64_t t = 0; t < V; ++t) {
        fc[t * H + t] = 1;
        fc_b[t] = b;
        const float g = 0.5f * gain * (1 + std::erf(gain / std::sqrt(2.0f)));  // ~gelu(gain)
        for (int64_t j = 0; j < V; ++j) proj[t * V + j] = (z[t][j] - (j == t ? 1.0f : 0.0f)) / g;
    }
    auto& tr = *m->transformer;
    set(tr.wte->weight, eye);
    set(tr.wpe->weight, std::vector<float>(16 * V, 0));
    auto& blk = (*tr.h)[0];
    set(blk.attn->c_proj->weight, std::vector<float>(V * V, 0));
    set(blk.attn->c_proj->bias, std::vector<float>(V, 0));
    set(blk.mlp->c_fc->weight, fc);
    set(blk.mlp->c_fc->bias, fc_b);
    set(blk.mlp->c_proj->weight, proj);
    set(tr.ln_f->weight, std::vector<float>(V, 3.0f));
    return m;
}

// log p(next | t) for every t, read from the model one token at a time.
std::vector<std::vector<double>> bigram_table(GPT2LMHeadModel& m) {
    NoGradGuard ng;
    m.eval();
    std::vector<std::vector<double>> table;
    for (int64_t t = 0; t < 8; ++t) {
        Tensor lp = log_softmax(m.forward(from_vector<int64_t>({t}, {1, 1})).logits, -1);
        table.push_back(to_vector<double>(to_dtype(reshape(lp, {8}), DType::f64)));
    }
    return table;
}

GeneratedSequence only(const std::vector<std::vector<GeneratedSequence>>& r) {
    BOOST_REQUIRE(r.size() == 1 && r[0].size() == 1);
    return r[0][0];
}

}  // namespace

BOOST_AUTO_TEST_SUITE(generate_strategies)

BOOST_AUTO_TEST_CASE(beam_search_beats_greedy_on_a_bigram_model) {
    auto m = bigram_model();
    const auto table = bigram_table(*m);
    // The designed table: from 0, token 1 is likelier than 2, but 2 leads to a sure 3.
    BOOST_TEST(table[0][1] > table[0][2]);
    BOOST_TEST(table[2][3] > -0.01);
    // Brute force over all 3-token continuations of [0] without EOS (EOS is off here).
    double best = -1e30;
    std::vector<int64_t> best_seq;
    for (int64_t a = 0; a < 8; ++a)
        for (int64_t b = 0; b < 8; ++b)
            for (int64_t c = 0; c < 8; ++c) {
                const double s = table[0][a] + table[a][b] + table[b][c];
                if (s > best) best = s, best_seq = {a, b, c};
            }
    GenerationConfig g;
    g.max_new_tokens = 3;
    g.eos_token_id = -1;
    const auto greedy = only(generate(*m, {{0}}, g));
    BOOST_TEST(greedy.new_ids[0] == 1);
    BOOST_TEST(greedy.new_ids != best_seq);
    g.num_beams = 3;
    g.num_return_sequences = 3;
    g.length_penalty = 0.0;  // plain sums of log-probs
    const auto beams = generate(*m, {{0}}, g);
    BOOST_REQUIRE(beams[0].size() == 3u);
    BOOST_TEST(beams[0][0].new_ids == best_seq, boost::test_tools::per_element());
    BOOST_TEST(beams[0][0].score == best, boost::test_tools::tolerance(1e-5));
    for (size_t k = 0; k < 3; ++k) {
        // Sorted best first; each score is the sum of its recorded log-probs (penalty 0).
        if (k > 0) BOOST_TEST(beams[0][k - 1].score >= beams[0][k].score);
        double sum = 0;
        int64_t prev = 0;
        for (size_t i = 0; i < beams[0][k].new_ids.size(); ++i) {
            const int64_t t = beams[0][k].new_ids[i];
            BOOST_TEST(beams[0][k].logprobs[i] == table[prev][t], boost::test_tools::tolerance(1e-5));
            sum += table[prev][t];
            prev = t;
        }
        BOOST_TEST(beams[0][k].score == sum, boost::test_tools::tolerance(1e-5));
    }
    // Length penalty 1 divides by the whole length, prompt included: 1 + 3 tokens.
    g.length_penalty = 1.0;
    const auto normalised = generate(*m, {{0}}, g);
    BOOST_TEST(normalised[0][0].score == best / 4, boost::test_tools::tolerance(1e-5));
}

BOOST_AUTO_TEST_CASE(beam_hypotheses_stopping_rules) {
    // Two beams, length_penalty 1, max_length 10. Finished: scores -4/4 = -1 and -6/4 = -1.5.
    for (EarlyStopping mode : {EarlyStopping::yes, EarlyStopping::heuristic, EarlyStopping::never}) {
        BeamHypotheses h(2, 1.0, mode, 10);
        h.add({{1, 2, 3, 4}, {}}, -4.0, true);
        BOOST_TEST(!h.is_done(-1.0, 4));  // fewer than num_beams hypotheses
        h.add({{1, 2, 3, 5}, {}}, -6.0, true);
        BOOST_TEST(h.worst_score() == -1.5);
        // A running beam with sum -5 at length 4: -1.25 now (beats -1.5), -0.5 at max_length.
        const bool done = h.is_done(-5.0, 4);
        if (mode == EarlyStopping::yes) BOOST_TEST(done);
        if (mode == EarlyStopping::heuristic) BOOST_TEST(!done);
        if (mode == EarlyStopping::never) BOOST_TEST(!done);
        // Sum -7 at length 4: -1.75 now (cannot beat -1.5); at length 10 it would be -0.7.
        const bool done2 = h.is_done(-7.0, 4);
        BOOST_TEST(done2 == (mode != EarlyStopping::never));
        // never: only a sum that cannot beat -1.5 even over max_length stops it.
        if (mode == EarlyStopping::never) BOOST_TEST(h.is_done(-16.0, 4));
        // A better hypothesis replaces the worst: the list stays at 2, worst becomes -1.
        h.add({{1, 2, 3, 6}, {}}, -2.0, true);
        BOOST_TEST(h.size() == 2);
        BOOST_TEST(h.worst_score() == -1.0);
    }
}

BOOST_AUTO_TEST_CASE(early_stopping_modes_and_eos_on_the_bigram_model) {
    auto m = bigram_model();
    GenerationConfig g;
    g.max_new_tokens = 8;
    g.num_beams = 2;
    g.num_return_sequences = 2;
    std::map<EarlyStopping, double> best;
    for (EarlyStopping mode : {EarlyStopping::yes, EarlyStopping::heuristic, EarlyStopping::never}) {
        g.early_stopping = mode;
        const auto r = generate(*m, {{2}}, g);
        BOOST_REQUIRE(r[0].size() == 2u);
        BOOST_TEST(r[0][0].score >= r[0][1].score);
        for (const auto& s : r[0]) {
            BOOST_TEST(s.logprobs.size() == s.new_ids.size());
            // EOS only ever ends a sequence.
            for (size_t i = 0; i + 1 < s.new_ids.size(); ++i) BOOST_TEST(s.new_ids[i] != 7);
            if (s.new_ids.size() < 8u) BOOST_TEST(s.new_ids.back() == 7);
        }
        best[mode] = r[0][0].score;
    }
    // Searching longer never finds a worse best hypothesis.
    BOOST_TEST(best[EarlyStopping::never] >= best[EarlyStopping::heuristic] - 1e-9);
    BOOST_TEST(best[EarlyStopping::heuristic] >= best[EarlyStopping::yes] - 1e-9);
}

BOOST_AUTO_TEST_CASE(cache_and_no_cache_and_batching_agree) {
    auto m = random_model(3);
    const std::vector<std::vector<int64_t>> prompts{{5, 17, 33, 2, 8}, {40}, {9, 9, 61}};
    for (int64_t beams : {1, 3}) {
        GenerationConfig g;
        g.max_new_tokens = 12;
        g.num_beams = beams;
        g.num_return_sequences = beams;
        g.no_repeat_ngram_size = beams > 1 ? 2 : 0;
        g.ignore_eos = true;
        const auto batched = generate(*m, prompts, g);
        g.use_cache = false;
        const auto slow = generate(*m, prompts, g);
        g.use_cache = true;
        for (size_t p = 0; p < prompts.size(); ++p) {
            const auto alone = generate(*m, {prompts[p]}, g);
            BOOST_REQUIRE(batched[p].size() == static_cast<size_t>(beams));
            for (int64_t k = 0; k < beams; ++k) {
                BOOST_TEST(batched[p][k].new_ids == alone[0][k].new_ids, "prompt " << p << " beam " << k);
                BOOST_TEST(batched[p][k].new_ids == slow[p][k].new_ids, "prompt " << p << " beam " << k);
                BOOST_TEST(batched[p][k].new_ids.size() == 12u);
                BOOST_TEST(batched[p][k].score == alone[0][k].score, boost::test_tools::tolerance(1e-4));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(sampling_is_reproducible_and_logprobs_match_a_fresh_forward) {
    auto m = random_model(5);
    GenerationConfig g;
    g.do_sample = true;
    g.max_new_tokens = 10;
    g.temperature = 0.8;
    g.top_k = 20;
    g.top_p = 0.9;
    g.repetition_penalty = 1.3;
    g.num_return_sequences = 2;
    g.ignore_eos = true;
    g.seed = 11;
    const std::vector<std::vector<int64_t>> prompts{{3, 4, 5}, {60, 1}};
    const auto a = generate(*m, prompts, g);
    const auto b = generate(*m, prompts, g);
    g.seed = 12;
    const auto c = generate(*m, prompts, g);
    bool differs = false;
    for (size_t p = 0; p < 2; ++p)
        for (size_t k = 0; k < 2; ++k) {
            BOOST_TEST(a[p][k].new_ids == b[p][k].new_ids);
            differs = differs || a[p][k].new_ids != c[p][k].new_ids;
        }
    BOOST_TEST(differs, "seeds 11 and 12 gave the same samples");
    // Recompute every recorded log-prob from a forward pass over the whole sequence, with the
    // processors and warpers applied to each position's logits.
    NoGradGuard ng;
    m->eval();
    const auto processors = make_processors(g), warpers = make_warpers(g);
    for (size_t p = 0; p < 2; ++p)
        for (size_t k = 0; k < 2; ++k) {
            std::vector<int64_t> seq = prompts[p];
            seq.insert(seq.end(), a[p][k].new_ids.begin(), a[p][k].new_ids.end());
            const int64_t T = static_cast<int64_t>(seq.size()), n = static_cast<int64_t>(prompts[p].size());
            Tensor logits = m->forward(from_vector(seq, {1, T})).logits;  // (1, T, V)
            for (int64_t i = 0; i < static_cast<int64_t>(a[p][k].new_ids.size()); ++i) {
                Tensor s = contiguous(slice(select(logits, 1, n + i - 1), 0, 0, 1));  // (1, V)
                std::vector<std::vector<int64_t>> hist{{seq.begin(), seq.begin() + n + i}};
                apply_processors(processors, s, hist, {i});
                apply_processors(warpers, s, hist, {i});
                const auto row = to_vector<float>(s);
                const double lp = log_prob_of(row, a[p][k].new_ids[i]);
                BOOST_TEST(a[p][k].logprobs[i] == lp, boost::test_tools::tolerance(1e-3));
                BOOST_TEST(std::isfinite(a[p][k].logprobs[i]));
            }
        }
}

BOOST_AUTO_TEST_CASE(eos_stops_ignore_eos_and_min_new_tokens) {
    // Find a prompt whose greedy continuation reaches EOS (96) on a model with a small vocab.
    auto m = random_model(7, 97);
    GenerationConfig g;
    g.max_new_tokens = 30;
    g.eos_token_id = 96;
    // Make EOS likely: ln_f's bias along EOS's embedding adds 2 |wte[96]|^2 to its logit.
    {
        NoGradGuard ng;
        copy_(m->transformer->ln_f->bias, select(m->transformer->wte->weight, 0, 96) * 2.0);
    }
    const auto stopped = only(generate(*m, {{1, 2, 3}}, g));
    BOOST_REQUIRE_MESSAGE(stopped.new_ids.size() < 30u, "greedy never reached EOS on this model");
    BOOST_TEST(stopped.new_ids.back() == 96);
    const size_t first_eos = stopped.new_ids.size();
    g.ignore_eos = true;
    BOOST_TEST(only(generate(*m, {{1, 2, 3}}, g)).new_ids.size() == 30u);
    g.ignore_eos = false;
    g.min_new_tokens = static_cast<int64_t>(first_eos) + 2;
    const auto longer = only(generate(*m, {{1, 2, 3}}, g));
    BOOST_TEST(longer.new_ids.size() >= first_eos + 3);
    for (size_t i = 0; i < std::min<size_t>(longer.new_ids.size(), first_eos + 2); ++i)
        BOOST_TEST(longer.new_ids[i] != 96);
    // A batch where one prompt stops early: the other runs on, unaffected.
    g.min_new_tokens = 0;
    const auto both = generate(*m, {{1, 2, 3}, {50, 51}}, g);
    BOOST_TEST(both[0][0].new_ids == stopped.new_ids);
    BOOST_TEST(both[1][0].new_ids == only(generate(*m, {{50, 51}}, g)).new_ids);
}

BOOST_AUTO_TEST_CASE(bad_requests_throw) {
    auto m = random_model(1);
    GenerationConfig g;
    g.max_new_tokens = 40;
    BOOST_CHECK_THROW(generate(*m, {std::vector<int64_t>(10, 1)}, g), Error);  // 10 + 40 > 48
    g.max_new_tokens = 2;
    BOOST_CHECK_THROW(generate(*m, {{1, 97}}, g), Error);  // id outside the vocabulary
    g.bos_token_id = -1;
    BOOST_CHECK_THROW(generate(*m, {{}}, g), Error);  // empty without BOS
    g.bos_token_id = 96;
    BOOST_TEST(only(generate(*m, {{}}, g)).new_ids.size() <= 2u);
    g.top_p = 0;
    BOOST_CHECK_THROW(generate(*m, {{1}}, g), Error);
}

BOOST_AUTO_TEST_SUITE_END()
