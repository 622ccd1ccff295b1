// Shared by the tokenizer tests: where the repository, the shared references, the gradstack binary
// and the GPT-2 vocabulary are, and a tiny byte-level vocabulary written to a temporary folder.
#pragma once

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gpt/tokenizer/tokenizer.h"
#include "tests/test_env.h"

namespace gradstack::test {

namespace fs = std::filesystem;

// Where the source tree, ../shared and the binary are (tests/test_env.h), as paths.
inline fs::path source_dir() { return testing::source_dir(); }
inline fs::path shared_dir() {
    return testing::env_or("GRADSTACK_SHARED_DIR", GRADSTACK_DEFAULT_SHARED_DIR);
}
inline fs::path gradstack_bin() { return testing::gradstack_bin(); }

// The GPT-2 vocabulary: the shared reference copy first, then the one scripts/setup.sh installs.
inline fs::path gpt2_vocab_dir() {
    for (const fs::path& dir : {shared_dir() / "reference" / "gpt2-tokenizer",
                                source_dir() / "data" / "gpt2-tokenizer"}) {
        if (fs::exists(dir / "encoder.json") || fs::exists(dir / "vocab.json")) return dir;
    }
    return {};
}

// Boost.Test precondition: the test is skipped, with this message, when there is no vocabulary.
struct HasGpt2Vocab {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result r(!gpt2_vocab_dir().empty());
        r.message() << "no GPT-2 vocabulary in $GRADSTACK_SHARED_DIR/reference/gpt2-tokenizer "
                       "nor data/gpt2-tokenizer (run scripts/setup.sh); skipped";
        return r;
    }
};

// Loaded once: it takes a fraction of a second.
inline const gpt::Tokenizer& gpt2() {
    static const gpt::Tokenizer t = gpt::Tokenizer::from_directory(gpt2_vocab_dir());
    return t;
}

inline std::string byte_token(int b) {
    std::string s;
    const char32_t c = gpt::bytes_to_unicode()[b];
    if (c < 0x80) {
        s += static_cast<char>(c);
    } else {  // the byte alphabet stays below U+0800: two bytes of UTF-8
        s += static_cast<char>(0xC0 | (c >> 6));
        s += static_cast<char>(0x80 | (c & 0x3F));
    }
    return s;
}

// A tiny vocabulary: the 256 byte tokens with id = byte, then aa (256), he (257), Ġhe (258),
// <|endoftext|> (259); merges by rank: a a, h e, Ġ he.
inline nlohmann::json tiny_vocab() {
    nlohmann::json v = nlohmann::json::object();
    for (int b = 0; b < 256; ++b) v[byte_token(b)] = b;
    v["aa"] = 256;
    v["he"] = 257;
    v[byte_token(' ') + "he"] = 258;
    v["<|endoftext|>"] = 259;
    return v;
}
inline std::string tiny_merges() {
    return "#version: 0.2\na a\nh e\n" + byte_token(' ') + " he\n";
}

inline void write_text(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

// A fresh temporary folder, removed at the end of the test.
struct TempDir {
    fs::path path;
    TempDir() {
        static int counter = 0;
        path = fs::temp_directory_path() / ("gradstack_test_gpt_" + std::to_string(::getpid()) +
                                            "_" + std::to_string(counter++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

// A folder with the tiny vocabulary under Hugging Face's names or OpenAI's.
inline void write_tiny_tokenizer(const fs::path& dir, bool openai_names) {
    write_text(dir / (openai_names ? "encoder.json" : "vocab.json"), tiny_vocab().dump());
    write_text(dir / (openai_names ? "vocab.bpe" : "merges.txt"), tiny_merges());
}

inline std::vector<int64_t> ids_of(const nlohmann::json& j) {
    return j.get<std::vector<int64_t>>();
}

}  // namespace gradstack::test
