// CPU fused causal attention (kernels::attention_forward / attention_backward, kernels/nn.h):
// flash attention's algebra on a CPU. Each (batch, head) packs its keys and values transposed,
// (hs, S), into buffers that stay in L2; its query rows then run 4 at a time: the scores of the
// keys they see, softmax and dropout in a row buffer, then P' v. No (B, nh, T, S) tensor exists,
// and the backward recomputes each row from q, k and the saved log-sum-exp.
// Read next: autograd/ops/nn.cpp (the differentiable op), nn/layers/attention.cpp (its user).
// Read next, the reference twin: reference/attention.cpp (attention forward and backward), the same
// math as plain float64 loops; GRADSTACK_KERNELS=reference runs it instead (tensor/dispatch.h).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "tensor/cpu/philox.h"
#include "tensor/cpu/row_math.h"
#include "tensor/cpu/simd_tiles.h"
#include "tensor/kernels/nn.h"
#include "tensor/view.h"

namespace gradstack::cpu {
namespace {

// A tile is kRows query rows by kCols keys. Its kRows x kCols accumulators live in vector
// registers while the head dim runs, so every key (or value) load feeds kRows multiply-adds, and
// every loop runs over keys, contiguous in the packed buffers: it vectorises for any head size
// (8 in the Tiny Shakespeare recipe, 64 in GPT-2).
constexpr int64_t kRows = 4;
constexpr int64_t kCols = 16;

int64_t round_up(int64_t n, int64_t m) {
    return (n + m - 1) / m * m;
}

// A 4-d tensor read through its strides: row (b, h, i) starts at row(b, h, i), element d of it
// is at d * s[3]. Works for permuted views of c_attn's output and for slices of a KV cache.
template <class T>
struct Strided4 {
    const T* p = nullptr;
    int64_t s[4] = {0, 0, 0, 0};
    Strided4() = default;
    explicit Strided4(const Tensor& t) : p(t.data<T>()) {
        for (int d = 0; d < 4; ++d) s[d] = t.strides()[d];
    }
    const T* row(int64_t b, int64_t h, int64_t i) const {
        return p + b * s[0] + h * s[1] + i * s[2];
    }
};

// Everything the tiles read, fixed for one call.
template <class T>
struct Problem {
    int64_t B, H, Tq, S, hs;  // Tq: the query count T (T is the element type)
    int64_t ld;               // S rounded up to kCols: the row length of the packed and row buffers
    Strided4<T> q, k, v, gout, mask;
    bool masked;
    T root;  // sqrt(hs): the scores are divided by it, as the composition does
    bool dropout;
    uint64_t seed, counter;
    uint32_t threshold;
    T keep_scale;  // 1 / (1 - p)
    // The keys query row i reads: all of them with a mask (the formula's lowest + mask can still
    // matter), else only the visible ones (the others' exp(lowest - max) is exactly 0).
    int64_t visible(int64_t i) const { return S - Tq + i + 1; }
    int64_t columns(int64_t i) const { return masked ? S : visible(i); }
};

// Per-thread scratch.
template <class T>
struct Workspace {
    std::vector<T> kt, vt;    // the head's keys and values, packed (hs, ld)
    std::vector<T> dkt, dvt;  // backward: the head's dk and dv, accumulated transposed (hs, ld)
    std::vector<T> a, g, c;   // (kRows, hs): query rows, output-gradient rows, a tile's result
    std::vector<T> s, dp;     // (kRows, ld): scores -> probabilities; dP' -> dS
    std::vector<T> f, m;      // (ld): dropout factors; a gathered mask row
    void init(const Problem<T>& pr, bool backward) {
        const size_t packed = pr.hs * pr.ld, tile = kRows * pr.hs, rows = kRows * pr.ld;
        kt.resize(packed), vt.resize(packed), a.resize(tile), g.resize(tile), c.resize(tile);
        s.resize(rows), dp.resize(rows), f.resize(pr.ld), m.resize(pr.ld);
        if (backward) dkt.resize(packed), dvt.resize(packed);
    }
};

// xt[d * ld + j] = x[b, h, j, d] for j < S, zero for S <= j < ld. Keys go kCols at a time, so
// the kCols source rows stay in L1 while every d writes one contiguous run. Float rows with
// contiguous dims go 8 keys x 8 dims per register transpose: a decoding step packs every head's
// whole cache for its one query row, and element by element that was 3x the time of the
// attention arithmetic itself (a Zen 3 EPYC, batch 8 at 96 positions).
template <class T>
void pack_transposed(const Problem<T>& pr, const Strided4<T>& x, int64_t b, int64_t h, T* xt) {
    const int64_t step = x.s[3];
    int64_t j0 = 0;
#if defined(GRADSTACK_SIMD_TILES)
    if constexpr (std::is_same_v<T, float>) {
        if (step == 1) {
            for (; j0 + 8 <= pr.S; j0 += 8) {
                const float* src[8];
                for (int r = 0; r < 8; ++r) src[r] = x.row(b, h, j0 + r);
                int64_t d = 0;
                for (; d + 8 <= pr.hs; d += 8) {
                    __m256 r8[8];
                    for (int r = 0; r < 8; ++r) r8[r] = _mm256_loadu_ps(src[r] + d);
                    simd::transpose8x8(r8);
                    for (int e = 0; e < 8; ++e) _mm256_storeu_ps(xt + (d + e) * pr.ld + j0, r8[e]);
                }
                for (; d < pr.hs; ++d)
                    for (int r = 0; r < 8; ++r) xt[d * pr.ld + j0 + r] = src[r][d];
            }
        }
    }
#endif
    for (; j0 < pr.S; j0 += kCols) {
        const int64_t j1 = std::min(j0 + kCols, pr.S);
        for (int64_t d = 0; d < pr.hs; ++d) {
            T* dst = xt + d * pr.ld;
            for (int64_t j = j0; j < j1; ++j) dst[j] = x.row(b, h, j)[d * step];
        }
    }
    for (int64_t d = 0; d < pr.hs; ++d)
        std::fill(xt + d * pr.ld + pr.S, xt + (d + 1) * pr.ld, T(0));
}

// a[r * hs + d] = x[b, h, i0 + r, d] for r < R; rows R..kRows-1 are zero.
template <class T>
void gather_rows(const Problem<T>& pr, const Strided4<T>& x, int64_t b, int64_t h, int64_t i0,
                 int64_t R, T* a) {
    for (int64_t r = 0; r < kRows; ++r)
        for (int64_t d = 0; d < pr.hs; ++d)
            a[r * pr.hs + d] = r < R ? x.row(b, h, i0 + r)[d * x.s[3]] : T(0);
}

// c[r * ld + j] = sum_d a[r * hs + d] xt[d * ld + j] for r < R, j < round_up(n, kCols): a tile
// of rows (R, hs) times a packed (hs, ld) block (scores from q and k^T, dP' from dout and v^T).
template <int R, class T>
void tile_times_rows(const T* a, const T* xt, int64_t hs, int64_t ld, int64_t n, T* c) {
    for (int64_t j0 = 0; j0 < n; j0 += kCols) {
        T acc[R][kCols] = {};
        for (int64_t d = 0; d < hs; ++d) {
            const T* x = xt + d * ld + j0;
            for (int64_t r = 0; r < R; ++r) {
                const T ar = a[r * hs + d];
#pragma omp simd
                for (int64_t l = 0; l < kCols; ++l) acc[r][l] += ar * x[l];
            }
        }
        for (int64_t r = 0; r < R; ++r)
            for (int64_t l = 0; l < kCols; ++l) c[r * ld + j0 + l] = acc[r][l];
    }
}

template <int R>
struct TimesRows {
    template <class... Args>
    static void run(Args... args) { tile_times_rows<R>(args...); }
};

// The tile's R <= kRows real rows only (a decoding step has one query row, the last tile of a
// sequence may have fewer than kRows), each compiled with its accumulators in registers
// (with_rows, simd_tiles.h); each row's sums are the same whatever R is. Rows r >= R of c are
// left as they are.
template <class T>
void tile_times(const T* a, const T* xt, int64_t hs, int64_t ld, int64_t n, int64_t R, T* c) {
    with_rows<kRows, TimesRows>(static_cast<int>(R), a, xt, hs, ld, n, c);
}

// Head dims are taken kDims at a time by the two kernels below, so that each load of the row
// weights p serves kDims head dims (at head size 64 these loops, not the exps, are the cost).
constexpr int64_t kDims = 4;

// Dims d0 .. d0 + D - 1 of tile_dot, rows r < R.
template <int64_t D, int R, class T>
void tile_dot_dims(const T* p, const T* xt, int64_t hs, int64_t ld, int64_t nr, int64_t d0, T* c) {
    constexpr int64_t kL = 8;  // lanes per accumulator; nr is a multiple of kCols, so of kL
    T acc[R][D][kL] = {};
    for (int64_t j0 = 0; j0 < nr; j0 += kL)
        for (int64_t r = 0; r < R; ++r)
            for (int64_t e = 0; e < D; ++e) {
                const T* x = xt + (d0 + e) * ld + j0;
                const T* pr = p + r * ld + j0;
#pragma omp simd
                for (int64_t l = 0; l < kL; ++l) acc[r][e][l] += pr[l] * x[l];
            }
    for (int64_t r = 0; r < R; ++r)
        for (int64_t e = 0; e < D; ++e) {
            T sum = 0;
            for (int64_t l = 0; l < kL; ++l) sum += acc[r][e][l];
            c[r * hs + d0 + e] = sum;
        }
}

// c[r * hs + d] = sum_{j < n} p[r * ld + j] xt[d * ld + j] for r < R: an (R, n) block of row
// weights times the packed block transposed (out = P' v, dq = dS k). p must be zero from n up to
// round_up(n, kCols). Rows r >= R of c are left as they are.
template <int R, class T>
void tile_dot_rows(const T* p, const T* xt, int64_t hs, int64_t ld, int64_t n, T* c) {
    const int64_t nr = round_up(n, kCols);
    int64_t d = 0;
    for (; d + kDims <= hs; d += kDims) tile_dot_dims<kDims, R>(p, xt, hs, ld, nr, d, c);
    for (; d < hs; ++d) tile_dot_dims<1, R>(p, xt, hs, ld, nr, d, c);
}

template <int R>
struct DotRows {
    template <class... Args>
    static void run(Args... args) { tile_dot_rows<R>(args...); }
};

template <class T>
void tile_dot(const T* p, const T* xt, int64_t hs, int64_t ld, int64_t n, int64_t R, T* c) {
    with_rows<kRows, DotRows>(static_cast<int>(R), p, xt, hs, ld, n, c);
}

// Dims d0 .. d0 + D - 1 of tile_accumulate.
template <int64_t D, class T>
void tile_accumulate_dims(T* xt, const T* a, const T* p, int64_t hs, int64_t ld, int64_t nr,
                          int64_t d0) {
    static_assert(kRows == 4, "tile_accumulate is written out for 4 rows");
    const T *p0 = p, *p1 = p + ld, *p2 = p + 2 * ld, *p3 = p + 3 * ld;
    T a0[D], a1[D], a2[D], a3[D];
    for (int64_t e = 0; e < D; ++e)
        a0[e] = a[d0 + e], a1[e] = a[hs + d0 + e], a2[e] = a[2 * hs + d0 + e],
        a3[e] = a[3 * hs + d0 + e];
#pragma omp simd
    for (int64_t j = 0; j < nr; ++j) {
        const T q0 = p0[j], q1 = p1[j], q2 = p2[j], q3 = p3[j];
        for (int64_t e = 0; e < D; ++e)
            xt[(d0 + e) * ld + j] += a0[e] * q0 + a1[e] * q1 + a2[e] * q2 + a3[e] * q3;
    }
}

// xt[d * ld + j] += sum_r a[r * hs + d] p[r * ld + j] for j < round_up(n, kCols): the outer
// products that accumulate a head's dk (from q and dS) and dv (from dout and P').
template <class T>
void tile_accumulate(T* xt, const T* a, const T* p, int64_t hs, int64_t ld, int64_t n) {
    const int64_t nr = round_up(n, kCols);
    int64_t d = 0;
    for (; d + kDims <= hs; d += kDims) tile_accumulate_dims<kDims>(xt, a, p, hs, ld, nr, d);
    for (; d < hs; ++d) tile_accumulate_dims<1>(xt, a, p, hs, ld, nr, d);
}

// f[j] = keep / (1 - p) for j < n: elements e0 .. e0 + n - 1 of the (B, nh, T, S) dropout mask,
// element e reading word e % 4 of Philox block counter + e / 4, as cpu/dropout.cpp does. The
// words are tested a word index at a time (vectorised), then interleaved into element order with
// scalar stores straight into f: staging them in a buffer that is then read with vector loads
// stalls on store forwarding and cost as much as the Philox rounds.
template <class T>
void keep_factors(const Problem<T>& pr, uint64_t e0, int64_t n, T* f) {
    if (n == 0) return;
    const uint64_t first = e0 / 4, last = (e0 + n - 1) / 4;
    alignas(64) uint32_t w[4][kPhiloxLanes];
    alignas(64) T by_word[4][kPhiloxLanes];
    for (uint64_t blk = first; blk <= last; blk += kPhiloxLanes) {
        philox_lanes(pr.seed, pr.counter + blk, w);
        for (int64_t k = 0; k < 4; ++k)
#pragma omp simd
            for (int64_t l = 0; l < kPhiloxLanes; ++l)
                by_word[k][l] = (w[k][l] >> 8) >= pr.threshold ? pr.keep_scale : T(0);
        // These 16 blocks hold elements 4 blk .. 4 blk + 63, i.e. f[start ..].
        const int64_t start = static_cast<int64_t>(4 * blk) - static_cast<int64_t>(e0);
        if (start >= 0 && start + 4 * kPhiloxLanes <= n) {
            for (int64_t l = 0; l < kPhiloxLanes; ++l)
                for (int64_t k = 0; k < 4; ++k) f[start + 4 * l + k] = by_word[k][l];
        } else {  // the row's first or last group: only part of it is in the row
            for (int64_t l = 0; l < kPhiloxLanes; ++l)
                for (int64_t k = 0; k < 4; ++k) {
                    const int64_t j = start + 4 * l + k;
                    if (j >= 0 && j < n) f[j] = by_word[k][l];
                }
        }
    }
}

// Turns query row i's dot products s[0..) into its softmax probabilities P (before dropout), in
// place, and zeroes s from the row's column count up to ld; returns that count. The forward
// computes ls = log(sum_j exp(s_j - max)); the backward passes the saved one (have_ls), so both
// passes compute the same P bit for bit.
template <class T>
int64_t row_probabilities(const Problem<T>& pr, int64_t b, int64_t h, int64_t i, T* s, T* mbuf,
                          T& ls, bool have_ls) {
    const int64_t visible = pr.visible(i), n = pr.columns(i);
    if (pr.masked) {
        const T* mr = pr.mask.row(b, h, i);
        if (pr.mask.s[3] != 1) {
            for (int64_t j = 0; j < pr.S; ++j) mbuf[j] = mr[j * pr.mask.s[3]];
            mr = mbuf;
        }
        // Hugging Face: where(causal, score, lowest) + mask. lowest + lowest is -inf, so a key
        // that is both in the future and padding drops out of even a fully padded row.
        const T lowest = std::numeric_limits<T>::lowest();
#pragma omp simd
        for (int64_t j = 0; j < visible; ++j) s[j] = s[j] / pr.root + mr[j];
#pragma omp simd
        for (int64_t j = visible; j < pr.S; ++j) s[j] = lowest + mr[j];
    } else {
#pragma omp simd
        for (int64_t j = 0; j < visible; ++j) s[j] = s[j] / pr.root;
    }
    const T mx = row_max(s, n);
    for (int64_t j = 0; j < n; ++j) s[j] = exp_of(s[j] - mx);
    if (!have_ls) ls = static_cast<T>(std::log(row_sum(s, n)));
    const T inv = static_cast<T>(std::exp(-static_cast<double>(ls)));
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) s[j] *= inv;
    std::fill(s + n, s + pr.ld, T(0));
    return n;
}

// Rows i0 .. i0 + R - 1 of head (b, h): out and lse.
template <class T>
void forward_tile(const Problem<T>& pr, Workspace<T>& w, const T* kt, const T* vt, int64_t b,
                  int64_t h, int64_t i0, int64_t R, T* out, T* lse) {
    const int64_t hs = pr.hs, ld = pr.ld, n_tile = pr.columns(i0 + R - 1);
    gather_rows(pr, pr.q, b, h, i0, R, w.a.data());
    tile_times(w.a.data(), kt, hs, ld, n_tile, R, w.s.data());
    for (int64_t r = 0; r < kRows; ++r) {
        T* sr = w.s.data() + r * ld;
        if (r >= R) {
            std::fill(sr, sr + ld, T(0));
            continue;
        }
        const int64_t i = i0 + r, row = (b * pr.H + h) * pr.Tq + i;
        T ls = 0;
        const int64_t n = row_probabilities(pr, b, h, i, sr, w.m.data(), ls, false);
        lse[row] = ls;
        if (pr.dropout) {
            keep_factors(pr, static_cast<uint64_t>(row * pr.S), n, w.f.data());
            // A product, not a select: like dropout, a dropped NaN stays NaN.
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) sr[j] *= w.f[j];
        }
    }
    tile_dot(w.s.data(), vt, hs, ld, n_tile, R, w.c.data());
    for (int64_t r = 0; r < R; ++r)
        std::copy_n(w.c.data() + r * hs, hs, out + ((b * pr.H + h) * pr.Tq + i0 + r) * hs);
}

