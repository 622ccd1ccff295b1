// Training a byte-level BPE vocabulary from text, as Hugging Face tokenizers' BpeTrainer does for
// its ByteLevelBPETokenizer: the result is a vocab.json + merges.txt that tokenizer.h (and Hugging
// Face's GPT2Tokenizer) load. Read first: tokenizer.h (bytes_to_unicode, how merges are applied).
// `gradstack train-tokenizer` (apps/train_tokenizer.cpp) drives it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gradstack::gpt {

struct BpeTrainOptions {
    // The size of the vocabulary to reach: special tokens + 256 byte tokens + merges. Must leave
    // room for at least one merge (> 256 + number of special tokens). Training may stop below it
    // when no pair is left that occurs min_frequency times or more.
    int64_t vocab_size = 0;
    // A pair is merged only while its count over the corpus is at least this (Hugging Face's
    // ByteLevelBPETokenizer.train uses 2, which is also `gradstack train-tokenizer`'s default).
    int64_t min_frequency = 2;
    // Tokens that get ids 0, 1, ... in this order, before the byte tokens (Hugging Face's
    // convention). They take no part in training: "<|endoftext|>" in the corpus is ordinary text.
    std::vector<std::string> special_tokens;
};

// A trained vocabulary: token texts by id (in the byte-level alphabet of bytes_to_unicode, "Ġthe")
// and the merge rules in the order they were learned (= their rank when encoding).
struct BpeVocabulary {
    std::vector<std::string> tokens;
    std::vector<std::pair<std::string, std::string>> merges;

    // vocab.json: a compact JSON object token -> id, in id order (as Hugging Face writes it).
    std::string vocab_json() const;
    // merges.txt: "#version: 0.2", then one "left right" line per merge.
    std::string merges_txt() const;
    // Writes both into `dir` (created if missing), each atomically (tensor/io.h).
    void save(const std::filesystem::path& dir) const;
};

// Collects word counts from text (add_text / add_file), then learns the merges (train).
//
// The algorithm (Sennrich et al. 2016, as in Hugging Face's BpeTrainer): the corpus is cut into
// words by GPT-2's pre-tokenizer and reduced to (word, count); each word starts as one symbol per
// byte. Each step merges the most frequent adjacent pair of symbols everywhere into a new token.
// Incremental: the pair counts, the list of words holding each pair and a max-heap of (count,
// pair) are kept up to date from the neighbours of each merged occurrence, so a step costs the
// occurrences it touches, not a recount of the corpus. Heap entries go stale when a count drops;
// a popped entry whose count is no longer current is pushed back with the current count.
//
// Ids and ties, as in Hugging Face: special tokens first, then the 256 byte tokens in code-point
// order of their byte-level characters (the order of GPT-2's own vocabulary: '!' ... '~', '¡' ...,
// then U+0100 'Ā' for byte 0 ...), then one id per new token in the order learned. Among pairs of
// equal count, the pair with the smaller (left id, right id) is merged first. A merge whose text
// already is a token (two splits of the same string: "a"+"bc" after "ab"+"c") reuses that id and
// adds no token. One difference: Hugging Face can merge a pair in part of its words and then list
// the same merge again later (its heap entries carry a subset of the words); here a merge always
// covers every occurrence, so each pair is listed once.
//
// Input: each add_text() is pre-tokenized whole, as Tokenizer::encode() cuts text. Hugging Face's
// Tokenizer.train(files) feeds its trainer line by line, so where whitespace runs span lines
// ("\n\n\n", "  \n") its word counts differ a little. On the same word counts the merges agree:
// on Tiny Shakespeare with such runs collapsed, all 21270 merges equal tokenizers 0.23.2's, and
// its BPE loads the files written here and encodes to the same ids.
//
// Deterministic: the same texts in the same order give the same files, bit for bit, whatever the
// hash maps' iteration order (every choice is made by (count, pair) alone).
class BpeTrainer {
  public:
    // Throws gradstack::Error when vocab_size leaves no room for a merge, min_frequency < 1, or a
    // special token is empty, not valid UTF-8, or given twice.
    explicit BpeTrainer(BpeTrainOptions options);

    // Counts the words of `text`, which must be valid UTF-8: the error names `source` and the byte
    // offset of the first ill-formed sequence.
    void add_text(std::string_view text, const std::string& source = "text");
    // add_text on the contents of a file (memory-mapped).
    void add_file(const std::filesystem::path& path);

    // Bytes and distinct words seen so far.
    uint64_t byte_count() const { return bytes_; }
    std::size_t word_count() const { return word_counts_.size(); }

    // Learns the merges. Throws gradstack::Error when no text was added, or when not one pair
    // occurs min_frequency times (the vocabulary would have no merges, which loaders reject).
    BpeVocabulary train() const;

  private:
    // Heterogeneous lookup: count a std::string_view piece without building a std::string.
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const {
            return std::hash<std::string_view>{}(s);
        }
    };
    BpeTrainOptions options_;
    std::unordered_map<std::string, uint64_t, Hash, std::equal_to<>> word_counts_;
    uint64_t bytes_ = 0;
};

}  // namespace gradstack::gpt
