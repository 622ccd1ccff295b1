// Shared CLI helpers (see cli_common.h).
#include "apps/cli_common.h"

#include <filesystem>

#include "tensor/error.h"

namespace gradstack::apps {

namespace fs = std::filesystem;

std::vector<int64_t> parse_ids(const std::string& text, const std::string& flag) {
    std::vector<int64_t> ids;
    if (text.empty()) return ids;
    size_t start = 0;
    while (true) {
        const size_t comma = text.find(',', start);
        const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos
                                                                                : comma - start);
        size_t used = 0;
        int64_t id = -1;
        try {
            id = std::stoll(part, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        check(used == part.size() && !part.empty() && id >= 0,
              "{}: '{}' is not a comma-separated list of token ids (bad part '{}')", flag,
              text.substr(0, 200), part.substr(0, 40));
        ids.push_back(id);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return ids;
}

std::optional<gpt::Tokenizer> find_tokenizer(const std::string& tokenizer_dir,
                                             const std::string& model_dir) {
    if (!tokenizer_dir.empty()) return gpt::Tokenizer::from_directory(tokenizer_dir);
    for (const char* name : {"vocab.json", "encoder.json"})
        if (fs::exists(fs::path(model_dir) / name)) return gpt::Tokenizer::from_directory(model_dir);
    if (fs::exists(gpt::default_tokenizer_dir() / "encoder.json") ||
        fs::exists(gpt::default_tokenizer_dir() / "vocab.json"))
        return gpt::load_default_tokenizer();
    return std::nullopt;
}

gpt::Tokenizer require_tokenizer(const std::string& tokenizer_dir, const std::string& model_dir) {
    if (auto t = find_tokenizer(tokenizer_dir, model_dir)) return std::move(*t);
    return gpt::load_default_tokenizer();  // throws with its hint
}

}  // namespace gradstack::apps
