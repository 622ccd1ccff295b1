// Encoding and decoding with a loaded vocabulary (loading is in files.cpp). The hot path of
// encode: one PCRE2 match per piece, one hash lookup in the piece cache, and BPE only for pieces
// not seen before; in English text nearly every piece is a cache hit after the first few pages.
#include "gpt/tokenizer/tokenizer.h"
#include "tensor/io.h"

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "gpt/tokenizer/pretokenizer.h"
#include "gpt/tokenizer/utf8.h"
#include "tensor/error.h"

namespace gradstack::gpt {

namespace {

// Longer pieces (long runs without spaces) are not cached: they rarely repeat and would fill it.
constexpr std::size_t kCacheMaxPiece = 256;

struct StringHash {
    using is_transparent = void;  // lets the cache be searched with a string_view
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct Tokenizer::EncodeState {
    struct Range {
        uint32_t begin, size;  // into ids
    };
    std::mutex mutex;
    Pretokenizer pretokenizer;
    std::unordered_map<std::string, Range, StringHash, std::equal_to<>> cache;
    std::vector<uint32_t> ids;      // the cached pieces' ids, back to back
    std::vector<uint32_t> symbols;  // scratch for the BPE of one piece
};

Tokenizer::Tokenizer() : state_(std::make_unique<EncodeState>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool allow_special) const {
    const std::size_t bad = utf8_invalid_offset(text);
    check(bad == text.size(),
          "[tokenizer] the text is not valid UTF-8: byte 0x{:02X} at offset {} does not start a "
          "well-formed sequence (replace invalid bytes first, e.g. with utf8_replace_invalid)",
          static_cast<unsigned char>(text[bad < text.size() ? bad : 0]), bad);
    std::vector<int64_t> out;
    out.reserve(text.size() / 4 + 1);
    std::lock_guard lock(state_->mutex);
    if (!allow_special || eot_id_ < 0) {
        encode_ordinary(text, out);
        return out;
    }
    // Special tokens allowed: split on "<|endoftext|>" and encode the pieces between separately,
    // so the regex never sees across one.
    std::size_t start = 0;
    for (;;) {
        const std::size_t at = text.find(kEndOfText, start);
        if (at == std::string_view::npos) break;
        encode_ordinary(text.substr(start, at - start), out);
        out.push_back(eot_id_);
        start = at + kEndOfText.size();
    }
    encode_ordinary(text.substr(start), out);
    return out;
}

void Tokenizer::encode_ordinary(std::string_view text, std::vector<int64_t>& out) const {
    EncodeState& st = *state_;
    for (std::size_t start = 0; start < text.size();) {
        const std::size_t end = st.pretokenizer.piece_end(text, start);
        const std::string_view piece = text.substr(start, end - start);
        start = end;
        if (auto it = st.cache.find(piece); it != st.cache.end()) {
            const uint32_t* ids = st.ids.data() + it->second.begin;
            out.insert(out.end(), ids, ids + it->second.size);
            continue;
        }
        // One symbol per byte, then the merges.
        st.symbols.clear();
        for (const char c : piece) st.symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
        merges_.apply(st.symbols);
        out.insert(out.end(), st.symbols.begin(), st.symbols.end());
        if (piece.size() > kCacheMaxPiece) continue;
        if (st.cache.size() >= kCacheLimit) {
            st.cache.clear();
            st.ids.clear();
        }
        st.cache.emplace(std::string(piece),
                         EncodeState::Range{static_cast<uint32_t>(st.ids.size()),
                                            static_cast<uint32_t>(st.symbols.size())});
        st.ids.insert(st.ids.end(), st.symbols.begin(), st.symbols.end());
    }
}

void Tokenizer::clear_cache() const {
    std::lock_guard lock(state_->mutex);
    state_->cache.clear();
    state_->ids.clear();
}

void Tokenizer::check_id(int64_t id) const {
    check(id >= 0 && id < vocab_size(),
          "[tokenizer] token id {} is out of range: the vocabulary has ids 0 to {}", id,
          vocab_size() - 1);
    check(has_id_[id], "[tokenizer] no token has id {} in this vocabulary", id);
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
    std::string out;
    for (const int64_t id : ids) {
        check_id(id);
        out += id_to_bytes_[id];
    }
    return out;
}

std::string Tokenizer::decode_text(const std::vector<int64_t>& ids) const {
    return utf8_replace_invalid(decode(ids));
}

const std::string& Tokenizer::token_bytes(int64_t id) const {
    check_id(id);
    return id_to_bytes_[id];
}

std::filesystem::path default_tokenizer_dir() {
    if (const char* env = std::getenv("GRADSTACK_TOKENIZER"); env && *env) return env;
    return std::filesystem::path(data_root()) / "gpt2-tokenizer";
}

Tokenizer load_default_tokenizer() {
    const auto dir = default_tokenizer_dir();
    const char* env = std::getenv("GRADSTACK_TOKENIZER");
    if (env && *env) {
        check(std::filesystem::exists(dir),
              "[tokenizer] GRADSTACK_TOKENIZER is {}, which does not exist; point it to a folder "
              "with vocab.json + merges.txt or encoder.json + vocab.bpe",
              dir.string());
    }
    check(std::filesystem::exists(dir),
          "[tokenizer] no tokenizer at {}: run scripts/setup.sh (it installs the GPT-2 files "
          "there), or pass --tokenizer DIR, a folder with vocab.json + merges.txt or encoder.json "
          "+ vocab.bpe",
          dir.string());
    return Tokenizer::from_directory(dir);
}

double tokenizer_encode_mb_per_s(const Tokenizer& tokenizer, std::string_view text, int repeats) {
    check(repeats >= 1 && !text.empty(), "[tokenizer] benchmark needs text and repeats >= 1");
    tokenizer.clear_cache();
    std::size_t tokens = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < repeats; ++r) tokens += tokenizer.encode(text).size();
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    check(tokens > 0, "[tokenizer] benchmark produced no tokens");  // keeps the loop alive
    return static_cast<double>(text.size()) * repeats / seconds.count() / 1e6;
}

}  // namespace gradstack::gpt
