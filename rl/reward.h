// Rewards: what PPO raises. A reward scores each (query, response) pair with one number. rl/ ships
// the two that need nothing but token ids and a tokenizer; `gradstack ppo` (apps/ppo.cpp) builds
// the others (a PPLM discriminator's log-probability, a bag of words) on pplm/ and hands them in
// as a Reward, so rl/ and pplm/ never include each other.
// Read next: ppo.h.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "gpt/tokenizer/tokenizer.h"
#include "rl/rollout.h"

namespace gradstack::rl {

struct Reward {
    std::string name;  // for logs: "bow:FILE", "discrim:DIR:LABEL", ...
    // queries and responses as token ids (queries without padding); one score per row.
    std::function<std::vector<double>(const Rows& queries, const Rows& responses)> score;
};

// The number of response tokens whose id is in `ids` (each occurrence counts).
Reward token_count_reward(std::set<int64_t> ids, std::string name);

// Scores read from a TSV file, one `RESPONSE<TAB>SCORE` per line, RESPONSE being the decoded text
// of the response with \t, \n and \\ written as escapes. A response not in the file scores
// `missing` (0 by default). Throws gradstack::Error naming the file and line for a line without a
// tab, a score that is not a finite number, or a response listed twice; an empty file is an error.
// `tokenizer` decodes the responses and must outlive the reward.
Reward table_reward(const std::string& path, const gpt::Tokenizer& tokenizer, double missing = 0.0);

// The TSV escaping of table_reward: "\t" -> "\\t", "\n" -> "\\n", "\\" -> "\\\\".
std::string escape_tsv(const std::string& text);

}  // namespace gradstack::rl
