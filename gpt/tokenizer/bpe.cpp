// The BPE merge loop. encoder.py's bpe() on a word of n symbols: find the adjacent pair with the
// lowest rank, rebuild the word merging every occurrence of that pair from left to right, repeat.
// apply_quadratic is that, on a vector; apply_heap reaches the same result with a heap of pairs.
#include "gpt/tokenizer/bpe.h"

#include <algorithm>
#include <bit>
#include <queue>

namespace gradstack::gpt {

void BpeMerges::add(uint32_t a, uint32_t b, uint32_t rank, uint32_t merged) {
    if (2 * (count_ + 1) > keys_.size()) grow();
    const uint64_t k = key(a, b);
    const std::size_t mask = keys_.size() - 1;
    std::size_t i = slot(k);
    while (keys_[i] != kEmpty && keys_[i] != k) i = (i + 1) & mask;
    if (keys_[i] == kEmpty) ++count_;
    keys_[i] = k;
    rules_[i] = Rule{rank, merged};
}

void BpeMerges::grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<Rule> old_rules = std::move(rules_);
    const std::size_t capacity = std::max<std::size_t>(64, 2 * old_keys.size());
    keys_.assign(capacity, kEmpty);
    rules_.assign(capacity, Rule{0, 0});
    shift_ = 64 - std::countr_zero(capacity);
    const std::size_t mask = capacity - 1;
    for (std::size_t j = 0; j < old_keys.size(); ++j) {
        if (old_keys[j] == kEmpty) continue;
        std::size_t i = slot(old_keys[j]);
        while (keys_[i] != kEmpty) i = (i + 1) & mask;
        keys_[i] = old_keys[j];
        rules_[i] = old_rules[j];
    }
}

const BpeMerges::Rule* BpeMerges::find(uint32_t a, uint32_t b) const {
    if (count_ == 0) return nullptr;
    const uint64_t k = key(a, b);
    const std::size_t mask = keys_.size() - 1;
    for (std::size_t i = slot(k);; i = (i + 1) & mask) {
        if (keys_[i] == k) return &rules_[i];
        if (keys_[i] == kEmpty) return nullptr;
    }
}

void BpeMerges::apply_quadratic(std::vector<uint32_t>& w) const {
    while (w.size() > 1) {
        // The pair of lowest rank. Ranks are unique per pair, so there are no ties.
        const Rule* best = nullptr;
        uint32_t a = 0, b = 0;
        for (std::size_t i = 0; i + 1 < w.size(); ++i) {
            const Rule* r = find(w[i], w[i + 1]);
            if (r && (!best || r->rank < best->rank)) best = r, a = w[i], b = w[i + 1];
        }
        if (!best) break;
        // Merge every occurrence from left to right; after a merge the scan resumes behind it,
        // so "a a a" with the rule (a, a) becomes "aa a".
        std::size_t out = 0;
        for (std::size_t i = 0; i < w.size();) {
            if (i + 1 < w.size() && w[i] == a && w[i + 1] == b) {
                w[out++] = best->merged;
                i += 2;
            } else {
                w[out++] = w[i++];
            }
        }
        w.resize(out);
    }
}

// The heap holds (rank, position) of adjacent pairs; position is the index of the pair's left
// symbol in the original word, and merged symbols keep their left index, so positions stay in
// word order. Entries go stale when a neighbour merges; they are checked when popped.
//
// To match encoder.py, all occurrences of the best pair are merged before any pair that those
// merges create: a new pair can have a lower rank than the current one (rules (a b) at 5 and
// (ab a) at 3 turn "a b a b" into "ab ab" in encoder.py, not "aba b"). So the loop pops every
// entry of the current rank first, then merges them in word order. A merge never creates
// another pair of the same rank: the merged symbol differs from both of its parts.
void BpeMerges::apply_heap(std::vector<uint32_t>& w) const {
    const std::size_t n = w.size();
    if (n < 2) return;
    constexpr uint32_t kGone = ~uint32_t{0};
    std::vector<std::size_t> prev(n), next(n);
    for (std::size_t i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1;  // prev[0] wraps: none

    using Entry = std::pair<uint32_t, std::size_t>;  // (rank, position)
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
    auto push_pair = [&](std::size_t i) {
        if (i >= n || next[i] >= n) return;
        if (const Rule* r = find(w[i], w[next[i]])) heap.emplace(r->rank, i);
    };
    for (std::size_t i = 0; i + 1 < n; ++i) push_pair(i);

    std::vector<std::size_t> positions;
    while (!heap.empty()) {
        const uint32_t rank = heap.top().first;
        positions.clear();
        while (!heap.empty() && heap.top().first == rank) {
            positions.push_back(heap.top().second);
            heap.pop();
        }
        for (const std::size_t i : positions) {  // ascending: the heap breaks ties by position
            if (w[i] == kGone || next[i] >= n) continue;
            const std::size_t j = next[i];
            const Rule* r = find(w[i], w[j]);
            if (!r || r->rank != rank) continue;  // stale: a neighbour merged since
            w[i] = r->merged;
            w[j] = kGone;
            next[i] = next[j];
            if (next[j] < n) prev[next[j]] = i;
            if (prev[i] < n) push_pair(prev[i]);
            push_pair(i);
        }
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (w[i] != kGone) w[out++] = w[i];
    }
    w.resize(out);
}

}  // namespace gradstack::gpt
