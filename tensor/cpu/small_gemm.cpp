// The small-M GEMM (small_gemm.h): two register tiles, one per weight layout, written once over
// simd_tiles.h's vectors (AVX-512: 16 lanes; AVX2: 8). Sizes below are AVX-512's, AVX2's after.
//
//  b stored [K, N] (a Conv1D weight): "broadcast" tile. A panel of 48 (24) columns of 16 rows of
//    b is walked row by row; each row (3 vectors) is multiplied by every a(m, k), broadcast,
//    into up to 8 x 3 (4 x 3) accumulators. The first group of rows of a pulls the panel from
//    memory, the next ones find it in L1 (16 x 192 (96) bytes).
//  b stored [N, K] (wte read as wte^T, or any transposed weight): "dot" tile. Rows of b are dot
//    products against rows of a: 8 (4) rows of b x up to 3 rows of a, one vector of k at a time,
//    24 (12) accumulators, summed across their lanes at the end. The rows of b stay in L1 while
//    every group of a's rows passes over them, so b is read once, in the order it lies in memory.
//  A large b stored [N, K] (the tied head) can instead be read from a copy packed in panels by the
//    broadcast tile (small_gemm_f32_packed).
//
// Threads split N: each takes a contiguous range of panels (or rows of b), so each streams its own
// part of the weight; a is small and shared. Sums run in a different order from BLAS's, so
// results differ from sgemm by float32 rounding (tests/tensor/test_gemm_kernels.cpp bounds it).
// GCC 12 reports a false "may be used uninitialized" inside its own vector intrinsics (the
// deliberately undefined register behind _mm512_set1_ps) when it inlines the tiles; the pragma must
// precede the first include of them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same, from _mm512_reduce_add_ps
#include "tensor/cpu/small_gemm.h"

#include <algorithm>
#include <vector>

#include "tensor/cpu/pack_cache.h"
#include "tensor/cpu/simd_tiles.h"

namespace gradstack::cpu {

#if defined(GRADSTACK_SIMD_TILES)
namespace {

using namespace simd;

constexpr int kBroadcastRows = kTileRows;  // rows of a per broadcast tile (8, AVX2: 4)
constexpr int64_t kBlockRows = 16;         // rows of b per block of the broadcast walk
// The dot tile: kDotRows rows of a x kDotCols rows of b, as many accumulators, plus the rows of a
// (one vector each) and one vector of b in registers: 24 + 3 + 1 of 32 (AVX-512), 12 + 3 + 1 of 16
// (AVX2).
constexpr int kDotRows = 3;
constexpr int kDotCols = kLanes == 16 ? 8 : 4;

// c[MR, cols] (+)= a[MR, kc] @ b[kc, cols] for cols <= kPanel; a(m, k) = a[m * lda + k], contiguous.
// Ragged (a last panel of fewer than kPanel columns) loads b through masks. (The accumulators are
// this function's own: passed in by reference, GCC stored them to memory on every k.)
template <int MR, bool Ragged>
void broadcast_tile_of(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb,
                       float* c, int64_t ldc, int64_t cols, bool accumulate) {
    Mask mask[kTileVecs];
    panel_masks(cols, mask);
    Vec acc[MR][kTileVecs];
    zero_tile(acc);
    for (int64_t k = 0; k < kc; ++k) {
        const float* bk = b + k * ldb;
        // The same columns kBlockRows rows on (the next block's visit of this panel) into L2:
        // enough requests in flight to keep memory busy while the FMAs use this row.
        const char* ahead = reinterpret_cast<const char*>(bk + kBlockRows * ldb);
        for (size_t line = 0; line < kPanel * sizeof(float); line += 64)
            _mm_prefetch(ahead + line, _MM_HINT_T1);
        Vec w[kTileVecs];
        for (int j = 0; j < kTileVecs; ++j) {
            w[j] = load_lanes<Ragged>(bk + j * kLanes, mask[j]);
            in_register(w[j]);  // one load per row of b, not one per row of a (simd_tiles.h)
        }
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            const Vec x = splat(a[m * lda + k]);
            for (int j = 0; j < kTileVecs; ++j) acc[m][j] = fma(x, w[j], acc[m][j]);
        }
    }
    store_tile(acc, c, ldc, cols, accumulate);
}

template <int MR>
void broadcast_tile(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                    int64_t ldc, int64_t cols, bool accumulate) {
    if (cols < kPanel)
        broadcast_tile_of<MR, true>(kc, a, lda, b, ldb, c, ldc, cols, accumulate);
    else
        broadcast_tile_of<MR, false>(kc, a, lda, b, ldb, c, ldc, cols, accumulate);
}

// c[MR, cols] (+)= a[MR, K] @ b[cols, K]^T for cols <= kDotCols; a(m, k) = a[m * lda + k],
// contiguous. Ragged (K not a multiple of kLanes) loads every vector through a mask.
template <int MR, bool Ragged>
void dot_tile_of(int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                 int64_t ldc, int cols, bool accumulate, bool prefetch) {
    // Columns past `cols` read row 0 again (always valid memory); their sums are dropped.
    const float* row[kDotCols];
    for (int j = 0; j < kDotCols; ++j) row[j] = b + (j < cols ? j : 0) * ldb;
    Vec acc[MR][kDotCols];
    zero_tile(acc);
    for (int64_t k = 0; k < K; k += kLanes) {
        const Mask mask = lanes_before(K - k);
        Vec x[MR];
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) x[m] = load_lanes<Ragged>(a + m * lda + k, mask);
#pragma GCC unroll 8
        for (int j = 0; j < kDotCols; ++j) {
            Vec w = load_lanes<Ragged>(row[j] + k, mask);
            in_register(w);
            // The next block of rows of b, at the same k, into L2: more requests in flight than
            // the hardware prefetcher keeps on its own (measured: 10 -> 15 GB/s from memory at
            // M = 8).
            if (prefetch)
                _mm_prefetch(reinterpret_cast<const char*>(row[j] + kDotCols * ldb + k), _MM_HINT_T1);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m) acc[m][j] = fma(x[m], w, acc[m][j]);
        }
    }
    // Every sum first, then the `cols` wanted: acc indexed by a run-time column would live in
    // memory instead of registers for the whole loop above.
    float sums[MR][kDotCols];
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
        for (int j = 0; j < kDotCols; ++j) sums[m][j] = sum(acc[m][j]);
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < cols; ++j) {
            float& out = c[m * ldc + j];
            out = accumulate ? out + sums[m][j] : sums[m][j];
        }
}