// The same rows backward. With P recomputed and f_j = keep_j / (1 - p):
//   dP'_j = dout_i . v_j                 (the gradient of P' = P f)
//   dP_j  = f_j dP'_j
//   D     = sum_j P_j dP_j = dout_i . out_i
//   dS_j  = P_j (dP_j - D) / sqrt(hs)    (softmax backward, then the division; zero for keys the
//                                         query does not see: their score is lowest + mask)
//   dq_i  = sum_j dS_j k_j,   dk_j += dS_j q_i,   dv_j += P'_j dout_i
template <class T>
void backward_tile(const Problem<T>& pr, Workspace<T>& w, const T* kt, const T* vt, int64_t b,
                   int64_t h, int64_t i0, int64_t R, const T* lse, T* dq, bool need_k,
                   bool need_v) {
    const int64_t hs = pr.hs, ld = pr.ld, n_tile = pr.columns(i0 + R - 1);
    gather_rows(pr, pr.q, b, h, i0, R, w.a.data());
    gather_rows(pr, pr.gout, b, h, i0, R, w.g.data());
    tile_times(w.a.data(), kt, hs, ld, n_tile, R, w.s.data());
    tile_times(w.g.data(), vt, hs, ld, n_tile, R, w.dp.data());
    for (int64_t r = 0; r < kRows; ++r) {
        T* sr = w.s.data() + r * ld;
        T* dpr = w.dp.data() + r * ld;
        if (r >= R) {
            std::fill(sr, sr + ld, T(0));
            std::fill(dpr, dpr + ld, T(0));
            continue;
        }
        const int64_t i = i0 + r, row = (b * pr.H + h) * pr.Tq + i;
        T ls = lse[row];
        const int64_t n = row_probabilities(pr, b, h, i, sr, w.m.data(), ls, true);
        const T* f = w.f.data();
        if (pr.dropout) {
            keep_factors(pr, static_cast<uint64_t>(row * pr.S), n, w.f.data());
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) dpr[j] *= f[j];
        }
        double dot = 0;
#pragma omp simd reduction(+ : dot)
        for (int64_t j = 0; j < n; ++j) dot += static_cast<double>(sr[j] * dpr[j]);
        const T D = static_cast<T>(dot);
        const int64_t visible = pr.visible(i);
#pragma omp simd
        for (int64_t j = 0; j < visible; ++j) dpr[j] = sr[j] * (dpr[j] - D) / pr.root;
        std::fill(dpr + visible, dpr + ld, T(0));
        if (pr.dropout) {
#pragma omp simd
            for (int64_t j = 0; j < n; ++j) sr[j] *= f[j];
        }
    }
    if (dq) {
        tile_dot(w.dp.data(), kt, hs, ld, n_tile, R, w.c.data());
        for (int64_t r = 0; r < R; ++r)
            std::copy_n(w.c.data() + r * hs, hs, dq + ((b * pr.H + h) * pr.Tq + i0 + r) * hs);
    }
    if (need_k) tile_accumulate(w.dkt.data(), w.a.data(), w.dp.data(), hs, ld, n_tile);
    if (need_v) tile_accumulate(w.dvt.data(), w.g.data(), w.s.data(), hs, ld, n_tile);
}

