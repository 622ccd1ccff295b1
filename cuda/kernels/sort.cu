// Ordering and sampling kernels. topk and argsort sort (key, position) pairs: the key is the value
// turned into an unsigned integer whose order is the output order, so one comparison of the pair
// decides, and no two pairs are equal (positions differ): every correct sort gives the CPU's
// stable result. A row of up to kSortTile values is bitonic-sorted by one block in shared memory;
// a longer one (GPT-2's 50257 logits) in tiles that are then merged pairwise in global memory,
// each merged run cut to its k best. multinomial reads the CPU's Philox words for each (row,
// draw) and adds its cumulative sums in the CPU's order, so it draws the CPU's ids.
// Read next: ../sort.cpp.
#include <algorithm>
#include <limits>
#include <utility>

#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/philox.cuh"
#include "cuda/kernels/sort.h"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

constexpr int kSortThreads = 512;  // threads of a sorting block: 4 pairs each in a full tile
constexpr int32_t kPadPosition = std::numeric_limits<int32_t>::max();  // after every real one
constexpr uint64_t kPadKey = std::numeric_limits<uint64_t>::max();
constexpr int64_t kScanChunk = 2048;  // multinomial's cumulative sum: columns per shared chunk

// --- sort keys. A float's bits, read as an unsigned integer, order the positive floats; flipping
// every bit of a negative one (and only the sign bit of a positive one) orders them all:
//   -inf < ... < -denormal < +0 < denormal < ... < +inf < NaN (all NaNs given the top key).
// -0 is first made +0 (it equals +0, so the tie goes to the position), and for `largest` all
// bits are flipped, so that the smallest key is always the best. int64: flip the sign bit.
template <class T>
__device__ inline uint64_t order_key(T v, bool largest) {
    uint64_t key;
    if constexpr (std::is_same_v<T, float>) {
        uint32_t b = 0xFFFFFFFFu;
        if (!isnan(v)) {
            b = __float_as_uint(v == 0.0f ? 0.0f : v);
            b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
        }
        key = largest ? ~b : b;  // stays within the low 32 bits
    } else if constexpr (std::is_same_v<T, double>) {
        uint64_t b = kPadKey;
        if (!isnan(v)) {
            b = static_cast<uint64_t>(__double_as_longlong(v == 0.0 ? 0.0 : v));
            b = (b >> 63) ? ~b : (b | (uint64_t{1} << 63));
        }
        key = largest ? ~b : b;
    } else {
        const uint64_t b = static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
        key = largest ? ~b : b;
    }
    return key;
}

// The output order of (key, position) pairs: a strict total order.
__device__ inline bool before(uint64_t key_a, int32_t pos_a, uint64_t key_b, int32_t pos_b) {
    return key_a < key_b || (key_a == key_b && pos_a < pos_b);
}

// key[j], pos[j] for j < size (a power of two) = the pairs of positions first .. first + len - 1
// of a row, then padding pairs, which sort after every real pair (a real key may be the top one,
// but a real position is below kPadPosition).
template <class T>
__device__ void load_tile(const T* row, int64_t step, int64_t first, int64_t len, int size,
                          bool largest, uint64_t* key, int32_t* pos) {
    for (int j = threadIdx.x; j < size; j += blockDim.x) {
        if (j < len) {
            key[j] = order_key(row[(first + j) * step], largest);
            pos[j] = static_cast<int32_t>(first + j);
        } else {
            key[j] = kPadKey;
            pos[j] = kPadPosition;
        }
    }
}

// Bitonic sort of `size` (a power of two) pairs in shared memory, ascending. Stage (k, j) compares
// every element i whose bit j is clear with i + j: inside each block of k elements the pair is put
// in ascending order where bit k of i is clear and descending where it is set, which turns sorted
// runs of k / 2 into sorted runs of k. Each thread takes pairs t = threadIdx.x, + blockDim.x, ...
__device__ void bitonic_sort(uint64_t* key, int32_t* pos, int size) {
    __syncthreads();  // the tile is loaded
    for (int k = 2; k <= size; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int t = threadIdx.x; t < size / 2; t += blockDim.x) {
                const int i = t / j * 2 * j + t % j, l = i + j;  // bit j of i clear
                const bool ascending = (i & k) == 0;
                if (before(key[l], pos[l], key[i], pos[i]) == ascending) {
                    const uint64_t kk = key[i];
                    key[i] = key[l];
                    key[l] = kk;
                    const int32_t pp = pos[i];
                    pos[i] = pos[l];
                    pos[l] = pp;
                }
            }
            __syncthreads();
        }
    }
}

