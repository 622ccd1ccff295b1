// Small pieces several subcommands share: reading "--prompt-ids 1,2,3" and finding the tokenizer
// of a model folder. Defined in cli_common.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gpt/tokenizer/tokenizer.h"

namespace gradstack::apps {

// "1,2,3" -> {1, 2, 3}; "" -> {}. Throws gradstack::Error naming `flag` and the bad part.
std::vector<int64_t> parse_ids(const std::string& text, const std::string& flag = "--prompt-ids");

// --tokenizer DIR when given; else the model folder when it holds vocab.json or encoder.json
// (what `gradstack download` and `gradstack train` put there); else the GPT-2 files of
// scripts/setup.sh when present; else none.
std::optional<gpt::Tokenizer> find_tokenizer(const std::string& tokenizer_dir,
                                             const std::string& model_dir);
// The same, but a missing tokenizer is an error with a hint (load_default_tokenizer's).
gpt::Tokenizer require_tokenizer(const std::string& tokenizer_dir, const std::string& model_dir);

}  // namespace gradstack::apps