template <int MR>
void dot_tile(int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc, int cols, bool accumulate, bool prefetch) {
    if (K % kLanes != 0)
        dot_tile_of<MR, true>(K, a, lda, b, ldb, c, ldc, cols, accumulate, prefetch);
    else
        dot_tile_of<MR, false>(K, a, lda, b, ldb, c, ldc, cols, accumulate, prefetch);
}

// The tiles as with_rows (simd_tiles.h) calls them.
template <int MR>
struct BroadcastTile {
    template <class... Args>
    static void run(Args... args) { broadcast_tile<MR>(args...); }
};
template <int MR>
struct DotTile {
    template <class... Args>
    static void run(Args... args) { dot_tile<MR>(args...); }
};

// Columns [n0, n1) of c, all rows: the work of one thread. The weight is walked in blocks of
// kBlockRows rows; within a block, panel after panel. Each of the block's rows is then read front to
// back, 192 bytes per panel: kBlockRows sequential streams the hardware prefetcher follows. (Walking
// one panel down all K rows instead touches a new page per row, which the prefetcher does not
// follow: measured 8.6 GB/s against 19 GB/s for the same weights once they no longer fit in cache.)
// The partial sums wait in c between blocks (M x N floats, in L2).
void broadcast_columns(int64_t M, int64_t n0, int64_t n1, int64_t K, const float* a, int64_t lda,
                       const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
    for (int64_t k = 0; k < K; k += kBlockRows) {
        const int64_t kc = std::min(kBlockRows, K - k);
        const bool acc = accumulate || k > 0;
        for (int64_t n = n0; n < n1; n += kPanel) {
            const int64_t cols = std::min<int64_t>(kPanel, n1 - n);
            for (int64_t m = 0; m < M; m += kBroadcastRows)
                with_rows<kBroadcastRows, BroadcastTile>(
                    static_cast<int>(std::min<int64_t>(kBroadcastRows, M - m)), kc,
                    a + m * lda + k, lda, b + k * ldb + n, ldb, c + m * ldc + n, ldc, cols, acc);
        }
    }
}

void dot_columns(int64_t M, int64_t n0, int64_t n1, int64_t K, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
    for (int64_t n = n0; n < n1; n += kDotCols) {
        const int cols = static_cast<int>(std::min<int64_t>(kDotCols, n1 - n));
        for (int64_t m = 0; m < M; m += kDotRows)
            with_rows<kDotRows, DotTile>(static_cast<int>(std::min<int64_t>(kDotRows, M - m)), K,
                                         a + m * lda, lda, b + n * ldb, ldb, c + m * ldc + n, ldc,
                                         cols, accumulate, m == 0 && n + 2 * kDotCols <= n1);
    }
}