extern __shared__ uint64_t sort_shared[];  // size keys, then size int32 positions

// Rows of n <= kSortTile values: one block per row sorts the whole row and writes its k best.
template <class T>
__global__ void sort_rows_kernel(IterShape x_rows, Operand x, IterShape out_rows, Operand out,
                                 int64_t n, int64_t k, int size, bool largest) {
    uint64_t* key = sort_shared;
    int32_t* pos = reinterpret_cast<int32_t*>(sort_shared + size);
    for (int64_t r = blockIdx.x; r < x_rows.numel; r += gridDim.x) {
        load_tile(at<const T>(x, x_rows, r), x.step, 0, n, size, largest, key, pos);
        bitonic_sort(key, pos, size);
        int64_t* o = at<int64_t>(out, out_rows, r);
        for (int64_t j = threadIdx.x; j < k; j += blockDim.x) o[j * out.step] = pos[j];
        __syncthreads();  // the next row's load overwrites key and pos
    }
}

// --- longer rows. The scratch holds, per row, R = tiles * min(kSortTile, k) pairs (R is enough
// for every pass: a run never holds more pairs than the values it covers, nor more than k). In the
// pass of width w, run q covers positions [q w, min((q + 1) w, n)) and holds its min(k, covered)
// best pairs, sorted, from slot q * min(w, k) of its row.

__device__ inline int64_t run_length(int64_t q, int64_t w, int64_t n, int64_t k) {
    return min(k, min(w, n - q * w));
}

// Tile t of row r (block b = r * tiles + t): sorted in shared memory, its best min(k, len) pairs
// written as run t of width kSortTile.
template <class T>
__global__ void sort_tiles_kernel(IterShape x_rows, Operand x, int64_t n, int64_t k, int64_t tiles,
                                  int64_t R, bool largest, uint64_t* key_out, int32_t* pos_out) {
    uint64_t* key = sort_shared;
    int32_t* pos = reinterpret_cast<int32_t*>(sort_shared + kSortTile);
    const int64_t cap = min(kSortTile, k);
    for (int64_t b = blockIdx.x; b < x_rows.numel * tiles; b += gridDim.x) {
        const int64_t r = b / tiles, t = b % tiles;
        const int64_t first = t * kSortTile, len = min(kSortTile, n - first);
        load_tile(at<const T>(x, x_rows, r), x.step, first, len, static_cast<int>(kSortTile),
                  largest, key, pos);
        bitonic_sort(key, pos, static_cast<int>(kSortTile));
        const int64_t keep = min(cap, len), dst = r * R + t * cap;
        for (int64_t j = threadIdx.x; j < keep; j += blockDim.x) {
            key_out[dst + j] = key[j];
            pos_out[dst + j] = pos[j];
        }
        __syncthreads();
    }
}

// One merge pass: runs 2m and 2m + 1 of width w become run m of width 2w. A pair's place in the
// merged run is its place in its own run plus the number of pairs of the partner run before it
// (a binary search; no two pairs are equal, so this is well defined), and it is kept only when
// that place is below k. One thread per slot.
__global__ void merge_runs_kernel(int64_t rows, int64_t n, int64_t k, int64_t R, int64_t w,
                                  const uint64_t* key_in, const int32_t* pos_in, uint64_t* key_out,
                                  int32_t* pos_out) {
    const int64_t cap = min(w, k), cap2 = min(2 * w, k), runs = (n + w - 1) / w;
    for (int64_t e = thread_index(); e < rows * R; e += thread_count()) {
        const int64_t row = e / R, q = e % R / cap, i = e % R % cap;
        if (q >= runs || i >= run_length(q, w, n, k)) continue;
        const int64_t base = row * R;
        const uint64_t key = key_in[base + q * cap + i];
        const int32_t pos = pos_in[base + q * cap + i];
        const int64_t p = q ^ 1;  // the partner run
        const int64_t plen = p < runs ? run_length(p, w, n, k) : 0;
        const uint64_t* pkey = key_in + base + p * cap;
        const int32_t* ppos = pos_in + base + p * cap;
        int64_t lo = 0, hi = plen;  // count the partner's pairs before (key, pos)
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (before(pkey[mid], ppos[mid], key, pos))
                lo = mid + 1;
            else
                hi = mid;
        }
        const int64_t rank = i + lo;
        if (rank < k) {
            key_out[base + (q >> 1) * cap2 + rank] = key;
            pos_out[base + (q >> 1) * cap2 + rank] = pos;
        }
    }
}

