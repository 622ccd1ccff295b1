// Byte-level BPE training: counting words, then the incremental merge loop described in train.h.
// The bookkeeping follows Hugging Face's BpeTrainer (tokenizers/src/models/bpe/trainer.rs) so
// that ids and tie-breaking agree with it; see train.h for the one deliberate difference.
#include "gpt/tokenizer/train.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <queue>

#include "gpt/tokenizer/pretokenizer.h"
#include "gpt/tokenizer/tokenizer.h"
#include "gpt/tokenizer/utf8.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::gpt {

namespace fs = std::filesystem;

namespace {

std::string byte_text(int b) { return byte_token_text(static_cast<unsigned char>(b)); }

// A pair of adjacent symbols as one 64-bit key. Comparing keys compares (left, right)
// lexicographically, which is the tie-break order.
uint64_t pair_key(uint32_t a, uint32_t b) {
    return (uint64_t{a} << 32) | b;
}
uint32_t left_of(uint64_t key) {
    return static_cast<uint32_t>(key >> 32);
}
uint32_t right_of(uint64_t key) {
    return static_cast<uint32_t>(key);
}

struct Word {
    std::vector<uint32_t> symbols;  // token ids; one per byte at the start
    int64_t count;                  // occurrences in the corpus
};

// A heap entry: the best is the largest count, then the smallest pair (Hugging Face's Merge::cmp).
struct Entry {
    int64_t count;
    uint64_t pair;
};
struct Worse {
    bool operator()(const Entry& x, const Entry& y) const {
        return x.count != y.count ? x.count < y.count : x.pair > y.pair;
    }
};

// The state of the merge loop: pair counts, the words holding each pair, and the heap.
class MergeState {
  public:
    explicit MergeState(std::vector<Word> words) : words_(std::move(words)) {
        for (uint32_t w = 0; w < words_.size(); ++w) {
            const auto& s = words_[w].symbols;
            for (std::size_t i = 0; i + 1 < s.size(); ++i)
                add(pair_key(s[i], s[i + 1]), w, words_[w].count);
        }
        for (const auto& [pair, count] : counts_) heap_.push({count, pair});
    }

    // The most frequent pair and its count, or count 0 when none is left. Stale heap entries (the
    // count dropped since they were pushed) go back in with the current count.
    Entry best() {
        while (!heap_.empty()) {
            const Entry top = heap_.top();
            heap_.pop();
            const int64_t now = count_of(top.pair);
            if (now == top.count) return top;
            if (now > 0) heap_.push({now, top.pair});
        }
        return {0, 0};
    }

    // Replaces every occurrence of `pair` by `merged`, left to right without overlap ("a a a" ->
    // "aa a"), in every word that holds it, and updates the neighbours' pair counts.
    void merge(uint64_t pair, uint32_t merged) {
        const uint32_t a = left_of(pair), b = right_of(pair);
        std::vector<uint32_t> where = std::move(where_[pair]);
        where_.erase(pair);
        std::sort(where.begin(), where.end());  // a word is listed once per time it gained the pair
        where.erase(std::unique(where.begin(), where.end()), where.end());
        grown_.clear();
        for (const uint32_t w : where) {
            auto& s = words_[w].symbols;
            const int64_t n = words_[w].count;
            // In place: s[j-1] is the output so far (a merged symbol when two occurrences touch,
            // "a b a b" -> "ab ab"), s[i+2] the next input symbol.
            std::size_t j = 0;
            for (std::size_t i = 0; i < s.size();) {
                if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
                    if (j > 0) {
                        change(pair_key(s[j - 1], a), pair, w, -n);
                        change(pair_key(s[j - 1], merged), pair, w, n);
                    }
                    if (i + 2 < s.size()) {
                        change(pair_key(b, s[i + 2]), pair, w, -n);
                        change(pair_key(merged, s[i + 2]), pair, w, n);
                    }
                    s[j++] = merged;
                    i += 2;
                } else {
                    s[j++] = s[i++];
                }
            }
            s.resize(j);
        }
        counts_.erase(pair);  // every occurrence is gone
        // Pairs that gained occurrences need an entry with their new count; those that only lost
        // some are fixed lazily in best().
        std::sort(grown_.begin(), grown_.end());
        grown_.erase(std::unique(grown_.begin(), grown_.end()), grown_.end());
        for (const uint64_t p : grown_) {
            if (const int64_t c = count_of(p); c > 0) heap_.push({c, p});
        }
    }

