// The readers of discrim_train.h: SST-5's PTB trees, label<TAB>text files and Debian's fortunes
// topic files, then token ids (with <|endoftext|> first) and the seeded 90/10 split.
// The training loop is in discrim_train.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "autograd/ops.h"
#include "gpt/tokenizer/utf8.h"
#include "pplm/discrim_train.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::pplm {

namespace fs = std::filesystem;

namespace {

// A regular file of training text (tensor/io.h: a FIFO or device is refused without blocking);
// 1 GiB is far more than a discriminator's data (SST-5 is 2 MB).
std::string read_whole_file(const std::string& path, const char* what) {
    std::error_code ec;
    check(fs::exists(path, ec), "{} {}: not a readable file (no such file)", what, path);
    return read_input_file(path, 1024 * kMiB, what);
}

// The lines of `text`, without their "\n" or "\r\n".
std::vector<std::string_view> lines_of(std::string_view text) {
    std::vector<std::string_view> lines;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        start = end + 1;
    }
    return lines;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
    return out;
}

}  // namespace

// --- SST-5 ---------------------------------------------------------------------------------------

const std::vector<std::string>& sst5_class_names() {
    static const std::vector<std::string> names = {"very_negative", "negative", "neutral",
                                                   "positive", "very_positive"};
    return names;
}

namespace {

// A PTB leaf as text: whole-token escapes for brackets and quotes, then the backslash escapes
// that can sit inside a token ("1\/2").
std::string unescape_ptb(std::string_view token) {
    static const std::map<std::string_view, std::string_view> whole = {
        {"-LRB-", "("}, {"-RRB-", ")"}, {"-LSB-", "["}, {"-RSB-", "]"},
        {"-LCB-", "{"}, {"-RCB-", "}"}, {"``", "\""},   {"''", "\""}};
    if (auto it = whole.find(token); it != whole.end()) return std::string(it->second);
    std::string out;
    for (size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '\\' && i + 1 < token.size() &&
            (token[i + 1] == '/' || token[i + 1] == '*'))
            ++i;
        out += token[i];
    }
    return out;
}

}  // namespace

LabeledText parse_sst_tree(std::string_view s, const std::string& where) {
    // An explicit stack instead of recursion, so that a deeply nested line cannot overflow the
    // call stack. Each open node remembers whether it has read its label and what it holds.
    struct Open {
        bool has_label = false;
        bool has_word = false;
        bool has_children = false;
    };
    std::vector<Open> stack;
    std::vector<std::string> words;
    int64_t root_label = -1;
    bool closed = false;  // the root's ")" was seen
    size_t i = 0;
    auto here = [&](size_t at) { return fmt::format("{}:{}", where, at + 1); };
    while (i < s.size()) {
        const char c = s[i];
        if (is_space(c)) {
            ++i;
            continue;
        }
        check(!closed, "{}: text after the end of the tree: '{}'", here(i),
              std::string(s.substr(i, 20)));
        if (c == '(') {
            check(stack.empty() || stack.back().has_label, "{}: '(' where a label was expected",
                  here(i));
            check(stack.empty() || !stack.back().has_word,
                  "{}: a node holds either one word or subtrees, not both", here(i));
            if (!stack.empty()) stack.back().has_children = true;
            stack.push_back({});
            ++i;
        } else if (c == ')') {
            check(!stack.empty(), "{}: ')' without a matching '('", here(i));
            check(stack.back().has_label, "{}: empty node '()'", here(i));
            check(stack.back().has_word || stack.back().has_children,
                  "{}: a node without a word or subtrees", here(i));
            stack.pop_back();
            if (stack.empty()) closed = true;
            ++i;
        } else {
            check(!stack.empty(), "{}: expected '(' at the start of a tree, got '{}'", here(i),
                  std::string(s.substr(i, 20)));
            size_t end = i;
            while (end < s.size() && !is_space(s[end]) && s[end] != '(' && s[end] != ')') ++end;
            const std::string_view token = s.substr(i, end - i);
            Open& node = stack.back();
            if (!node.has_label) {
                check(token.size() == 1 && token[0] >= '0' && token[0] <= '4',
                      "{}: the label '{}' is not a sentiment class 0..4", here(i),
                      std::string(token.substr(0, 20)));
                if (stack.size() == 1) root_label = token[0] - '0';
                node.has_label = true;
            } else {
                check(!node.has_word && !node.has_children,
                      "{}: a node holds either one word or subtrees, not both ('{}')", here(i),
                      std::string(token.substr(0, 20)));
                node.has_word = true;
                words.push_back(unescape_ptb(token));
            }
            i = end;
        }
    }
    check(root_label >= 0, "{}: empty line where a tree was expected", where);
    check(closed, "{}: the tree is not closed ({} ')' missing)", where, stack.size());
    return {join(words, " "), root_label};
}