// What a call writes: out and lse (forward), or dq, dk, dv (backward; null when not wanted).
// Careful: attention's `lse` is log sum_j exp(s_j - max_j s), the log-sum-exp of a row *minus its
// max* (the max is recomputed in the backward), not the full log-sum-exp that cross_entropy's
// `lse` holds.
template <class T>
struct Outputs {
    T* out = nullptr;
    T* lse = nullptr;
    const T* saved_lse = nullptr;
    T *dq = nullptr, *dk = nullptr, *dv = nullptr;
};

// Runs every row tile of every head, in parallel. With at least as many heads as threads (the
// training case, B nh = 512) each thread takes whole heads, so the packed keys and values and the
// dk / dv accumulators are its own. With fewer (one sequence of few heads) the threads share one
// head at a time: one packs it, all split its row tiles, and in the backward each accumulates a
// private dk / dv that are summed when the head is done.
template <class T>
void run(const Problem<T>& pr, const Outputs<T>& o, bool backward) {
    const int64_t BH = pr.B * pr.H, tiles = (pr.Tq + kRows - 1) / kRows;
    const bool need_k = o.dk != nullptr, need_v = o.dv != nullptr;
    auto tile = [&](Workspace<T>& w, const T* kt, const T* vt, int64_t b, int64_t h, int64_t t) {
        const int64_t i0 = t * kRows, R = std::min(kRows, pr.Tq - i0);
        if (backward)
            backward_tile(pr, w, kt, vt, b, h, i0, R, o.saved_lse, o.dq, need_k, need_v);
        else
            forward_tile(pr, w, kt, vt, b, h, i0, R, o.out, o.lse);
    };
    // dk[b, h, j, d] = the sum of the accumulators' element (d, j), for j in [j0, j1).
    auto write_grads = [&](const std::vector<Workspace<T>*>& from, int64_t bh, int64_t j0,
                           int64_t j1) {
        for (int which = 0; which < 2; ++which) {
            T* dst = which == 0 ? o.dk : o.dv;
            if (!dst) continue;
            // Keys kCols at a time, as in pack_transposed.
            for (int64_t jb = j0; jb < j1; jb += kCols)
                for (int64_t d = 0; d < pr.hs; ++d)
                    for (int64_t j = jb; j < std::min(jb + kCols, j1); ++j) {
                        T sum = 0;
                        for (Workspace<T>* w : from)
                            sum += (which == 0 ? w->dkt : w->dvt)[d * pr.ld + j];
                        dst[(bh * pr.S + j) * pr.hs + d] = sum;
                    }
        }
    };
    const double work = static_cast<double>(BH) * pr.Tq * pr.S * pr.hs;
    std::vector<Workspace<T>> spaces(omp_get_max_threads());
    Workspace<T> shared;
    shared.kt.resize(pr.hs * pr.ld), shared.vt.resize(pr.hs * pr.ld);
#pragma omp parallel if (work >= kParallelGrain)
    {
        const int nt = omp_get_num_threads();
        Workspace<T>& w = spaces[omp_get_thread_num()];
        w.init(pr, backward);
        if (BH >= nt) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t bh = 0; bh < BH; ++bh) {
                const int64_t b = bh / pr.H, h = bh % pr.H;
                pack_transposed(pr, pr.k, b, h, w.kt.data());
                pack_transposed(pr, pr.v, b, h, w.vt.data());
                std::fill(w.dkt.begin(), w.dkt.end(), T(0));
                std::fill(w.dvt.begin(), w.dvt.end(), T(0));
                for (int64_t t = 0; t < tiles; ++t) tile(w, w.kt.data(), w.vt.data(), b, h, t);
                if (backward) write_grads({&w}, bh, 0, pr.S);
            }
        } else {
            std::vector<Workspace<T>*> all(nt);
            for (int u = 0; u < nt; ++u) all[u] = &spaces[u];
            for (int64_t bh = 0; bh < BH; ++bh) {
                const int64_t b = bh / pr.H, h = bh % pr.H;
#pragma omp single
                {
                    pack_transposed(pr, pr.k, b, h, shared.kt.data());
                    pack_transposed(pr, pr.v, b, h, shared.vt.data());
                }
                std::fill(w.dkt.begin(), w.dkt.end(), T(0));
                std::fill(w.dvt.begin(), w.dvt.end(), T(0));
#pragma omp for schedule(dynamic, 1)
                for (int64_t t = 0; t < tiles; ++t)
                    tile(w, shared.kt.data(), shared.vt.data(), b, h, t);
                if (backward) {
#pragma omp for schedule(static)
                    for (int64_t j = 0; j < pr.S; ++j) write_grads(all, bh, j, j + 1);
                }
            }
        }
    }
}