// The final run (slot 0 of each row) to the int64 output.
__global__ void write_positions_kernel(IterShape out_rows, Operand out, int64_t k, int64_t R,
                                       const int32_t* pos) {
    for (int64_t e = thread_index(); e < out_rows.numel * k; e += thread_count()) {
        const int64_t r = e / k, j = e % k;
        at<int64_t>(out, out_rows, r)[j * out.step] = pos[r * R + j];
    }
}

// --- multinomial.

// tensor/random.h's uniform_double: 53 random bits (21 of hi above 32 of lo, less lo's low 11),
// scaled into [0, 1), exactly.
__device__ inline double uniform_double(uint32_t hi, uint32_t lo) {
    return static_cast<double>((static_cast<uint64_t>(hi) << 21) | (lo >> 11)) * 0x1p-53;
}

// One block per row. The checks are a parallel min / sum / max over the row; the cumulative sum
// must round exactly as the CPU's serial loop does, so thread 0 adds each chunk of the row in
// column order (float64 addition is not associative: a parallel scan would round differently and
// could move a sample across a boundary). About a quarter of a millisecond for 50257 columns.
template <class T>
__global__ void multinomial_check_kernel(IterShape rows, Operand probs, int64_t C, int64_t S,
                                         bool replacement, bool scan, double* cum,
                                         MultinomialRow* stats, int64_t* first_bad) {
    __shared__ double chunk[kScanChunk];
    __shared__ int64_t reduce[32];
    for (int64_t r = blockIdx.x; r < rows.numel; r += gridDim.x) {
        const T* w = at<const T>(probs, rows, r);
        int64_t bad = C, nonzero = 0, last = -1;  // bad = C: none yet
        double total = 0;                         // thread 0's running sum
        for (int64_t c0 = 0; c0 < C; c0 += kScanChunk) {
            const int64_t len = min(kScanChunk, C - c0);
            for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
                const T v = w[(c0 + j) * probs.step];
                if (!(v >= 0) || isinf(v)) bad = min(bad, c0 + j);  // negative, NaN or inf
                if (v > 0) {
                    ++nonzero;
                    last = c0 + j;
                }
                if (scan) chunk[j] = static_cast<double>(v);
            }
            if (!scan) continue;
            __syncthreads();
            if (threadIdx.x == 0) {
                for (int64_t j = 0; j < len; ++j) {
                    total += chunk[j];
                    chunk[j] = total;
                }
            }
            __syncthreads();
            for (int64_t j = threadIdx.x; j < len; j += blockDim.x) cum[r * C + c0 + j] = chunk[j];
            __syncthreads();  // the next chunk overwrites `chunk`
        }
        bad = -block_max(-bad, reduce, -C);  // the smallest bad column: minus the largest negative
        nonzero = block_sum(nonzero, reduce);
        last = block_max(last, reduce, int64_t{-1});
        if (threadIdx.x == 0) {
            const bool has_bad = bad < C;
            stats[r] = {has_bad ? bad : -1, nonzero, last < 0 ? 0 : last, total};
            // No positive weight is the CPU's "sums to 0": a sum of finite non-negative floats is
            // positive exactly when one of them is.
            if (has_bad || nonzero == 0 || (!replacement && nonzero < S))
                atomicMin(reinterpret_cast<unsigned long long*>(first_bad),
                          static_cast<unsigned long long>(r));
        }
    }
}

// One thread per draw: the CPU's std::upper_bound over the same cumulative sums.
__global__ void multinomial_inverse_cdf_kernel(int64_t N, int64_t C, int64_t S, uint64_t seed,
                                               uint64_t base, const double* cum,
                                               const MultinomialRow* stats, int64_t* out) {
    for (int64_t e = thread_index(); e < N * S; e += thread_count()) {
        const int64_t r = e / S;
        const PhiloxBlock b = philox_block(seed, base + static_cast<uint64_t>(e));  // r S + s
        const double target = uniform_double(b.w[0], b.w[1]) * stats[r].total;
        const double* row = cum + r * C;
        int64_t lo = 0, hi = C;  // the first c with row[c] > target
        while (lo < hi) {
            const int64_t mid = lo + (hi - lo) / 2;
            if (row[mid] > target)
                hi = mid;
            else
                lo = mid + 1;
        }
        out[e] = min(lo, stats[r].last);  // u * total may round up to total
    }
}

