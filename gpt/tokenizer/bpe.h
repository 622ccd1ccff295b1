// Byte-pair merging in id space: the merge ranks in a flat hash map keyed on a pair of token ids,
// and the merge loop of OpenAI's encoder.py, bpe(). Read next: tokenizer.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace gradstack::gpt {

class BpeMerges {
public:
    // Adds the rule "a, b -> merged" with priority `rank` (lower merges first). Adding a pair that
    // is already there replaces its rule, as encoder.py's dict(zip(merges, ranks)) does.
    void add(uint32_t a, uint32_t b, uint32_t rank, uint32_t merged);
    std::size_t size() const { return count_; }

    // Merges `symbols` (token ids, one per byte at the start) in place, exactly as encoder.py:
    // repeatedly take the adjacent pair of lowest rank and merge all its occurrences left to
    // right (non-overlapping), until no adjacent pair has a rule. Picks one of the two equivalent
    // implementations below by length.
    void apply(std::vector<uint32_t>& symbols) const {
        if (symbols.size() < kHeapFrom) {
            apply_quadratic(symbols);
        } else {
            apply_heap(symbols);
        }
    }
    // A scan for the best pair per merge: O(n) per merge, the fastest for words.
    void apply_quadratic(std::vector<uint32_t>& symbols) const;
    // A priority queue of pairs over a linked list: O(n log n) in all, for long runs without
    // spaces (CJK text, base64, long numbers), where the scan would be quadratic.
    void apply_heap(std::vector<uint32_t>& symbols) const;
    static constexpr std::size_t kHeapFrom = 64;

private:
    struct Rule {
        uint32_t rank;
        uint32_t merged;
    };
    static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are < 2^31, so no pair has this key
    static uint64_t key(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }
    std::size_t slot(uint64_t k) const {
        return static_cast<std::size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    const Rule* find(uint32_t a, uint32_t b) const;
    void grow();

    // Open addressing with linear probing; capacity is a power of two, at most half full.
    std::vector<uint64_t> keys_;
    std::vector<Rule> rules_;
    std::size_t count_ = 0;
    int shift_ = 64;
};

}  // namespace gradstack::gpt
