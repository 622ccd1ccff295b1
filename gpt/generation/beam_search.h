// Beam search bookkeeping as in transformers 4.30 (BeamHypotheses, BeamSearchScorer): which of
// the 2 * num_beams best candidates continue, which finished hypotheses are kept, when a prompt
// is done, and which sequences are returned. The model runs elsewhere (generate.cpp); this file
// only sees tokens and scores.
// Read next: beam_search.cpp, generate.h.
#pragma once

#include <cstdint>
#include <vector>

#include "gpt/generation/config.h"

namespace gradstack::gpt {

// A running beam: its tokens (prompt without padding, then generated) and the log-probability of
// each generated token.
struct BeamRow {
    std::vector<int64_t> tokens;
    std::vector<float> logprobs;
};

// A possible continuation of beam `beam` (its index within the prompt's group) by `token`; score
// is the beam's running score plus the token's processed log-probability (float32, as HF adds).
struct BeamCandidate {
    float score = 0;
    int64_t token = 0;
    int64_t beam = 0;
    float logprob = 0;
};

// The finished hypotheses of one prompt, the best num_beams of them by
// score = sum_logprobs / length^length_penalty, where length is the whole sequence without EOS.
class BeamHypotheses {
public:
    // max_length: prompt + max_new_tokens, used by EarlyStopping::never.
    BeamHypotheses(int64_t num_beams, double length_penalty, EarlyStopping early_stopping,
                   int64_t max_length);

    struct Hypothesis {
        double score = 0;
        BeamRow row;
        bool ended_with_eos = false;
    };
    void add(BeamRow row, double sum_logprobs, bool ended_with_eos);
    // Whether no running beam can still enter the list (see EarlyStopping).
    bool is_done(double best_sum_logprobs, int64_t cur_len) const;
    int64_t size() const { return static_cast<int64_t>(beams_.size()); }
    const std::vector<Hypothesis>& beams() const { return beams_; }
    double worst_score() const { return worst_score_; }

private:
    int64_t num_beams_;
    double length_penalty_;
    EarlyStopping early_stopping_;
    int64_t max_length_;
    std::vector<Hypothesis> beams_;  // in insertion order, as HF's list
    double worst_score_ = 1e9;
};

class BeamSearchScorer {
public:
    // One BeamHypotheses per prompt; max_lengths[b] = prompt b's length + max_new_tokens.
    BeamSearchScorer(const GenerationConfig& config, const std::vector<int64_t>& max_lengths);

    // One step for prompt b. candidates: its 2 * num_beams best, best first; beams: its running
    // beams (num_beams, before this step). Candidates ending in `eos` (-1: none) among the first
    // num_beams become hypotheses; the others fill the next num_beams beams. Returns them (score,
    // token, source beam); for a prompt already done, num_beams entries of (0, pad, 0).
    std::vector<BeamCandidate> process(int64_t b, const std::vector<BeamCandidate>& candidates,
                                       const std::vector<BeamRow>& beams, int64_t eos, int64_t pad);
    bool is_done(int64_t b) const { return done_[b]; }
    bool all_done() const;

    // Adds the running beams of the prompts not yet done as hypotheses (with their running scores)
    // and returns each prompt's best num_return_sequences, best first, new tokens only (EOS
    // appended to those that ended with it). prompt_lengths[b]: tokens of prompt b.
    std::vector<std::vector<GeneratedSequence>> finalize(
        const std::vector<std::vector<BeamRow>>& beams, const std::vector<std::vector<float>>& scores,
        const std::vector<int64_t>& prompt_lengths, int64_t eos);

private:
    int64_t num_beams_, num_return_;
    std::vector<BeamHypotheses> hyps_;
    std::vector<bool> done_;
};

}  // namespace gradstack::gpt
