// Launchers of the ordering and sampling kernels (sort.cu), called from ../sort.cpp: topk (argsort
// is its k = n case) and the passes of multinomial, which draws the CPU's samples for the same
// Generator state.
// Read next: sort.cu.
#pragma once

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// Rows of at most this many values are sorted by one block in shared memory; longer rows are
// sorted in tiles of this size, which are then merged in global memory.
constexpr int64_t kSortTile = 4096;

// Device scratch, in int64 words, that launch_topk needs for `rows` rows of n values keeping the
// k best (0 when n <= kSortTile: those rows never leave shared memory).
int64_t topk_scratch_words(int64_t rows, int64_t n, int64_t k);

// For every row: element j < k of the output row = the position of the j-th best of the row's n
// values, best first (largest first when `largest`, else smallest first), ties to the lower
// position, NaN larger than any number. x_rows / x: the rows of x as row_iteration makes them
// (element j of a row at j * x.step); out_rows / out: the same for the int64 output, whose rows
// are x's in the same C order. x is float32, float64 or int64; n < 2^31 - 1; `scratch` holds
// topk_scratch_words(rows, n, k) words.
void launch_topk(const IterShape& x_rows, const Operand& x, const IterShape& out_rows,
                 const Operand& out, int64_t n, int64_t k, bool largest, void* scratch,
                 cudaStream_t stream);

// --- multinomial over probs (N, C), S draws per row (see tensor/cpu/sort.cpp for the math).

// What the first pass finds in a row of probs (copied back to the host only for a bad row).
struct MultinomialRow {
    int64_t bad_column;  // the first column that is negative, NaN or inf; -1 if none
    int64_t nonzero;     // the number of columns with weight > 0
    int64_t last;        // the last column with weight > 0 (0 if none)
    double total;        // w_0 + ... + w_{C-1} in float64, in column order (only when scanning)
};

// Pass 1, one block per row (rows / probs from row_iteration along dim 1): stats[r] for every row;
// when `scan`, also cum[r * C + c] = w_0 + ... + w_c, added one by one in column order in float64
// exactly as the CPU adds them. first_bad (one word, -1 before the call) = the first row that fails
// the CPU's checks: a bad column, no positive weight, or (without replacement) fewer than S.
void launch_multinomial_check(const IterShape& rows, const Operand& probs, int64_t C, int64_t S,
                              bool replacement, bool scan, double* cum, MultinomialRow* stats,
                              int64_t* first_bad, cudaStream_t stream);

// With replacement (or one draw): out[r * S + s] = the first c with cum[r * C + c] > u * total,
// at most stats[r].last, where u = uniform_double(words 0 and 1 of Philox block base + r S + s).
void launch_multinomial_inverse_cdf(int64_t N, int64_t C, int64_t S, uint64_t seed, uint64_t base,
                                    const double* cum, const MultinomialRow* stats, int64_t* out,
                                    cudaStream_t stream);

// Without replacement: keys[r * C + c] = -log1p(-u) / w_c, u from Philox block base + r C + c, and
// NaN where w_c = 0 (NaN sorts after every key). The draws are then the S smallest keys in
// increasing order: launch_topk over the keys with largest = false.
void launch_multinomial_keys(const IterShape& rows, const Operand& probs, int64_t C, uint64_t seed,
                             uint64_t base, double* keys, cudaStream_t stream);

}  // namespace gradstack::cuda
