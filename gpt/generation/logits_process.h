// Logits processors and warpers: the small steps that turn a model's next-token scores into the
// scores a decoding strategy picks from, one class each, with Hugging Face's semantics
// (transformers 4.30, LogitsProcessor / LogitsWarper). A processor sees one sequence at a time:
// its V scores (changed in place) and its tokens so far. Adding a new rule is one class here and
// one line in make_processors / make_warpers.
// Read next: logits_process.cpp (the rules), beam_search.h, generate.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gpt/generation/config.h"
#include "tensor/tensor.h"

namespace gradstack::gpt {

// One sequence's view at a decoding step.
struct ScoresRow {
    std::span<float> scores;          // V next-token scores, changed in place
    std::span<const int64_t> tokens;  // the tokens so far: prompt (no padding), then generated
    int64_t new_tokens = 0;           // how many of `tokens` were generated
};

class LogitsProcessor {
public:
    virtual ~LogitsProcessor() = default;
    virtual void process(ScoresRow& row) const = 0;
    virtual std::string name() const = 0;
};
using LogitsProcessorList = std::vector<std::shared_ptr<const LogitsProcessor>>;

// scores / temperature (temperature > 0).
class TemperatureWarper : public LogitsProcessor {
public:
    explicit TemperatureWarper(double temperature);
    void process(ScoresRow& row) const override;
    std::string name() const override { return "temperature"; }

private:
    float temperature_;
};

// Keeps every score >= the k-th largest (so ties at the boundary all stay; k >= V keeps all);
// the rest become -inf. k >= 1.
class TopKWarper : public LogitsProcessor {
public:
    explicit TopKWarper(int64_t k);
    void process(ScoresRow& row) const override;
    std::string name() const override { return "top_k"; }

private:
    int64_t k_;
};

// Nucleus filtering, HF's exact rule: sort ascending, p_i = softmax, c_i = p_1 + ... + p_i;
// tokens with c_i <= 1 - top_p become -inf; the top token always stays. 0 < top_p <= 1.
class TopPWarper : public LogitsProcessor {
public:
    explicit TopPWarper(double top_p);
    void process(ScoresRow& row) const override;
    std::string name() const override { return "top_p"; }

private:
    double top_p_;
};

// CTRL's repetition penalty as HF applies it: each distinct token already in the sequence (prompt
// included) has its score divided by `penalty` when positive, multiplied by it when negative.
class RepetitionPenaltyProcessor : public LogitsProcessor {
public:
    explicit RepetitionPenaltyProcessor(double penalty);
    void process(ScoresRow& row) const override;
    std::string name() const override { return "repetition_penalty"; }

private:
    float penalty_;
};

// Bans (-inf) every token that would repeat an n-gram of the sequence, prompt included.
class NoRepeatNGramProcessor : public LogitsProcessor {
public:
    explicit NoRepeatNGramProcessor(int64_t n);
    void process(ScoresRow& row) const override;
    std::string name() const override { return "no_repeat_ngram"; }

private:
    int64_t n_;
};

// The ids no_repeat_ngram_size = n bans after `tokens` (sorted, unique): every token that followed
// an earlier occurrence of the last n - 1 tokens. None while the sequence is shorter than n - 1.
std::vector<int64_t> banned_ngram_tokens(std::span<const int64_t> tokens, int64_t n);

// Bans EOS (-inf) until `min_new_tokens` tokens were generated.
class MinNewTokensProcessor : public LogitsProcessor {
public:
    MinNewTokensProcessor(int64_t min_new_tokens, int64_t eos_token_id);
    void process(ScoresRow& row) const override;
    std::string name() const override { return "min_new_tokens"; }

private:
    int64_t min_new_tokens_, eos_;
};

// The processors `config` asks for, in generate()'s order: repetition penalty, no-repeat n-gram,
// min new tokens. Used by every strategy.
LogitsProcessorList make_processors(const GenerationConfig& config);
// The sampling warpers, in generate()'s order: temperature, top-k, top-p (each only when it
// changes something: temperature != 1, top_k > 0, top_p < 1).
LogitsProcessorList make_warpers(const GenerationConfig& config);

// Runs `list` in order on row r of `scores` (B, V) float32 contiguous, in place, for every row,
// with tokens[r] and new_tokens[r] as that row's history.
void apply_processors(const LogitsProcessorList& list, Tensor& scores,
                      const std::vector<std::vector<int64_t>>& tokens,
                      const std::vector<int64_t>& new_tokens);

// In-place helpers on one row, shared by the strategies: log_softmax, and the log-probability of
// token `id` under softmax(scores) (-inf scores count as probability 0).
void log_softmax_inplace(std::span<float> scores);
double log_prob_of(std::span<const float> scores, int64_t id);

}  // namespace gradstack::gpt
