// GenerationConfig: every knob of decoding, named and defaulted as in Hugging Face's
// GenerationConfig (transformers 4.30), plus gradstack's own (ignore_eos, use_cache, seed); and
// GeneratedSequence, what decoding returns.
// Read next: logits_process.h (what the knobs turn into), generate.h (the decoding loops).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace gradstack::gpt {

// Beam search's stopping rule (BeamHypotheses.is_done in transformers 4.30):
//   yes:       stop a prompt as soon as num_beams finished hypotheses exist;
//   heuristic: (early_stopping=False) stop when the best running beam, scored at the current
//              length, cannot beat the worst finished hypothesis;
//   never:     the same with the best score that beam could still reach (at max length when
//              length_penalty > 0), so the search is exact under the length penalty.
enum class EarlyStopping { yes, heuristic, never };
// "true" | "false" | "never" (the CLI's spelling) -> the enum; throws gradstack::Error otherwise.
EarlyStopping parse_early_stopping(const std::string& text);
std::string early_stopping_name(EarlyStopping mode);

struct GenerationConfig {
    int64_t max_new_tokens = 20;
    int64_t min_new_tokens = 0;  // EOS is banned until this many tokens were generated

    // Strategy: greedy (the default), beam search (num_beams > 1) or sampling (do_sample).
    bool do_sample = false;
    int64_t num_beams = 1;
    double length_penalty = 1.0;  // beam score = sum of log-probs / length^length_penalty
    EarlyStopping early_stopping = EarlyStopping::heuristic;
    // Sequences returned per prompt: <= num_beams for beam search; independent samples when
    // sampling; 1 for greedy.
    int64_t num_return_sequences = 1;

    // Warpers (sampling only), applied in this order. top_k 0 or top_p 1 switch one off.
    double temperature = 1.0;
    int64_t top_k = 50;
    double top_p = 1.0;

    // Processors (every strategy). 1.0 / 0 switch them off.
    double repetition_penalty = 1.0;
    int64_t no_repeat_ngram_size = 0;

    int64_t eos_token_id = 50256;  // -1: none
    int64_t pad_token_id = -1;     // fills left padding; -1: eos_token_id (else 0)
    int64_t bos_token_id = 50256;  // an empty prompt starts from it; -1: none
    bool ignore_eos = false;       // generate exactly max_new_tokens (PPO rollouts)
    bool use_cache = true;         // false: rerun the whole sequence each step (for tests)
    uint64_t seed = 0;             // sampling's generator seed, when no Generator is passed

    // Throws gradstack::Error naming the field for values that make no sense: top_p outside
    // (0, 1], temperature <= 0, num_return_sequences > num_beams, negative sizes, ...
    void validate() const;
    int64_t pad_id() const {
        return pad_token_id >= 0 ? pad_token_id : std::max<int64_t>(eos_token_id, 0);
    }
    // The EOS id that stops a sequence, or -1 when none does (no EOS, or ignore_eos).
    int64_t stop_id() const { return ignore_eos ? -1 : eos_token_id; }
};

// One generated continuation of a prompt.
struct GeneratedSequence {
    std::vector<int64_t> new_ids;  // the tokens after the prompt, EOS included when it stopped
    // Per new token: its log-probability under the distribution it was chosen from (after the
    // processors and, when sampling, the warpers).
    std::vector<float> logprobs;
    // Beam search: HF's sequences_scores (sum of log-probs / length^length_penalty, length
    // counting the prompt). Greedy and sampling: the sum of `logprobs`.
    double score = 0;
};

}  // namespace gradstack::gpt
