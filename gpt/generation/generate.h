// Text generation with a GPT-2: greedy search, multinomial sampling and beam search, with the
// semantics of Hugging Face's generate() (transformers 4.30). Prompts of different lengths run as
// one left-padded batch (attention mask, HF's position ids), and every step after the first feeds
// one token per row through the KV cache, so a new token costs one incremental forward.
// Read next: generate.cpp (the loops), decoder.h (the model side: cache, padding, reordering).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "gpt/generation/config.h"
#include "gpt/model.h"
#include "tensor/random.h"

namespace gradstack::gpt {

// Called for each token as it is chosen (greedy and sampling; beam search only knows its tokens
// at the end). `row` = prompt index * num_return_sequences + sequence index.
using TokenCallback = std::function<void(int64_t row, int64_t token)>;

// Generates for each prompt (token ids; an empty prompt starts from config.bos_token_id) and
// returns, per prompt, its num_return_sequences sequences (beam search: best first).
// Each prompt's result is what generating it alone gives. Sampling draws from `gen` (when null,
// from a Generator seeded with config.seed). The model runs without recording a graph and in
// eval mode (its mode is restored afterwards).
// Throws gradstack::Error for a bad config (GenerationConfig::validate), an id outside the
// vocabulary, an empty prompt without a BOS, or prompt + max_new_tokens > n_positions.
std::vector<std::vector<GeneratedSequence>> generate(GPT2LMHeadModel& model,
                                                     const std::vector<std::vector<int64_t>>& prompts,
                                                     const GenerationConfig& config,
                                                     Generator* gen = nullptr,
                                                     const TokenCallback& on_token = {});

// Throws gradstack::Error when the (R, V) float32 next-token logits hold a NaN or an infinity:
// "`what` are not finite (nan for token 0 of row 0): its weights or input produce NaN; ...".
// Decoding such a row would pick its first token again and again ("Hello!!!!!") without a word,
// so generate() checks the raw logits of every step; `what` names them ("[generate] the model's
// logits for new token 3").
void check_finite_logits(const Tensor& scores, const std::string& what);

// The prompts as generate() will run them: an empty prompt becomes {bos}; checks ids and lengths.
std::vector<std::vector<int64_t>> prepare_prompts(const std::vector<std::vector<int64_t>>& prompts,
                                                  const GenerationConfig& config,
                                                  const GPT2Config& model_config);

}  // namespace gradstack::gpt
