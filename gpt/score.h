// Scoring text with a language model: the log-probability of each token given the tokens before
// it, for texts of any length (a sliding window when the text is longer than n_positions).
// Used by `gradstack score`. Read next: hub.h (fetching the models to score with).
#pragma once

#include <cstdint>
#include <vector>

#include "gpt/model.h"

namespace gradstack::gpt {

// logprobs[t] = log p(ids[t] | ids[begin..t-1]) for t = 1..N-1 (ids[0] has nothing before it and
// gets no score: logprobs[0] is NaN). The whole sequence is run at once when it fits in the
// model's n_positions = W; otherwise in windows of W tokens that start `stride` tokens apart
// (Hugging Face's perplexity guide, "strided sliding window"): window k covers ids[k*stride,
// k*stride + W) and scores only the tokens no earlier window scored, so each token of a later
// window sees at least W - stride tokens of context. stride = W - 1 is the cheapest (each window
// scores W - 1 new tokens), stride = 1 gives every token the most context (W - 1 tokens, one
// forward pass per token). Positions restart at 0 in each window, as in training.
// Runs without recording gradients, in the model's dtype.
// Throws gradstack::Error for stride outside [1, W-1], an id outside [0, vocab_size), N == 0, or
// a log-probability that is not finite (the model's weights or arithmetic give NaN or inf).
std::vector<double> token_logprobs(GPT2LMHeadModel& model, const std::vector<int64_t>& ids,
                                   int64_t stride);

}  // namespace gradstack::gpt
