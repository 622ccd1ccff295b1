// The logits processors and warpers (see logits_process.h). Each works on one row of float32
// scores in place, with plain loops: V is 50257 and a step touches each score a few times, so
// this is cheap next to the model's forward. The arithmetic follows PyTorch's float32 ops where
// the reference results depend on it (temperature divides in float32; top-p's cumulative sum
// accumulates in double and is compared in float32, as torch.cumsum does on the CPU).
#include "gpt/generation/logits_process.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tensor/error.h"

namespace gradstack::gpt {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// log(sum(exp(x))) over the row, in double; -inf when every score is -inf.
double logsumexp_row(std::span<const float> x) {
    float mx = kNegInf;
    for (float v : x) mx = std::max(mx, v);
    if (mx == kNegInf) return -std::numeric_limits<double>::infinity();
    double s = 0;
    for (float v : x) s += std::exp(static_cast<double>(v) - mx);
    return mx + std::log(s);
}
}  // namespace

// --- early_stopping spelling (config.h) and validation.

EarlyStopping parse_early_stopping(const std::string& text) {
    if (text == "true") return EarlyStopping::yes;
    if (text == "false") return EarlyStopping::heuristic;
    if (text == "never") return EarlyStopping::never;
    fail("early_stopping must be true, false or never, got '{}'", text);
}

std::string early_stopping_name(EarlyStopping mode) {
    switch (mode) {
        case EarlyStopping::yes: return "true";
        case EarlyStopping::heuristic: return "false";
        case EarlyStopping::never: return "never";
    }
    return "?";
}

void GenerationConfig::validate() const {
    check(max_new_tokens >= 0, "max_new_tokens must be >= 0, got {}", max_new_tokens);
    check(min_new_tokens >= 0, "min_new_tokens must be >= 0, got {}", min_new_tokens);
    check(min_new_tokens <= max_new_tokens,
          "min_new_tokens ({}) must be <= max_new_tokens ({}): EOS would be banned for longer "
          "than the generation lasts",
          min_new_tokens, max_new_tokens);
    check(num_beams >= 1, "num_beams must be >= 1, got {}", num_beams);
    check(num_return_sequences >= 1, "num_return_sequences must be >= 1, got {}",
          num_return_sequences);
    check(!(do_sample && num_beams > 1),
          "sampling with num_beams = {} (beam sampling) is not supported; use one of them",
          num_beams);
    check(num_beams == 1 || num_return_sequences <= num_beams,
          "num_return_sequences ({}) must be <= num_beams ({})", num_return_sequences, num_beams);
    check(do_sample || num_beams > 1 || num_return_sequences == 1,
          "greedy search returns one sequence per prompt, not num_return_sequences = {}; sample "
          "or use beam search",
          num_return_sequences);
    check(std::isfinite(temperature) && temperature > 0, "temperature must be > 0, got {}",
          temperature);
    check(top_k >= 0, "top_k must be >= 0 (0: off), got {}", top_k);
    check(top_p > 0 && top_p <= 1, "top_p must be in (0, 1], got {}", top_p);
    check(std::isfinite(repetition_penalty) && repetition_penalty > 0,
          "repetition_penalty must be > 0, got {}", repetition_penalty);
    check(no_repeat_ngram_size >= 0, "no_repeat_ngram_size must be >= 0, got {}",
          no_repeat_ngram_size);
    check(std::isfinite(length_penalty), "length_penalty must be finite, got {}", length_penalty);
}

// --- warpers

TemperatureWarper::TemperatureWarper(double t) : temperature_(static_cast<float>(t)) {
    check(std::isfinite(t) && t > 0, "temperature must be > 0, got {}", t);
}

void TemperatureWarper::process(ScoresRow& row) const {
    for (float& s : row.scores) s = s / temperature_;
}

TopKWarper::TopKWarper(int64_t k) : k_(k) { check(k >= 1, "top_k must be >= 1, got {}", k); }

void TopKWarper::process(ScoresRow& row) const {
    const int64_t V = static_cast<int64_t>(row.scores.size());
    const int64_t k = std::min(k_, V);
    if (k >= V || V == 0) return;
    // The k-th largest value; everything strictly below it goes, so ties at the boundary stay.
    std::vector<float> copy(row.scores.begin(), row.scores.end());
    std::nth_element(copy.begin(), copy.begin() + (k - 1), copy.end(), std::greater<float>());
    const float kth = copy[k - 1];
    for (float& s : row.scores)
        if (s < kth) s = kNegInf;
}

TopPWarper::TopPWarper(double p) : top_p_(p) {
    check(p > 0 && p <= 1, "top_p must be in (0, 1], got {}", p);
}

void TopPWarper::process(ScoresRow& row) const {
    // Tokens already at -inf have probability 0: they sit at the start of the ascending order with
    // a cumulative sum of 0 <= 1 - p, so HF removes them too. Sorting only the finite ones gives
    // the same result and, after top-k, sorts 50 values instead of 50257.
    std::vector<int32_t> order;
    order.reserve(row.scores.size());
    for (size_t i = 0; i < row.scores.size(); ++i)
        if (row.scores[i] != kNegInf) order.push_back(static_cast<int32_t>(i));
    if (order.empty()) return;
    const std::span<float> s = row.scores;
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return s[a] < s[b]; });
    const double lse = logsumexp_row(s);
    const float threshold = static_cast<float>(1.0 - top_p_);
    double cum = 0;
    std::vector<int32_t> remove;
    for (size_t j = 0; j + 1 < order.size(); ++j) {  // the last (top) token always stays
        const float p = static_cast<float>(std::exp(static_cast<double>(s[order[j]]) - lse));
        cum += p;
        if (static_cast<float>(cum) <= threshold) remove.push_back(order[j]);
        else break;  // the cumulative sum only grows
    }
    for (int32_t i : remove) s[i] = kNegInf;
}

