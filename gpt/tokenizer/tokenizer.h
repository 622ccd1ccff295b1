// The GPT-2 tokenizer: byte-level BPE that gives the same ids as OpenAI's encoder.py (and Hugging
// Face's GPT2Tokenizer) on any text, and decodes ids back to the exact bytes.
// Read first: utf8.h, pretokenizer.h, bpe.h; the loading of vocabulary files is in files.cpp.
//
// encode(text): 1. cut the text into pieces with the GPT-2 regex (pretokenizer.h); 2. write each
// piece's bytes as one symbol per byte (every byte value has its own token, the "byte-level"
// part); 3. merge symbols by rank (bpe.h). Pieces seen before come from a cache.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gpt/tokenizer/bpe.h"

namespace gradstack::gpt {

// encoder.py's bytes_to_unicode(): the printable character that stands for each byte in the
// vocabulary files. Bytes that are printable Latin-1 (! to ~, ¡ to ¬, ® to ÿ) stand for
// themselves; the other 68 map to U+0100, U+0101, ... in byte order (space 0x20 -> U+0120 'Ġ').
const std::array<char32_t, 256>& bytes_to_unicode();

// The most bytes a vocab.json or merges.txt can need (GPT-2's: 1.0 MB and 0.5 MB).
inline constexpr uint64_t kMaxTokenizerFileBytes = uint64_t{64} << 20;

// Whether `dir` holds any of vocab.json, merges.txt, encoder.json, vocab.bpe: a model folder with
// one of them carries its own tokenizer, and Tokenizer::from_directory then names a missing half
// instead of anyone falling back to another tokenizer.
bool holds_tokenizer_files(const std::filesystem::path& dir);

// The vocabulary-file text of the token of one byte: its bytes_to_unicode() character as UTF-8
// ("!" for '!', "Ġ" for ' ').
std::string byte_token_text(unsigned char byte);

// GPT-2's one special token: ordinary text unless encode() is told to allow special tokens.
inline constexpr std::string_view kEndOfText = "<|endoftext|>";

class Tokenizer {
public:
    // Loads a folder holding Hugging Face's vocab.json + merges.txt or OpenAI's encoder.json +
    // vocab.bpe (the same content under other names). Throws gradstack::Error naming the file for
    // a missing file (or half a pair), an id more than 2^20 past the number of tokens (ids may
    // skip, but the tables are indexed by id), a file that is not a regular file or is larger than
    // kMaxTokenizerFileBytes, bad JSON, a bad merges line, a merge whose parts or result are not
    // in the vocabulary, a merge whose part no earlier merge makes, a merge given twice, a
    // vocabulary without all 256 byte tokens, an id used twice, and vocabulary tokens that no
    // merge makes (the merges file was cut short) other than added ones: special-looking
    // ("<|endoftext|>", "<pad>", "[PAD]") or ids before the byte tokens (train-tokenizer's
    // --special tokens).
    static Tokenizer from_directory(const std::filesystem::path& dir);
    // The same from the two files themselves.
    static Tokenizer from_files(const std::filesystem::path& vocab_json,
                                const std::filesystem::path& merges_txt);
    // The same from the files' contents; `vocab_name` and `merges_name` appear in error messages.
    static Tokenizer from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                  const std::string& vocab_name = "vocab.json",
                                  const std::string& merges_name = "merges.txt");

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // Token ids of `text` (bytes, which must be valid UTF-8: encoder.py encodes Python strings,
    // and a byte string that is not UTF-8 has no such string; the gradstack::Error names the offset
    // of the first bad byte; pass it through utf8_replace_invalid first to get Python's
    // errors='replace' reading). With `allow_special`, each "<|endoftext|>" in the text is its
    // special id (50256 for GPT-2): the text is split on it, the pieces encoded, and the pieces
    // joined with that id. Without it, "<|endoftext|>" is ordinary text, as in encoder.py.
    // Safe to call from several threads (they take turns on the cache).
    std::vector<int64_t> encode(std::string_view text, bool allow_special = false) const;

    // The exact bytes that `ids` stand for (which need not be valid UTF-8: a token can hold part
    // of a character). Throws gradstack::Error for an id outside [0, vocab_size()) or one that no
    // token has.
    std::string decode(const std::vector<int64_t>& ids) const;
    // decode() made valid UTF-8 as Python's bytes.decode('utf-8', errors='replace') does.
    std::string decode_text(const std::vector<int64_t>& ids) const;

    // One more than the largest id in the vocabulary (50257 for GPT-2).
    int64_t vocab_size() const { return static_cast<int64_t>(id_to_bytes_.size()); }
    // The id of "<|endoftext|>", or -1 when the vocabulary lacks it.
    int64_t eot_id() const { return eot_id_; }
    // Number of merge rules (50000 for GPT-2).
    std::size_t merge_count() const { return merges_.size(); }
    // A 64-bit hash (FNV-1a) of what decides the ids: each id's bytes and each merge rule in rank
    // order. Two tokenizers that encode alike from the same files hash alike; caches of token ids
    // (gpt/data.h) are keyed on it.
    uint64_t fingerprint() const { return fingerprint_; }
    // The token as written in the vocabulary file (byte-level characters, "Ġthe"), and as bytes.
    std::string token_text(int64_t id) const;
    const std::string& token_bytes(int64_t id) const;

    // Empties the cache of piece -> ids (it also empties itself at kCacheLimit pieces).
    void clear_cache() const;
    static constexpr std::size_t kCacheLimit = 1 << 20;

private:
    Tokenizer();
    void encode_ordinary(std::string_view text, std::vector<int64_t>& out) const;
    void check_id(int64_t id) const;

    std::array<uint32_t, 256> byte_ids_{};  // the token of each single byte
    BpeMerges merges_;
    std::vector<std::string> id_to_bytes_;  // the bytes of each token
    std::vector<bool> has_id_;              // whether a token has this id (ids may skip)
    int64_t eot_id_ = -1;
    uint64_t fingerprint_ = 0;

    // The cache of piece -> ids, the pre-tokenizer's match buffers and scratch vectors: the
    // mutable state of encode(), behind a mutex (tokenizer.cpp).
    struct EncodeState;
    std::unique_ptr<EncodeState> state_;
};

// The folder of the GPT-2 tokenizer that scripts/setup.sh installs: $GRADSTACK_TOKENIZER when
// set, else data/gpt2-tokenizer of the repository that holds the running binary (found as
// <binary>/../../data/gpt2-tokenizer, the binaries being in build/bin/).
std::filesystem::path default_tokenizer_dir();
// Tokenizer::from_directory(default_tokenizer_dir()), with a hint to run scripts/setup.sh or to
// pass --tokenizer DIR when the folder is missing.
Tokenizer load_default_tokenizer();

// Encoding speed in MB/s (10^6 bytes of input per second) on one thread: empties the cache, then
// encodes `text` `repeats` times and divides the bytes by the time taken. The first repeat fills
// the cache; with repeats = 1 it measures a cold cache alone. For `gradstack bench tokenizer`.
double tokenizer_encode_mb_per_s(const Tokenizer& tokenizer, std::string_view text,
                                 int repeats = 1);

}  // namespace gradstack::gpt
