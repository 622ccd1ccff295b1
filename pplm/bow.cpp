// Bags of words (see bow.h): reading the lists, encoding the words, and the loss.
#include "pplm/bow.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "autograd/ops.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::pplm {

namespace fs = std::filesystem;

std::vector<std::string> builtin_bags() {
    return {"computers", "fantasy",  "kitchen",  "legal",   "military",
            "politics",  "positive_words", "religion", "science", "space"};
}

fs::path wordlist_dir() {
    if (const char* env = std::getenv("GRADSTACK_WORDLISTS"); env && *env) return env;
    return GRADSTACK_WORDLIST_DIR;
}

namespace {

std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

std::vector<std::string> read_words(const fs::path& path, const std::string& shown) {
    // A regular file of at most 64 MiB (tensor/io.h: a FIFO or device is refused at once).
    const std::string text =
        read_input_file(path.string(), 64 * kMiB, fmt::format("bag of words '{}'", shown));
    std::vector<std::string> words;
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string w = trim(text.substr(start, end - start));
        if (!w.empty()) words.push_back(std::move(w));
        start = end + 1;
    }
    return words;
}

}  // namespace

BagOfWords load_bag(const std::string& name_or_path, const gpt::Tokenizer& tokenizer,
                    const BagOptions& options) {
    const auto names = builtin_bags();
    fs::path path;
    if (std::find(names.begin(), names.end(), name_or_path) != names.end()) {
        path = wordlist_dir() / (name_or_path + ".txt");
    } else {
        path = name_or_path;
        std::error_code ec;
        check(fs::exists(path, ec),
              "--bow '{}': not a built-in bag ({}) and no such file", name_or_path,
              fmt::join(names, ", "));
    }
    std::vector<std::string> words = read_words(path, name_or_path);
    if (options.case_insensitive) {
        // Add " Word" after the list, unless the list already holds it.
        std::vector<std::string> extra;
        for (const auto& w : words) {
            std::string cap = w;
            cap[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(cap[0])));
            if (cap != w && std::find(words.begin(), words.end(), cap) == words.end() &&
                std::find(extra.begin(), extra.end(), cap) == extra.end())
                extra.push_back(cap);
        }
        words.insert(words.end(), extra.begin(), extra.end());
    }

    BagOfWords bag;
    bag.name = name_or_path;
    bag.words = static_cast<int64_t>(words.size());
    for (const auto& w : words) {
        std::vector<int64_t> ids;
        try {
            ids = tokenizer.encode(" " + w);
        } catch (const Error& e) {
            throw Error(fmt::format("bag of words '{}': word '{}': {}", name_or_path, w, e.what()));
        }
        if (ids.size() == 1 || (options.multi_token && !ids.empty()))
            bag.ids.push_back(ids[0]);
        else
            bag.dropped.push_back(w);
    }
    check(!bag.ids.empty(),
          "bag of words '{}': none of its {} words is a single token of this tokenizer{}",
          name_or_path, bag.words,
          options.multi_token ? "" : " (--bow-multi-token keeps longer words)");
    return bag;
}

Tensor bow_loss(const Tensor& probs, const std::vector<BagOfWords>& bags) {
    check(probs.dim() == 2, "[bow_loss] probs must be (R, V), got {}", shape_str(probs.shape()));
    Tensor loss;
    for (const auto& bag : bags) {
        for (int64_t id : bag.ids)
            check(id >= 0 && id < probs.size(1),
                  "[bow_loss] bag '{}' holds token {}, outside the model's vocabulary of {}",
                  bag.name, id, probs.size(1));
        // p[:, ids] summed over the words: the probability of the next token being a bag word.
        Tensor p_bag = sum(index_select(probs, 1, from_vector<int64_t>(bag.ids)), {1});  // (R,)
        Tensor l = -log(p_bag);
        loss = loss.defined() ? loss + l : l;
    }
    check(loss.defined(), "[bow_loss] no bags");
    return loss;
}

bool in_bags(const std::vector<BagOfWords>& bags, int64_t id) {
    for (const auto& bag : bags)
        if (std::find(bag.ids.begin(), bag.ids.end(), id) != bag.ids.end()) return true;
    return false;
}

int64_t count_in_bags(const std::vector<BagOfWords>& bags, const std::vector<int64_t>& ids) {
    int64_t n = 0;
    for (int64_t id : ids) n += in_bags(bags, id);
    return n;
}

}  // namespace gradstack::pplm
