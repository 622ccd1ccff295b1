// The built-in rewards (see reward.h).
#include "rl/reward.h"

#include <cmath>
#include <map>
#include <memory>

#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::rl {

Reward token_count_reward(std::set<int64_t> ids, std::string name) {
    check(!ids.empty(), "[{}] the reward's token set is empty", name);
    auto bag = std::make_shared<std::set<int64_t>>(std::move(ids));
    return {std::move(name), [bag](const Rows&, const Rows& responses) {
                std::vector<double> s;
                for (const auto& r : responses) {
                    double n = 0;
                    for (int64_t t : r) n += bag->count(t) ? 1.0 : 0.0;
                    s.push_back(n);
                }
                return s;
            }};
}

std::string escape_tsv(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\t') out += "\\t";
        else if (c == '\n') out += "\\n";
        else if (c == '\\') out += "\\\\";
        else out += c;
    }
    return out;
}

Reward table_reward(const std::string& path, const gpt::Tokenizer& tokenizer, double missing) {
    // A regular file of at most 1 GiB (tensor/io.h: a FIFO or device is refused at once).
    const std::string text = read_input_file(path, 1024 * kMiB, "the reward table (tsv:FILE)");
    auto table = std::make_shared<std::map<std::string, double>>();
    int64_t n = 0;
    for (size_t start = 0; start < text.size();) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(start, end - start);
        start = end + 1;
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const size_t tab = line.rfind('\t');
        check(tab != std::string::npos, "{}:{}: expected RESPONSE<TAB>SCORE", path, n);
        const std::string score_text = line.substr(tab + 1);
        double score = 0;
        size_t used = 0;
        try {
            score = std::stod(score_text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        check(used == score_text.size() && used > 0 && std::isfinite(score),
              "{}:{}: score '{}' is not a finite number", path, n, excerpt(score_text, 40));
        check(table->emplace(line.substr(0, tab), score).second, "{}:{}: response listed twice",
              path, n);
    }
    check(!table->empty(), "{}: no RESPONSE<TAB>SCORE lines", path);
    const gpt::Tokenizer* tok = &tokenizer;
    return {"tsv:" + path, [table, tok, missing](const Rows&, const Rows& responses) {
                std::vector<double> s;
                for (const auto& r : responses) {
                    auto it = table->find(escape_tsv(tok->decode_text(r)));
                    s.push_back(it == table->end() ? missing : it->second);
                }
                return s;
            }};
}

}  // namespace gradstack::rl