// One thread per (row, column): the exponential clock of the category, -log(1 - u) / w.
template <class T>
__global__ void multinomial_keys_kernel(IterShape rows, Operand probs, int64_t C, uint64_t seed,
                                        uint64_t base, double* keys) {
    for (int64_t e = thread_index(); e < rows.numel * C; e += thread_count()) {
        const int64_t r = e / C, c = e % C;
        const T v = at<const T>(probs, rows, r)[c * probs.step];
        double key = std::numeric_limits<double>::quiet_NaN();  // never drawn: sorts last
        if (v > 0) {
            const PhiloxBlock b = philox_block(seed, base + static_cast<uint64_t>(e));  // r C + c
            key = -log1p(-uniform_double(b.w[0], b.w[1])) / static_cast<double>(v);
        }
        keys[e] = key;
    }
}

int64_t next_power_of_two(int64_t n) {
    int64_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

// Pairs per row of the long-row scratch (see above).
int64_t row_capacity(int64_t n, int64_t k) {
    return (n + kSortTile - 1) / kSortTile * std::min(kSortTile, k);
}

}  // namespace

int64_t topk_scratch_words(int64_t rows, int64_t n, int64_t k) {
    if (n <= kSortTile || k == 0) return 0;
    // Two buffers of rows * R pairs: a uint64 key (one word) and an int32 position (half a word).
    return 3 * rows * row_capacity(n, k);
}

void launch_topk(const IterShape& x_rows, const Operand& x, const IterShape& out_rows,
                 const Operand& out, int64_t n, int64_t k, bool largest, void* scratch,
                 cudaStream_t stream) {
    const int64_t rows = x_rows.numel;
    if (rows == 0 || k == 0) return;
    const size_t pair_bytes = sizeof(uint64_t) + sizeof(int32_t);
    visit_numeric_type(x.type, [&]<class T>() {
        if (n <= kSortTile) {
            const int size = static_cast<int>(next_power_of_two(n));
            const int threads = std::clamp(size / 2, 32, kSortThreads);
            sort_rows_kernel<T><<<blocks_for(rows, 1), threads, size * pair_bytes, stream>>>(
                x_rows, x, out_rows, out, n, k, size, largest);
            return;
        }
        const int64_t R = row_capacity(n, k), tiles = (n + kSortTile - 1) / kSortTile;
        uint64_t* key_a = static_cast<uint64_t*>(scratch);
        uint64_t* key_b = key_a + rows * R;
        int32_t* pos_a = reinterpret_cast<int32_t*>(key_b + rows * R);
        int32_t* pos_b = pos_a + rows * R;
        sort_tiles_kernel<T>
            <<<blocks_for(rows * tiles, 1), kSortThreads, kSortTile * pair_bytes, stream>>>(
                x_rows, x, n, k, tiles, R, largest, key_a, pos_a);
        for (int64_t w = kSortTile; w < n; w *= 2) {
            merge_runs_kernel<<<blocks_for(rows * R), kThreads, 0, stream>>>(
                rows, n, k, R, w, key_a, pos_a, key_b, pos_b);
            std::swap(key_a, key_b);
            std::swap(pos_a, pos_b);
        }
        write_positions_kernel<<<blocks_for(rows * k), kThreads, 0, stream>>>(out_rows, out, k, R,
                                                                              pos_a);
    });
}

void launch_multinomial_check(const IterShape& rows, const Operand& probs, int64_t C, int64_t S,
                              bool replacement, bool scan, double* cum, MultinomialRow* stats,
                              int64_t* first_bad, cudaStream_t stream) {
    if (rows.numel == 0) return;
    visit_floating_type(probs.type, [&]<class T>() {
        multinomial_check_kernel<T><<<blocks_for(rows.numel, 1), kThreads, 0, stream>>>(
            rows, probs, C, S, replacement, scan, cum, stats, first_bad);
    });
}

void launch_multinomial_inverse_cdf(int64_t N, int64_t C, int64_t S, uint64_t seed, uint64_t base,
                                    const double* cum, const MultinomialRow* stats, int64_t* out,
                                    cudaStream_t stream) {
    if (N * S == 0) return;
    multinomial_inverse_cdf_kernel<<<blocks_for(N * S), kThreads, 0, stream>>>(N, C, S, seed, base,
                                                                               cum, stats, out);
}

void launch_multinomial_keys(const IterShape& rows, const Operand& probs, int64_t C, uint64_t seed,
                             uint64_t base, double* keys, cudaStream_t stream) {
    if (rows.numel * C == 0) return;
    visit_floating_type(probs.type, [&]<class T>() {
        multinomial_keys_kernel<T>
            <<<blocks_for(rows.numel * C), kThreads, 0, stream>>>(rows, probs, C, seed, base, keys);
    });
}

}  // namespace gradstack::cuda