std::vector<LabeledText> read_sst_file(const std::string& path) {
    const std::string text = read_whole_file(path, "[sst5]");
    std::vector<LabeledText> out;
    const auto lines = lines_of(text);
    for (size_t n = 0; n < lines.size(); ++n) {
        if (trim(lines[n]).empty()) continue;
        out.push_back(parse_sst_tree(lines[n], fmt::format("{}:{}", path, n + 1)));
    }
    check(!out.empty(), "[sst5] {}: no trees in the file", path);
    return out;
}

SstFiles find_sst_files(const std::string& data) {
    std::error_code ec;
    check(fs::exists(data, ec), "--data {}: no such file or folder", data);
    const fs::path dir = fs::is_directory(data, ec) ? fs::path(data) : fs::path(data).parent_path();
    SstFiles f;
    for (auto [name, slot] : {std::pair{"train.txt", &f.train}, std::pair{"test.txt", &f.test},
                              std::pair{"dev.txt", &f.dev}}) {
        const fs::path p = dir / name;
        if (fs::is_regular_file(p, ec)) *slot = p.string();
    }
    check(!f.train.empty() && !f.test.empty(),
          "--data {}: an SST-5 folder holds train.txt and test.txt (and dev.txt), one PTB tree per "
          "line; {} has no {}",
          data, dir.empty() ? "." : dir.string(), f.train.empty() ? "train.txt" : "test.txt");
    return f;
}

LabeledData read_sst5(const std::string& data) {
    const SstFiles files = find_sst_files(data);
    LabeledData d;
    d.class_names = sst5_class_names();
    // uber's script has default_class 2, which in its label order (positive, negative,
    // very positive, very negative, neutral) is "very positive": here that is class 4.
    d.default_class = 4;
    d.train = read_sst_file(files.train);
    d.test = read_sst_file(files.test);
    if (!files.dev.empty()) d.dev = read_sst_file(files.dev);
    return d;
}

// --- label<TAB>text ------------------------------------------------------------------------------

LabeledData read_tsv(const std::string& path) {
    const std::string text = read_whole_file(path, "--data");
    struct Row {
        std::string label, text;
    };
    std::vector<Row> rows;
    std::vector<std::string> bad;
    int64_t n_bad = 0;
    const auto lines = lines_of(text);
    for (size_t n = 0; n < lines.size(); ++n) {
        const std::string_view line = lines[n];
        if (line.empty()) continue;
        const size_t tab = line.find('\t');
        std::string why;
        if (tab == std::string_view::npos)
            why = "no tab between label and text";
        else if (tab == 0)
            why = "empty label";
        if (!why.empty()) {
            if (++n_bad <= 5) bad.push_back(fmt::format("{}:{}: {}", path, n + 1, why));
            continue;
        }
        std::string_view rest = line.substr(tab + 1);
        rest = rest.substr(0, rest.find('\t'));  // the second field, as uber's row[1]
        rows.push_back({std::string(line.substr(0, tab)), std::string(rest)});
    }
    check(!rows.empty(), "--data {}: no line of the form label<TAB>text{}", path,
          bad.empty() ? "" : " (" + bad.front() + ")");
    LabeledData d;
    std::set<std::string> labels;
    for (const Row& r : rows) labels.insert(r.label);
    d.class_names.assign(labels.begin(), labels.end());  // sorted, as uber's get_idx2class
    check(d.class_names.size() >= 2,
          "--data {}: every line has the label '{}'; a discriminator "
          "needs at least 2 classes",
          path, d.class_names.front());
    std::map<std::string, int64_t> id;
    for (size_t k = 0; k < d.class_names.size(); ++k)
        id[d.class_names[k]] = static_cast<int64_t>(k);
    for (Row& r : rows) d.train.push_back({std::move(r.text), id[r.label]});
    if (n_bad > 0) {
        d.notes.push_back(
            fmt::format("{}: skipped {} malformed line(s), as uber's script does:", path, n_bad));
        for (const std::string& b : bad) d.notes.push_back("  " + b);
        if (n_bad > static_cast<int64_t>(bad.size()))
            d.notes.push_back(
                fmt::format("  ... and {} more", n_bad - static_cast<int64_t>(bad.size())));
    }
    return d;
}

// --- Debian fortunes -----------------------------------------------------------------------------

namespace {

// Backspace as a terminal shows it: it erases the character before it (a whole UTF-8 character),
// so "_\bx" shows x and "____\b\b\b\bleast" shows least.
std::string apply_backspaces(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c != '\b') {
            out += c;
            continue;
        }
        while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
            out.pop_back();
        if (!out.empty()) out.pop_back();
    }
    return out;
}

}  // namespace

