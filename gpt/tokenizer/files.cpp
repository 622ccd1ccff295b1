// Loading a GPT-2 style vocabulary: vocab.json (token text -> id) and merges.txt (one merge "a b"
// per line, highest priority first), or OpenAI's names for the same, encoder.json and vocab.bpe.
// Token texts are written in the byte-level alphabet of bytes_to_unicode(); this file turns them
// into bytes and the merges into rules over ids, and checks the two files against each other: a
// merges file cut short (at a line boundary, so every line still parses) leaves vocabulary
// tokens that no merge can make, and that is an error, not a tokenizer that silently differs.
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "gpt/tokenizer/tokenizer.h"
#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::gpt {

namespace fs = std::filesystem;

const std::array<char32_t, 256>& bytes_to_unicode() {
    static const std::array<char32_t, 256> table = [] {
        std::array<char32_t, 256> t{};
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            t[b] = printable ? static_cast<char32_t>(b) : next++;
        }
        return t;
    }();
    return table;
}

namespace {

void append_utf8(std::string& out, char32_t c) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

// The bytes a token stands for: each character of its text through the inverse of
// bytes_to_unicode(). A character outside that alphabet (only in added tokens of other
// vocabularies, never in GPT-2's) stands for its own UTF-8 bytes. `text` is valid UTF-8 (JSON).
std::string token_text_to_bytes(std::string_view text) {
    static const std::unordered_map<char32_t, char> byte_of = [] {
        std::unordered_map<char32_t, char> m;
        for (int b = 0; b < 256; ++b) m[bytes_to_unicode()[b]] = static_cast<char>(b);
        return m;
    }();
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        const auto lead = static_cast<unsigned char>(text[i]);
        const std::size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        char32_t c = n == 1 ? lead : n == 2 ? lead & 0x1F : n == 3 ? lead & 0x0F : lead & 0x07;
        for (std::size_t k = 1; k < n && i + k < text.size(); ++k)
            c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
        if (auto it = byte_of.find(c); it != byte_of.end()) {
            out += it->second;
        } else {
            out.append(text.substr(i, n));
        }
        i += n;
    }
    return out;
}

// Added tokens that no merge makes, by the look of them: "<|endoftext|>", "<pad>", "[PAD]".
bool looks_special(std::string_view text) {
    return text.size() >= 3 && ((text.front() == '<' && text.back() == '>') ||
                                (text.front() == '[' && text.back() == ']'));
}

}  // namespace

std::string byte_token_text(unsigned char byte) {
    std::string out;
    append_utf8(out, bytes_to_unicode()[byte]);
    return out;
}

std::string Tokenizer::token_text(int64_t id) const {
    std::string out;
    for (const char b : token_bytes(id))
        append_utf8(out, bytes_to_unicode()[static_cast<unsigned char>(b)]);
    return out;
}

