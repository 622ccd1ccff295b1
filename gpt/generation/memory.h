// How much memory a generation (or one forward pass) will take, estimated from the shapes before
// anything is allocated, and the check that refuses a request the machine cannot hold. A beam is a
// row of the batch like any other: `--num-beams 60000` on one prompt is 60000 rows, and its first
// forward alone returns (rows, prompt, vocab) logits, 12 GB for GPT-2's 50257 tokens.
// Read next: generate.h (which calls check_generation_memory before its first forward).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpt/config.h"
#include "gpt/generation/config.h"

namespace gradstack::gpt {

// Bytes, as doubles: a hostile request (2^40 rows) must not overflow the estimate itself.
// With R rows, P = the longest prompt, S = P + max_new_tokens positions, C = n_embd, L = n_layer,
// H = n_head, V = vocab_size, I = the MLP's inner width and b bytes per value (4 for float32):
//   kv_cache       = 2 (key, value) * L * R * S * C * b, times 2: the cache buffer doubles its
//                    capacity when it fills (nn/layers/attention.cpp), and beam search's reorder
//                    copies it;
//   prompt_forward = the first forward over R x P tokens: logits R * P * V * b, one layer's
//                    attention scores and probabilities 2 * R * H * P * P * b, and its activations
//                    R * P * (3C + I + 4C) * b (q/k/v, the MLP's inner layer, residual and norms);
//   per_step       = each later step's (R, V) logits and the float32 scores made from them,
//                    2 * R * V * b, plus one token's activations.
// The model's weights are not counted: they are loaded already.
struct MemoryEstimate {
    double kv_cache = 0, prompt_forward = 0, per_step = 0;
    double total() const { return kv_cache + prompt_forward + per_step; }
};

// The generation of `prompts` rows' worth of prompts (before beams or return sequences) whose
// longest has `longest_prompt` tokens, with `config`'s strategy: rows = prompts * num_beams for
// beam search, prompts * num_return_sequences for sampling, prompts for greedy search.
MemoryEstimate estimate_generation_memory(const GPT2Config& model, const GenerationConfig& config,
                                          int64_t prompts, int64_t longest_prompt,
                                          int64_t bytes_per_value = 4);

// One forward (and, with `backward`, the graph it keeps for backward(): every layer's
// activations and attention probabilities, and the logits' gradient) over a (B, T) batch.
double estimate_forward_memory(const GPT2Config& model, int64_t B, int64_t T, bool backward,
                               int64_t bytes_per_value = 4);

// The memory this process can still take, in bytes: MemAvailable of /proc/meminfo (sysconf's
// available pages where it is missing), lowered to the cgroup's memory.max - memory.current when a
// container sets a smaller limit. 0 when nothing can be read.
double available_memory_bytes();

// "1.5 GB", "320.0 MB", ...
std::string format_bytes(double bytes);

// Throws gradstack::Error when `needed` bytes exceed available_memory_bytes(): "[what] needs about
// 12.1 GB (detail), more than the 7.3 GB this machine has available (MemAvailable); hint".
// Nothing happens when the available memory cannot be read.
void check_memory(double needed, const std::string& what, const std::string& detail,
                  const std::string& hint);

// estimate_generation_memory for these (prepared) prompts, then check_memory. generate() calls it
// before its first forward; a CLI may call it earlier to fail before printing anything.
void check_generation_memory(const GPT2Config& model, const GenerationConfig& config,
                             const std::vector<std::vector<int64_t>>& prompts,
                             int64_t bytes_per_value = 4);

}  // namespace gradstack::gpt