// --- processors

RepetitionPenaltyProcessor::RepetitionPenaltyProcessor(double penalty)
    : penalty_(static_cast<float>(penalty)) {
    check(std::isfinite(penalty) && penalty > 0, "repetition_penalty must be > 0, got {}",
          penalty);
}

void RepetitionPenaltyProcessor::process(ScoresRow& row) const {
    // HF gathers the scores of all tokens, then scatters the penalised values back: a token seen
    // twice is penalised once. Sorting a copy of the ids gives the same "once".
    std::vector<int64_t> ids(row.tokens.begin(), row.tokens.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    const int64_t V = static_cast<int64_t>(row.scores.size());
    for (int64_t id : ids) {
        check(id >= 0 && id < V, "[repetition_penalty] token {} outside the vocabulary of {}", id,
              V);
        float& s = row.scores[id];
        s = s < 0 ? s * penalty_ : s / penalty_;
    }
}

NoRepeatNGramProcessor::NoRepeatNGramProcessor(int64_t n) : n_(n) {
    check(n >= 1, "no_repeat_ngram_size must be >= 1, got {}", n);
}

std::vector<int64_t> banned_ngram_tokens(std::span<const int64_t> tokens, int64_t n) {
    const int64_t L = static_cast<int64_t>(tokens.size());
    std::vector<int64_t> banned;
    if (L + 1 < n) return banned;  // HF: no n-gram can be completed yet
    // The next token would complete the n-gram (tokens[L-n+1 .. L-1], next). Every earlier
    // n-gram i .. i+n-1 whose first n - 1 tokens equal that prefix bans its last token.
    const int64_t prefix = L - (n - 1);
    for (int64_t i = 0; i + n <= L; ++i) {
        bool same = true;
        for (int64_t j = 0; j + 1 < n && same; ++j) same = tokens[i + j] == tokens[prefix + j];
        if (same) banned.push_back(tokens[i + n - 1]);
    }
    std::sort(banned.begin(), banned.end());
    banned.erase(std::unique(banned.begin(), banned.end()), banned.end());
    return banned;
}

void NoRepeatNGramProcessor::process(ScoresRow& row) const {
    const int64_t V = static_cast<int64_t>(row.scores.size());
    for (int64_t id : banned_ngram_tokens(row.tokens, n_))
        if (id >= 0 && id < V) row.scores[id] = kNegInf;
}

MinNewTokensProcessor::MinNewTokensProcessor(int64_t min_new_tokens, int64_t eos_token_id)
    : min_new_tokens_(min_new_tokens), eos_(eos_token_id) {}

void MinNewTokensProcessor::process(ScoresRow& row) const {
    if (row.new_tokens < min_new_tokens_ && eos_ >= 0 &&
        eos_ < static_cast<int64_t>(row.scores.size()))
        row.scores[eos_] = kNegInf;
}

// --- lists, in the order of transformers 4.30's _get_logits_processor / _get_logits_warper.

LogitsProcessorList make_processors(const GenerationConfig& c) {
    LogitsProcessorList list;
    if (c.repetition_penalty != 1.0)
        list.push_back(std::make_shared<RepetitionPenaltyProcessor>(c.repetition_penalty));
    if (c.no_repeat_ngram_size > 0)
        list.push_back(std::make_shared<NoRepeatNGramProcessor>(c.no_repeat_ngram_size));
    if (c.min_new_tokens > 0 && c.stop_id() >= 0)
        list.push_back(std::make_shared<MinNewTokensProcessor>(c.min_new_tokens, c.stop_id()));
    return list;
}

LogitsProcessorList make_warpers(const GenerationConfig& c) {
    LogitsProcessorList list;
    if (c.temperature != 1.0) list.push_back(std::make_shared<TemperatureWarper>(c.temperature));
    if (c.top_k > 0) list.push_back(std::make_shared<TopKWarper>(c.top_k));
    if (c.top_p < 1.0) list.push_back(std::make_shared<TopPWarper>(c.top_p));
    return list;
}

void apply_processors(const LogitsProcessorList& list, Tensor& scores,
                      const std::vector<std::vector<int64_t>>& tokens,
                      const std::vector<int64_t>& new_tokens) {
    check(scores.dim() == 2 && scores.dtype() == DType::f32 && scores.is_contiguous(),
          "[logits processors] scores must be contiguous float32 (B, V), got {} {}",
          scores.dtype(), shape_str(scores.shape()));
    const int64_t B = scores.size(0), V = scores.size(1);
    check(static_cast<int64_t>(tokens.size()) == B && static_cast<int64_t>(new_tokens.size()) == B,
          "[logits processors] {} rows of scores but {} token histories", B, tokens.size());
    if (list.empty()) return;
    float* base = scores.data<float>();
    for (int64_t b = 0; b < B; ++b) {
        ScoresRow row{{base + b * V, static_cast<size_t>(V)}, tokens[b], new_tokens[b]};
        for (const auto& p : list) p->process(row);
    }
}

void log_softmax_inplace(std::span<float> scores) {
    const double lse = logsumexp_row(scores);
    for (float& s : scores) s = static_cast<float>(s - lse);
}

double log_prob_of(std::span<const float> scores, int64_t id) {
    check(id >= 0 && id < static_cast<int64_t>(scores.size()), "[log_prob_of] id {} outside {}",
          id, scores.size());
    return static_cast<double>(scores[id]) - logsumexp_row(scores);
}

}  // namespace gradstack::gpt