Tokenizer Tokenizer::from_strings(std::string_view vocab_json, std::string_view merges_txt,
                                  const std::string& vocab_name, const std::string& merges_name) {
    Tokenizer t;

    // The vocabulary: a JSON object of token text -> id.
    nlohmann::json vocab;
    try {
        vocab = parse_json(vocab_json, vocab_name);
    } catch (const Error& e) {
        fail("{}; the file is probably damaged: fetch it again", e.what());
    }
    check(vocab.is_object() && !vocab.empty(),
          "{}: expected a JSON object of token -> id, got a {}", vocab_name,
          vocab.empty() ? "empty object" : vocab.type_name());
    constexpr int64_t kMaxId = (int64_t{1} << 31) - 1;
    constexpr size_t kMaxIdGap = size_t{1} << 20;
    std::unordered_map<std::string, uint32_t> id_of;
    std::vector<const std::string*> text_of;  // for the duplicate-id message
    for (const auto& [text, value] : vocab.items()) {
        // (if + fail rather than check: the message's excerpts are built only on failure)
        if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
            value.get<int64_t>() > kMaxId)
            fail("{}: the id of token \"{}\" must be an integer in [0, 2^31), got {}", vocab_name,
                 excerpt(text), json_excerpt(value));
        const auto id = static_cast<uint32_t>(value.get<int64_t>());
        // Ids may skip, but the table is indexed by id: an id far past the number of tokens
        // (found by fuzzing: 20 tokens with id 93,555,156 allocated 3 GB) is a damaged file.
        if (id > vocab.size() + kMaxIdGap)
            fail("{}: token \"{}\" has id {}, more than {} past the {} tokens of the file (ids "
                 "may skip, but not that far); the file is damaged",
                 vocab_name, excerpt(text), id, kMaxIdGap, vocab.size());
        if (id >= t.id_to_bytes_.size()) {
            t.id_to_bytes_.resize(id + 1);
            t.has_id_.resize(id + 1, false);
            text_of.resize(id + 1, nullptr);
        }
        auto [it, inserted] = id_of.emplace(text, id);
        if (t.has_id_[id])
            fail("{}: id {} is used by both \"{}\" and \"{}\"", vocab_name, id,
                 excerpt(*text_of[id]), excerpt(text));
        t.has_id_[id] = true;
        text_of[id] = &it->first;
        t.id_to_bytes_[id] = token_text_to_bytes(text);
    }
    for (int b = 0; b < 256; ++b) {
        std::string text;
        append_utf8(text, bytes_to_unicode()[b]);
        const auto it = id_of.find(text);
        check(it != id_of.end(),
              "{}: the token \"{}\" for byte 0x{:02X} is missing; a GPT-2 (byte-level BPE) "
              "vocabulary has one token for each of the 256 byte values",
              vocab_name, text, b);
        t.byte_ids_[b] = it->second;
    }
    if (auto it = id_of.find(std::string(kEndOfText)); it != id_of.end()) t.eot_id_ = it->second;

    // The merges: "a b" per line, rank = order among the merge lines. encoder.py skips the first
    // line ("#version: 0.2"); a first line not starting with '#' is taken as a merge here.
    std::size_t line_no = 0;
    uint32_t rank = 0;
    // FNV-1a over the ids' bytes (length-prefixed, so "ab","c" and "a","bc" differ) and then the
    // merge rules: the identity that token caches are keyed on.
    uint64_t hash = 0xcbf29ce484222325ull;
    const auto mix = [&hash](const void* data, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            hash ^= static_cast<const unsigned char*>(data)[i];
            hash *= 0x100000001b3ull;
        }
    };
    for (std::size_t id = 0; id < t.id_to_bytes_.size(); ++id) {
        const uint64_t n = t.has_id_[id] ? t.id_to_bytes_[id].size() : ~uint64_t{0};
        mix(&n, sizeof n);
        mix(t.id_to_bytes_[id].data(), t.id_to_bytes_[id].size());
    }
    // made[id]: the token is a byte or the result of a merge read so far. A merge whose part is
    // neither could never apply (BPE makes each part before it merges it), so its line is out of
    // order or from another tokenizer.
    std::vector<bool> made(t.id_to_bytes_.size(), false);
    uint32_t first_byte_id = UINT32_MAX;
    for (const uint32_t id : t.byte_ids_) {
        made[id] = true;
        first_byte_id = std::min(first_byte_id, id);
    }
    for (std::size_t start = 0; start < merges_txt.size();) {
        std::size_t end = merges_txt.find('\n', start);
        if (end == std::string_view::npos) end = merges_txt.size();
        std::string_view line = merges_txt.substr(start, end - start);
        start = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || (line_no == 1 && line.front() == '#')) continue;
        const std::size_t space = line.find(' ');
        if (space == std::string_view::npos || space == 0 || space + 1 >= line.size() ||
            line.find(' ', space + 1) != std::string_view::npos)
            fail("{} line {}: expected two tokens separated by one space, got \"{}\"",
                 merges_name, line_no, excerpt(line));
        const std::string a(line.substr(0, space)), b(line.substr(space + 1));
        const auto ia = id_of.find(a), ib = id_of.find(b), imerged = id_of.find(a + b);
        for (const auto& [it, what] : {std::pair{ia, &a}, std::pair{ib, &b}}) {
            if (it == id_of.end())
                fail("{} line {}: \"{}\" is not a token of {}", merges_name, line_no,
                     excerpt(*what), vocab_name);
            if (!made[it->second])
                fail("{} line {}: \"{}\" is neither a byte nor made by an earlier merge, so this "
                     "merge could never apply; the lines are out of order or the files come from "
                     "different tokenizers",
                     merges_name, line_no, excerpt(*what));
        }
        if (imerged == id_of.end())
            fail("{} line {}: the merge of \"{}\" and \"{}\" gives \"{}\", which is not a token "
                 "of {}; are the two files from the same tokenizer?",
                 merges_name, line_no, excerpt(a), excerpt(b), excerpt(a + b), vocab_name);
        const std::size_t before = t.merges_.size();
        t.merges_.add(ia->second, ib->second, rank++, imerged->second);
        if (t.merges_.size() == before)
            fail("{} line {}: the merge \"{} {}\" is given twice", merges_name, line_no,
                 excerpt(a), excerpt(b));
        made[imerged->second] = true;
        const uint32_t rule[3] = {ia->second, ib->second, imerged->second};
        mix(rule, sizeof rule);
    }
    t.fingerprint_ = hash;
    check(t.merges_.size() > 0, "{}: no merges found", merges_name);

    // Every token must be a byte, made by a merge, or an added token: special by its look
    // ("<|endoftext|>", "[PAD]") or in the block before the byte tokens where trainers put them
    // (gradstack train-tokenizer and Hugging Face's BpeTrainer write --special tokens first).
    // Anything else is a token the tokenizer can never produce, the mark of a merges file cut
    // short: GPT-2 has 50,000 merges + 256 bytes + 1 special = 50,257 tokens, and a vocab.bpe cut
    // in half leaves 25,000 such tokens.
    std::size_t orphans = 0, specials = 0;
    int64_t first_orphan = -1;
    for (std::size_t id = 0; id < made.size(); ++id) {
        if (!t.has_id_[id] || made[id]) continue;
        const std::string& text = *text_of[id];
        if (looks_special(text) || id < first_byte_id) {
            ++specials;
        } else if (orphans++ == 0) {
            first_orphan = static_cast<int64_t>(id);
        }
    }
    if (orphans > 0)
        fail("{}: {} token(s) of {} are neither a byte, nor made by a merge, nor special (the "
             "first: \"{}\", id {}); {} merges, 256 bytes and {} special token(s) do not make its "
             "{} tokens: {} was probably cut short (fetch it again) or belongs to another "
             "vocabulary",
             merges_name, orphans, vocab_name, excerpt(*text_of[first_orphan]), first_orphan,
             t.merges_.size(), specials, id_of.size(), merges_name);
    return t;
}