  private:
    int64_t count_of(uint64_t pair) const {
        const auto it = counts_.find(pair);
        return it == counts_.end() ? 0 : it->second;
    }
    void add(uint64_t pair, uint32_t w, int64_t n) {
        counts_[pair] += n;
        auto& list = where_[pair];
        if (list.empty() || list.back() != w) list.push_back(w);
    }
    // `n` more (or fewer) occurrences of `p` in word `w`, while merging `merging`.
    void change(uint64_t p, uint64_t merging, uint32_t w, int64_t n) {
        if (p == merging) return;  // "a a a" with (a, a): its own count is dropped whole
        if (n > 0) {
            add(p, w, n);
            grown_.push_back(p);
        } else {
            counts_[p] += n;
        }
    }

    std::vector<Word> words_;
    std::unordered_map<uint64_t, int64_t> counts_;
    // The words that hold each pair: may list words that lost it since, which merge() skips
    // naturally (nothing to replace there).
    std::unordered_map<uint64_t, std::vector<uint32_t>> where_;
    std::priority_queue<Entry, std::vector<Entry>, Worse> heap_;
    std::vector<uint64_t> grown_;
};

}  // namespace

BpeTrainer::BpeTrainer(BpeTrainOptions options) : options_(std::move(options)) {
    const auto n_special = static_cast<int64_t>(options_.special_tokens.size());
    check(options_.vocab_size > 256 + n_special,
          "[train-tokenizer] --vocab-size {} leaves no room for a merge: it must be more than 256 "
          "byte tokens + {} special token(s) = {}",
          options_.vocab_size, n_special, 256 + n_special);
    check(options_.vocab_size <= (int64_t{1} << 31),
          "[train-tokenizer] --vocab-size {} is too large (at most 2^31)", options_.vocab_size);
    check(options_.min_frequency >= 1, "[train-tokenizer] --min-frequency must be >= 1, got {}",
          options_.min_frequency);
    std::vector<std::string> bytes;
    for (int b = 0; b < 256; ++b) bytes.push_back(byte_text(b));
    for (std::size_t i = 0; i < options_.special_tokens.size(); ++i) {
        const std::string& s = options_.special_tokens[i];
        check(!s.empty(), "[train-tokenizer] --special: a special token cannot be empty");
        check(utf8_invalid_offset(s) == s.size(),
              "[train-tokenizer] --special \"{}\": not valid UTF-8 at byte {}",
              utf8_replace_invalid(s), utf8_invalid_offset(s));
        for (std::size_t k = 0; k < i; ++k) {
            check(options_.special_tokens[k] != s,
                  "[train-tokenizer] --special \"{}\" is given twice", s);
        }
        check(std::find(bytes.begin(), bytes.end(), s) == bytes.end(),
              "[train-tokenizer] --special \"{}\" is the text of a byte token; pick another", s);
    }
}

void BpeTrainer::add_text(std::string_view text, const std::string& source) {
    const std::size_t bad = utf8_invalid_offset(text);
    check(bad == text.size(),
          "{}: not valid UTF-8 at byte {} (0x{:02X}); convert the file to UTF-8 (e.g. iconv) or "
          "leave it out",
          source, bad, bad < text.size() ? static_cast<unsigned char>(text[bad]) : 0);
    Pretokenizer pretokenizer;
    for (std::size_t start = 0; start < text.size();) {
        const std::size_t end = pretokenizer.piece_end(text, start);
        const std::string_view piece = text.substr(start, end - start);
        if (auto it = word_counts_.find(piece); it != word_counts_.end()) {
            ++it->second;
        } else {
            word_counts_.emplace(std::string(piece), 1);
        }
        start = end;
    }
    bytes_ += text.size();
}

