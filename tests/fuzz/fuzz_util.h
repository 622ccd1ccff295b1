// Shared by the libFuzzer targets of tests/fuzz: a tiny byte-level vocabulary (the 256 byte tokens,
// a few merges and <|endoftext|>) for targets that need a tokenizer, and a sink that makes
// AddressSanitizer read every byte of a result. Each target's rule: any input either works or
// throws gradstack::Error; a crash, an ASan report or another exception type is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "gpt/tokenizer/tokenizer.h"

namespace gradstack::fuzz {

// vocab.json and merges.txt of a tiny tokenizer: bytes 0..255, then "aa", "he", "Ġhe",
// "<|endoftext|>" (ids 256..259), merges "a a", "h e", "Ġ he".
inline std::pair<std::string, std::string> tiny_tokenizer_files() {
    nlohmann::json v = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) v[gpt::byte_token_text(static_cast<unsigned char>(b))] = b;
    v["aa"] = 256;
    v["he"] = 257;
    v[gpt::byte_token_text(' ') + "he"] = 258;
    v["<|endoftext|>"] = 259;
    return {v.dump(), "#version: 0.2\na a\nh e\n" + gpt::byte_token_text(' ') + " he\n"};
}

inline const gpt::Tokenizer& tiny_tokenizer() {
    static const gpt::Tokenizer t = [] {
        const auto [vocab, merges] = tiny_tokenizer_files();
        return gpt::Tokenizer::from_strings(vocab, merges);
    }();
    return t;
}

// Reads every byte of `bytes` so that AddressSanitizer sees any that lie outside their buffer.
inline void touch(const void* bytes, size_t n) {
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; ++i) sink = sink ^ static_cast<const uint8_t*>(bytes)[i];
}

// Uses a loaded tokenizer the way the CLIs do: encode a text, decode the ids back.
inline void exercise(const gpt::Tokenizer& t, std::string_view text) {
    const std::vector<int64_t> ids = t.encode(text, /*allow_special=*/true);
    const std::string back = t.decode_text(ids);
    touch(back.data(), back.size());
}

}  // namespace gradstack::fuzz
