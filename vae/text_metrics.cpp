// The text measures (see text_metrics.h). N-grams are joined into one string with '\x1f'
// (a character that never occurs inside a word) to serve as hash keys.
#include "vae/text_metrics.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "tensor/error.h"

namespace gradstack::vae {

namespace {

std::vector<std::string> ngrams(const Words& w, int n) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i + static_cast<std::size_t>(n) <= w.size(); ++i) {
        std::string g = w[i];
        for (int k = 1; k < n; ++k) g += '\x1f' + w[i + static_cast<std::size_t>(k)];
        out.push_back(std::move(g));
    }
    return out;
}

std::unordered_map<std::string, int64_t> counts(const Words& w, int n) {
    std::unordered_map<std::string, int64_t> c;
    for (auto& g : ngrams(w, n)) ++c[g];
    return c;
}

}  // namespace

Words split_words(const std::string& text) {
    Words w;
    std::istringstream in(text);
    for (std::string s; in >> s;) w.push_back(s);
    return w;
}

double corpus_bleu(const std::vector<Words>& hyps, const std::vector<std::vector<Words>>& refs) {
    check(!hyps.empty() && hyps.size() == refs.size(),
          "[bleu] needs as many reference lists ({}) as hypotheses ({}), at least one",
          refs.size(), hyps.size());
    double match[4] = {0, 0, 0, 0}, total[4] = {0, 0, 0, 0};
    double c = 0, r = 0;
    for (std::size_t i = 0; i < hyps.size(); ++i) {
        check(!refs[i].empty(), "[bleu] hypothesis {} has no reference", i);
        const Words& h = hyps[i];
        c += static_cast<double>(h.size());
        // The reference length closest to the hypothesis' (the shorter on a tie).
        std::size_t best = refs[i][0].size();
        for (const Words& ref : refs[i]) {
            const auto d = std::llabs(static_cast<long long>(ref.size()) - static_cast<long long>(h.size()));
            const auto bd = std::llabs(static_cast<long long>(best) - static_cast<long long>(h.size()));
            if (d < bd || (d == bd && ref.size() < best)) best = ref.size();
        }
        r += static_cast<double>(best);
        for (int n = 1; n <= 4; ++n) {
            std::unordered_map<std::string, int64_t> most;
            for (const Words& ref : refs[i])
                for (auto& [g, k] : counts(ref, n)) most[g] = std::max(most[g], k);
            for (auto& [g, k] : counts(h, n)) {
                auto it = most.find(g);
                match[n - 1] += static_cast<double>(std::min(k, it == most.end() ? 0 : it->second));
                total[n - 1] += static_cast<double>(k);
            }
        }
    }
    double log_p = 0;
    for (int n = 0; n < 4; ++n) {
        if (match[n] == 0 || total[n] == 0) return 0.0;
        log_p += std::log(match[n] / total[n]) / 4;
    }
    const double bp = c >= r ? 1.0 : std::exp(1 - r / c);
    return 100.0 * bp * std::exp(log_p);
}

double self_bleu(const std::vector<Words>& texts) {
    check(texts.size() >= 2, "[self-bleu] needs >= 2 texts, got {}", texts.size());
    double s = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::vector<Words> others;
        for (std::size_t j = 0; j < texts.size(); ++j)
            if (j != i) others.push_back(texts[j]);
        s += corpus_bleu({texts[i]}, {others});
    }
    return s / static_cast<double>(texts.size());
}

double distinct_n(const std::vector<Words>& texts, int n) {
    std::unordered_set<std::string> unique;
    double all = 0;
    for (const Words& w : texts)
        for (auto& g : ngrams(w, n)) {
            unique.insert(g);
            ++all;
        }
    return all == 0 ? 0.0 : static_cast<double>(unique.size()) / all;
}

double diversity(const std::vector<Words>& texts) {
    return distinct_n(texts, 2) * distinct_n(texts, 3) * distinct_n(texts, 4);
}

double memorisation(const std::vector<Words>& texts, const std::vector<Words>& training) {
    std::unordered_set<std::string> seen;
    for (const Words& w : training)
        for (auto& g : ngrams(w, 4)) seen.insert(g);
    double found = 0, all = 0;
    for (const Words& w : texts)
        for (auto& g : ngrams(w, 4)) {
            found += seen.count(g) ? 1 : 0;
            ++all;
        }
    return all == 0 ? 0.0 : found / all;
}

}  // namespace gradstack::vae