// Checks the inputs (names and shapes in every message) and fills a Problem.
template <class T>
Problem<T> make_problem(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                        double p, uint64_t seed, uint64_t counter) {
    const kernels::AttentionShape a = kernels::check_attention(q, k, v, mask, p);
    Problem<T> pr{};
    pr.B = a.B, pr.H = a.H, pr.Tq = a.T, pr.hs = a.hs, pr.S = a.S;
    pr.ld = round_up(std::max<int64_t>(pr.S, 1), kCols);
    pr.q = Strided4<T>(q), pr.k = Strided4<T>(k), pr.v = Strided4<T>(v);
    pr.masked = a.masked;
    if (pr.masked) pr.mask = Strided4<T>(views::expand(mask, Shape{pr.B, pr.H, pr.Tq, pr.S}));
    pr.root = static_cast<T>(std::sqrt(static_cast<double>(pr.hs)));
    pr.dropout = p > 0;
    pr.seed = seed, pr.counter = counter;
    pr.threshold = keep_threshold(p);
    pr.keep_scale = static_cast<T>(1.0 / (1.0 - p));
    return pr;
}

// The pointer of an output that must be contiguous and of `shape` (null when undefined).
template <class T>
T* output_data(const Tensor& t, const Shape& shape, const char* name) {
    if (!t.defined()) return nullptr;
    check(t.is_contiguous() && t.shape() == shape && t.dtype() == dtype_of<T>(),
          "[attention] {} must be a contiguous {} {}, got {} {}", name, dtype_of<T>(),
          shape_str(shape), t.dtype(), shape_str(t.shape()));
    return t.data<T>();
}

