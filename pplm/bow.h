// The bag-of-words attribute model of PPLM: a topic is a list of words, and text is "on topic"
// when the next-token distribution puts mass on them.
//   loss(p) = sum over bags b of  -log( sum_{w in b} p[w] )
// Words are encoded with a leading space (" word", as they appear inside a sentence) and, as in
// uber's run_pplm.py, only words that are one token are kept; a word listed twice counts twice.
// Read next: classifier.h (the other attribute model), generate.h (how the loss steers GPT-2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gpt/tokenizer/tokenizer.h"
#include "tensor/tensor.h"

namespace gradstack::pplm {

struct BagOptions {
    // Keep a word of several tokens, scored by the probability of its first token (uber's code
    // drops them; its issues #3, #4 and #42 ask for them). The first token of " dinosaur" is
    // " din": this makes every word that starts like a bag word count, a coarse approximation.
    bool multi_token = false;
    // Also add each word with its first letter in upper case (" Space" next to " space"). uber's
    // lists are lower case and GPT-2's ids are case-sensitive.
    bool case_insensitive = false;
};

struct BagOfWords {
    std::string name;             // the built-in name or the file path
    std::vector<int64_t> ids;     // one token id per kept word (repeats kept, as uber's one-hots)
    int64_t words = 0;            // words read from the list (after the case-insensitive forms)
    std::vector<std::string> dropped;  // words that are several tokens and were not kept
};

// The ten lists shipped with gradstack (pplm/wordlists): computers, fantasy, kitchen, legal,
// military, politics, positive_words, religion, science, space.
std::vector<std::string> builtin_bags();
// Where they are: $GRADSTACK_WORDLISTS when set, else pplm/wordlists of the source tree.
std::filesystem::path wordlist_dir();

// A built-in name or a path to a file of one word per line (surrounding whitespace trimmed,
// blank lines skipped). Throws gradstack::Error for an unknown name that is not a file either
// (listing the built-in names), an unreadable file, and a bag with no word left after filtering.
BagOfWords load_bag(const std::string& name_or_path, const gpt::Tokenizer& tokenizer,
                    const BagOptions& options = {});

// The bags' loss for each row of probs (R, V): (R,) as above, differentiable. Throws when an id is
// outside the vocabulary of probs.
Tensor bow_loss(const Tensor& probs, const std::vector<BagOfWords>& bags);

// Whether `id` is in any bag (for highlighting and hit rates).
bool in_bags(const std::vector<BagOfWords>& bags, int64_t id);
// How many of `ids` are in some bag.
int64_t count_in_bags(const std::vector<BagOfWords>& bags, const std::vector<int64_t>& ids);

}  // namespace gradstack::pplm
