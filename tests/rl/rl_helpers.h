// Small GPT-2s for the rl tests: a random model with a vocabulary of a few tokens, saved as a
// Hugging Face folder when a test needs one on disk.
#pragma once

#include <filesystem>
#include <memory>

#include "gpt/checkpoint.h"
#include "gpt/model.h"
#include "tests/gpt/cli_helpers.h"

namespace gradstack::test {

inline gpt::GPT2Config small_config(int64_t vocab = 16) {
    gpt::GPT2Config c;
    c.vocab_size = vocab;
    c.n_positions = 32;
    c.n_embd = 16;
    c.n_layer = 2;
    c.n_head = 2;
    c.bos_token_id = c.eos_token_id = vocab - 1;
    c.initializer_range = 0.5;  // logits of a few units: distributions far from uniform
    return c;
}

inline std::shared_ptr<gpt::GPT2LMHeadModel> small_model(uint64_t seed = 1, int64_t vocab = 16) {
    Generator gen(seed);
    auto m = std::make_shared<gpt::GPT2LMHeadModel>(small_config(vocab), &gen);
    m->eval();
    return m;
}

inline std::string tiny_gpt2_dir() { return testing::test_data("tiny_gpt2"); }

}  // namespace gradstack::test