std::vector<std::string> split_fortunes(std::string_view file_text) {
    std::vector<std::string> fortunes;
    std::string current;
    auto finish = [&]() {
        const std::string text(trim(apply_backspaces(current)));
        if (!text.empty()) fortunes.push_back(text);
        current.clear();
    };
    for (std::string_view line : lines_of(file_text)) {
        if (line == "%") {
            finish();
        } else {
            current += line;
            current += '\n';
        }
    }
    finish();
    return fortunes;
}

std::vector<std::string> fortune_topics(const std::string& dir) {
    std::error_code ec;
    check(fs::is_directory(dir, ec),
          "--data {}: not a folder (the fortunes format reads a folder "
          "of topic files such as /usr/share/games/fortunes)",
          dir);
    std::vector<std::string> topics;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        const std::string ext = entry.path().extension().string();
        if (name.empty() || name[0] == '.' || ext == ".dat" || ext == ".u8") continue;
        if (entry.is_regular_file(ec)) topics.push_back(name);
    }
    std::sort(topics.begin(), topics.end());
    return topics;
}

LabeledData read_fortunes(const std::string& dir, const std::vector<std::string>& topics) {
    const std::vector<std::string> available = fortune_topics(dir);
    check(topics.size() >= 2,
          "--classes: give at least 2 fortunes topics (comma-separated), got {}; "
          "the topics in {} are: {}",
          topics.size(), dir, join(available, ", "));
    LabeledData d;
    std::set<std::string> seen;
    for (const std::string& topic : topics) {
        check(seen.insert(topic).second, "--classes: '{}' is listed twice", topic);
        check(std::find(available.begin(), available.end(), topic) != available.end(),
              "--classes: no topic file '{}' in {}; the topics are: {}", topic, dir,
              join(available, ", "));
        const std::string path = (fs::path(dir) / topic).string();
        const std::vector<std::string> fortunes = split_fortunes(read_whole_file(path, "--data"));
        check(!fortunes.empty(),
              "--classes: {} holds no fortune (fortunes are separated by lines "
              "holding only %)",
              path);
        const auto label = static_cast<int64_t>(d.class_names.size());
        for (const std::string& f : fortunes) d.train.push_back({f, label});
        d.class_names.push_back(topic);
    }
    return d;
}

LabeledData read_labeled_data(const std::string& format, const std::string& data,
                              const std::vector<std::string>& topics) {
    check(format == "fortunes" || topics.empty(),
          "--classes picks fortunes topic files; it is only for --format fortunes (got --format "
          "{})",
          format);
    if (format == "sst5") return read_sst5(data);
    if (format == "tsv") return read_tsv(data);
    if (format == "fortunes") return read_fortunes(data, topics);
    fail("--format {}: expected sst5, tsv or fortunes", format);
}

// --- token ids -----------------------------------------------------------------------------------

std::vector<TokenizedExample> encode_examples(const std::vector<LabeledText>& examples,
                                              const gpt::Tokenizer& tokenizer, int64_t bos_id,
                                              int64_t max_length, int64_t n_classes,
                                              std::vector<int64_t>* dropped_per_class) {
    check(max_length >= 2, "[encode_examples] max_length {} must be >= 2", max_length);
    if (dropped_per_class) dropped_per_class->assign(n_classes, 0);
    std::vector<TokenizedExample> out;
    out.reserve(examples.size());
    for (const LabeledText& e : examples) {
        check(e.label >= 0 && e.label < n_classes, "[encode_examples] label {} not in [0, {})",
              e.label, n_classes);
        TokenizedExample t{{bos_id}, e.label};
        const std::vector<int64_t> ids = tokenizer.encode(gpt::utf8_replace_invalid(e.text));
        if (static_cast<int64_t>(ids.size()) + 1 > max_length) {
            if (dropped_per_class) ++(*dropped_per_class)[e.label];
            continue;
        }
        t.ids.insert(t.ids.end(), ids.begin(), ids.end());
        out.push_back(std::move(t));
    }
    return out;
}

void random_split(const std::vector<TokenizedExample>& all, double train_fraction, uint64_t seed,
                  std::vector<TokenizedExample>& train, std::vector<TokenizedExample>& test) {
    check(train_fraction > 0 && train_fraction < 1,
          "[random_split] train_fraction {} not in (0, 1)", train_fraction);
    const auto n = static_cast<int64_t>(all.size());
    const auto n_train = static_cast<int64_t>(train_fraction * static_cast<double>(n));
    Generator gen(seed);
    const std::vector<int64_t> order =
        n > 0 ? to_vector<int64_t>(randperm(n, &gen)) : std::vector<int64_t>{};
    train.clear();
    test.clear();
    for (int64_t k = 0; k < n; ++k) (k < n_train ? train : test).push_back(all[order[k]]);
}

}  // namespace gradstack::pplm