// What both entry points do before the tiles. An empty sum (K = 0) is c = 0 (or c unchanged),
// done here: returns false. Otherwise the tiles read a(m, k) at a[m * lda + k]: a transposed or
// strided a is copied into `copy` (M x K is small next to the weight) and `a` pointed at it.
bool prepare_rows(int64_t M, int64_t N, int64_t K, const float*& a, int64_t a_rs, int64_t a_cs,
                  float* c, int64_t ldc, bool accumulate, std::vector<float>& copy, int64_t& lda) {
    if (K == 0) {
        if (!accumulate)
            for (int64_t m = 0; m < M; ++m) std::fill(c + m * ldc, c + m * ldc + N, 0.0f);
        return false;
    }
    lda = a_rs;
    if (a_cs == 1) return true;
    copy.resize(static_cast<size_t>(M * K));
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) copy[m * K + k] = a[m * a_rs + k * a_cs];
    a = copy.data();
    lda = K;
    return true;
}

}  // namespace

bool small_gemm_f32(int64_t M, int64_t N, int64_t K, const float* a, int64_t a_rs, int64_t a_cs,
                    const float* b, int64_t ldb, bool b_nk, float* c, int64_t ldc,
                    bool accumulate) {
    if (M <= 0 || N <= 0) return true;
    std::vector<float> a_copy;
    int64_t lda = 0;
    if (!prepare_rows(M, N, K, a, a_rs, a_cs, c, ldc, accumulate, a_copy, lda)) return true;
    // Units of work that threads split: column panels, or groups of kDotCols rows of b.
    const int64_t unit = b_nk ? kDotCols : kPanel;
    for_each_thread_range((N + unit - 1) / unit, M * N * K >= (1 << 16), [&](int64_t u0, int64_t u1) {
        const int64_t n0 = u0 * unit, n1 = std::min(N, u1 * unit);
        if (b_nk)
            dot_columns(M, n0, n1, K, a, lda, b, ldb, c, ldc, accumulate);
        else
            broadcast_columns(M, n0, n1, K, a, lda, b, ldb, c, ldc, accumulate);
    });
    return true;
}

namespace {

// b(k, n) in panels: panel p holds columns [kPanel p, kPanel (p + 1)) of all K rows, row after row
// (zero-padded past N).
struct PackedF32 {
    int64_t K = 0, N = 0, panels = 0;
    std::vector<float> data;
};

std::shared_ptr<const void> pack_f32_panels(const Tensor& w) {
    auto packed = std::make_shared<PackedF32>();
    PackedF32& p = *packed;
    p.K = w.size(0);
    p.N = w.size(1);
    p.panels = (p.N + kPanel - 1) / kPanel;
    p.data.assign(static_cast<size_t>(p.panels * p.K * kPanel), 0.0f);
    with_matrix_layout(w, [&](const float* b, int64_t ld, bool b_nk) {
#pragma omp parallel for schedule(static)
        for (int64_t panel = 0; panel < p.panels; ++panel) {
            float* out = p.data.data() + panel * p.K * kPanel;
            const int64_t n0 = panel * kPanel, cols = std::min<int64_t>(kPanel, p.N - n0);
            for (int64_t k = 0; k < p.K; ++k)
                for (int64_t j = 0; j < cols; ++j)
                    out[k * kPanel + j] = b_nk ? b[(n0 + j) * ld + k] : b[k * ld + n0 + j];
        }
    });
    return packed;
}

}  // namespace

bool small_gemm_f32_packed(int64_t M, const float* a, int64_t a_rs, int64_t a_cs, const Tensor& b,
                           float* c, int64_t ldc, bool accumulate) {
    const auto packed = std::static_pointer_cast<const PackedF32>(
        cached_packing(b, PackKind::f32_panels, &pack_f32_panels));
    const int64_t K = packed->K, N = packed->N;
    if (M <= 0 || N <= 0) return true;
    std::vector<float> a_copy;
    int64_t lda = 0;
    if (!prepare_rows(M, N, K, a, a_rs, a_cs, c, ldc, accumulate, a_copy, lda)) return true;
    for_each_thread_range(packed->panels, true, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const float* panel = packed->data.data() + p * K * kPanel;
            const int64_t n = p * kPanel, cols = std::min<int64_t>(kPanel, N - n);
            for (int64_t m = 0; m < M; m += kBroadcastRows)
                with_rows<kBroadcastRows, BroadcastTile>(
                    static_cast<int>(std::min<int64_t>(kBroadcastRows, M - m)), K, a + m * lda,
                    lda, panel, int64_t{kPanel}, c + m * ldc + n, ldc, cols, accumulate);
        }
    });
    return true;
}

#else  // no SIMD tiles in this build

bool small_gemm_f32_packed(int64_t, const float*, int64_t, int64_t, const Tensor&, float*, int64_t,
                           bool) {
    return false;
}

bool small_gemm_f32(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*,
                    int64_t, bool, float*, int64_t, bool) {
    return false;
}

#endif

}  // namespace gradstack::cpu