void attention_forward_cpu(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                           const Tensor& v, const Tensor& mask, double p, uint64_t seed,
                           uint64_t counter) {
    visit_floating(q.dtype(), "attention", [&]<class T>() {
        const Problem<T> pr = make_problem<T>(q, k, v, mask, p, seed, counter);
        Outputs<T> o;
        o.out = output_data<T>(out, q.shape(), "out");
        o.lse = output_data<T>(lse, Shape{pr.B, pr.H, pr.Tq}, "lse");
        check(o.out && o.lse, "[attention] the forward needs out and lse");
        run(pr, o, false);
    });
}

void attention_backward_cpu(const Tensor& gout, const Tensor& q, const Tensor& k, const Tensor& v,
                            const Tensor& mask, const Tensor& lse, double p, uint64_t seed,
                            uint64_t counter, const Tensor& dq, const Tensor& dk,
                            const Tensor& dv) {
    visit_floating(q.dtype(), "attention", [&]<class T>() {
        Problem<T> pr = make_problem<T>(q, k, v, mask, p, seed, counter);
        check(gout.shape() == q.shape() && gout.dtype() == q.dtype(),
              "[attention] the output gradient must be {} {}, got {} {}", q.dtype(),
              shape_str(q.shape()), gout.dtype(), shape_str(gout.shape()));
        pr.gout = Strided4<T>(gout);
        Outputs<T> o;
        o.saved_lse = output_data<T>(lse, Shape{pr.B, pr.H, pr.Tq}, "lse");
        check(o.saved_lse, "[attention] the backward needs the forward's lse");
        o.dq = output_data<T>(dq, q.shape(), "dq");
        o.dk = output_data<T>(dk, k.shape(), "dk");
        o.dv = output_data<T>(dv, v.shape(), "dv");
        run(pr, o, true);
    });
}

}  // namespace

const bool attention_forward_on_cpu =
    kernels::attention_forward.set(DeviceType::cpu, &attention_forward_cpu);
const bool attention_backward_on_cpu =
    kernels::attention_backward.set(DeviceType::cpu, &attention_backward_cpu);

}  // namespace gradstack::cpu
