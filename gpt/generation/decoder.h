// Decoder: the model side of generation. It holds R rows of tokens as one left-padded batch, runs
// the prompt once, then one token per row per step through the KV cache, keeping Hugging Face's
// attention mask and position ids; beam search reorders its rows (and cache) between steps.
// Read next: decoder.cpp, generate.cpp.
#pragma once

#include <vector>

#include "gpt/model.h"

namespace gradstack::gpt {

class Decoder {
public:
    // rows: each row's tokens (non-empty, ids in range). pad fills the left padding.
    // use_cache false reruns the whole (padded) sequence each step: slow, for tests.
    Decoder(GPT2LMHeadModel& model, const std::vector<std::vector<int64_t>>& rows, int64_t pad,
            bool use_cache = true);

    // The next-token logits of every row after its prompt: (R, V) float32, contiguous, owned by
    // the caller (free to change in place).
    Tensor start();
    // Appends tokens[r] to row r and returns the next logits, as start().
    Tensor step(const std::vector<int64_t>& tokens);
    // Row r becomes a copy of row source[r] (beam search), cache included.
    void reorder(const std::vector<int64_t>& source);

    int64_t rows() const { return R_; }
    // Positions filled so far, padding included (the cache's length).
    int64_t length() const { return S_; }

private:
    Tensor last_logits(const ForwardOutput& out);

    GPT2LMHeadModel& model_;
    int64_t R_ = 0, S_ = 0;
    bool use_cache_ = true;
    bool padded_ = false;             // some row is shorter: mask and position ids are needed
    Tensor mask_;                     // (R, S) int64, when padded_
    std::vector<int64_t> real_len_;   // tokens of each row that are not padding
    std::vector<KVCache> past_;       // per layer, when use_cache_
    Tensor ids_;                      // (R, S) all tokens, when !use_cache_
};

}  // namespace gradstack::gpt