Tokenizer Tokenizer::from_files(const fs::path& vocab_json, const fs::path& merges_txt) {
    check(fs::exists(vocab_json), "{}: no such file", vocab_json.string());
    check(fs::exists(merges_txt), "{}: no such file", merges_txt.string());
    return from_strings(
        read_input_file(vocab_json.string(), kMaxTokenizerFileBytes, "a tokenizer vocabulary"),
        read_input_file(merges_txt.string(), kMaxTokenizerFileBytes, "a tokenizer merges file"),
        vocab_json.string(), merges_txt.string());
}

bool holds_tokenizer_files(const fs::path& dir) {
    for (const char* name : {"vocab.json", "merges.txt", "encoder.json", "vocab.bpe"}) {
        if (fs::exists(dir / name)) return true;
    }
    return false;
}

Tokenizer Tokenizer::from_directory(const fs::path& dir) {
    check(fs::is_directory(dir),
          "{}: no such folder (a tokenizer folder holds vocab.json + "
          "merges.txt or encoder.json + vocab.bpe)",
          dir.string());
    // Hugging Face's names first, then OpenAI's; half a pair is an error naming the other half.
    for (const auto& [vocab, merges] :
         {std::pair{"vocab.json", "merges.txt"}, std::pair{"encoder.json", "vocab.bpe"}}) {
        const bool has_vocab = fs::exists(dir / vocab), has_merges = fs::exists(dir / merges);
        check(has_vocab == has_merges, "{}: missing, but {} is there; they come as a pair",
              (dir / (has_vocab ? merges : vocab)).string(), has_vocab ? vocab : merges);
        if (has_vocab) return from_files(dir / vocab, dir / merges);
    }
    fail("{}: holds neither vocab.json + merges.txt nor encoder.json + vocab.bpe", dir.string());
}

}  // namespace gradstack::gpt