void BpeTrainer::add_file(const fs::path& path) {
    check(fs::is_regular_file(path), "{}: no such file", path.string());
    const MappedFile file(path.string());
    add_text(std::string_view(reinterpret_cast<const char*>(file.data()), file.size()),
             path.string());
}

BpeVocabulary BpeTrainer::train() const {
    check(!word_counts_.empty(),
          "[train-tokenizer] the corpus is empty: no text to learn merges from");
    BpeVocabulary vocab;
    std::unordered_map<std::string, uint32_t> id_of;
    const auto add_token = [&](const std::string& text) {
        const auto [it, inserted] = id_of.emplace(text, static_cast<uint32_t>(vocab.tokens.size()));
        if (inserted) vocab.tokens.push_back(text);
        return it->second;
    };
    for (const std::string& s : options_.special_tokens) add_token(s);

    // The byte tokens in code-point order of their characters (Hugging Face sorts its alphabet
    // so; GPT-2's vocabulary has the same order).
    std::array<int, 256> order{};
    for (int b = 0; b < 256; ++b) order[b] = b;
    std::sort(order.begin(), order.end(),
              [](int x, int y) { return bytes_to_unicode()[x] < bytes_to_unicode()[y]; });
    std::array<uint32_t, 256> byte_id{};
    for (const int b : order) byte_id[b] = add_token(byte_text(b));

    // The words, sorted so that their indices do not depend on the hash map's order.
    std::vector<const std::pair<const std::string, uint64_t>*> sorted;
    sorted.reserve(word_counts_.size());
    for (const auto& entry : word_counts_) sorted.push_back(&entry);
    std::sort(sorted.begin(), sorted.end(), [](auto* x, auto* y) { return x->first < y->first; });
    std::vector<Word> words;
    words.reserve(sorted.size());
    for (const auto* entry : sorted) {
        Word w{{}, static_cast<int64_t>(entry->second)};
        w.symbols.reserve(entry->first.size());
        for (const char c : entry->first)
            w.symbols.push_back(byte_id[static_cast<unsigned char>(c)]);
        words.push_back(std::move(w));
    }

    MergeState state(std::move(words));
    while (static_cast<int64_t>(vocab.tokens.size()) < options_.vocab_size) {
        const Entry best = state.best();
        if (best.count < 1 || best.count < options_.min_frequency) break;
        const uint32_t a = left_of(best.pair), b = right_of(best.pair);
        vocab.merges.emplace_back(vocab.tokens[a], vocab.tokens[b]);
        const uint32_t merged = add_token(vocab.tokens[a] + vocab.tokens[b]);
        state.merge(best.pair, merged);
    }
    check(!vocab.merges.empty(),
          "[train-tokenizer] no pair of symbols occurs --min-frequency {} times or more in the "
          "corpus ({} distinct words), so there is nothing to merge; lower --min-frequency or add "
          "text",
          options_.min_frequency, word_counts_.size());
    return vocab;
}

std::string BpeVocabulary::vocab_json() const {
    // Written by hand rather than through a JSON object: nlohmann's ordered_json finds keys by a
    // linear scan, quadratic for 50k tokens. Each key is escaped by nlohmann all the same.
    std::string out = "{";
    for (std::size_t id = 0; id < tokens.size(); ++id) {
        if (id > 0) out += ',';
        out += nlohmann::json(tokens[id]).dump();
        out += ':';
        out += std::to_string(id);
    }
    out += '}';
    return out;
}

std::string BpeVocabulary::merges_txt() const {
    std::string out = "#version: 0.2\n";
    for (const auto& [left, right] : merges) {
        out += left;
        out += ' ';
        out += right;
        out += '\n';
    }
    return out;
}

void BpeVocabulary::save(const fs::path& dir) const {
    std::error_code ec;
    fs::create_directories(dir, ec);
    check(fs::is_directory(dir), "{}: cannot create the folder ({})", dir.string(), ec.message());
    write_file_atomically((dir / "vocab.json").string(),
                          [&](OutputFile& f) { f.write(vocab_json()); });
    write_file_atomically((dir / "merges.txt").string(),
                          [&](OutputFile& f) { f.write(merges_txt()); });
}

}  // namespace gradstack::gpt
