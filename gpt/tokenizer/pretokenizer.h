// The GPT-2 pre-tokenizer: the regex that cuts text into the words BPE then works on, run through
// PCRE2 (JIT-compiled) with Unicode letter and number classes. Read next: bpe.h.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace gradstack::gpt {

// OpenAI's encoder.py splits text with the Python `regex` pattern
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Python's \s is the Unicode White_Space property (it includes U+0085 and excludes U+FEFF, U+200B
// and U+001C-001F); PCRE2's \s with UCP is not quite that (PCRE2 10.42's also matches U+180E), so
// the pattern spells \s out as an explicit class. \p{L} and \p{N} are the general categories in
// both; for characters assigned in later Unicode versions the answer depends on the library's
// tables (PCRE2 10.42: Unicode 14). Every character is in one of the four classes, so the pieces
// are contiguous and cover the text.
extern const char* const kGpt2SplitPattern;  // the pattern as PCRE2 compiles it

class Pretokenizer {
public:
    Pretokenizer();
    ~Pretokenizer();
    Pretokenizer(const Pretokenizer&) = delete;
    Pretokenizer& operator=(const Pretokenizer&) = delete;

    // The end of the piece that starts at byte `start` < text.size() of `text`. `text` must be
    // valid UTF-8 (the caller checks; see utf8_invalid_offset) and `start` the end of the previous
    // piece (or 0). Not safe to call from two threads at once: the match buffers are reused.
    std::size_t piece_end(std::string_view text, std::size_t start);
    // All the pieces of `text` (views into it), by piece_end.
    std::vector<std::string_view> split(std::string_view text);

private:
    void* code_ = nullptr;        // pcre2_code*, compiled once per process and shared
    void* match_data_ = nullptr;  // pcre2_match_data*
    bool jit_ = false;            // whether the JIT compiled the pattern (else the interpreter)
};

}  // namespace gradstack::gpt
