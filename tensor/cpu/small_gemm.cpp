// The small-M GEMM (small_gemm.h): two AVX-512 register tiles, one per weight layout.
//
//  b stored [K, N] (a Conv1D weight): "broadcast" tile. A panel of 48 columns of 16 rows of b is
//    walked row by row; each row (3 vectors of 16 floats) is multiplied by every a(m, k),
//    broadcast, into up to 8 x 3 accumulators (24 of the 32 vector registers). The first group of
//    8 rows of a pulls the panel from memory, the next ones find it in L1 (16 x 192 bytes).
//  b stored [N, K] (wte read as wte^T, or any transposed weight): "dot" tile. Rows of b are dot
//    products against rows of a: 8 rows of b x up to 3 rows of a, 16 k at a time, 24
//    accumulators, summed across their lanes at the end. The 8 rows of b (8 x K floats) stay in
//    L1 while every group of a's rows passes over them, so b is read once, in the order it lies
//    in memory.
//  A large b stored [N, K] (the tied head) can instead be read from a copy packed in panels by the
//    broadcast tile (small_gemm_f32_packed).
//
// Threads split N: each takes a contiguous range of panels (or rows of b), so each streams its own
// part of the weight; a is small and shared. Sums run in a different order from BLAS's, so
// results differ from sgemm by float32 rounding (tests/tensor/test_gemm_kernels.cpp bounds it).
// GCC 12 reports a false "may be used uninitialized" inside its own AVX-512 intrinsics (the
// deliberately undefined register behind _mm512_set1_ps) when it inlines the tiles; the pragma must
// precede the first include of them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "tensor/cpu/small_gemm.h"

#include <algorithm>
#include <vector>

#include "tensor/cpu/avx512_tiles.h"
#include "tensor/cpu/pack_cache.h"

namespace gradstack::cpu {

#if defined(__AVX512F__)
namespace {

constexpr int kPanel = 3 * kLanes;  // columns of a broadcast tile
constexpr int kBroadcastRows = 8;   // rows of a per broadcast tile
constexpr int kDotRows = 3;         // rows of a per dot tile
constexpr int kDotCols = 8;         // rows of b (columns of c) per dot tile
constexpr int64_t kBlockRows = 16;  // rows of b per block of the broadcast walk

// c[MR, cols] (+)= a[MR, kc] @ b[kc, cols] for cols <= 48; a(m, k) = a[m * lda + k], contiguous.
template <int MR>
void broadcast_tile(int64_t kc, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                    int64_t ldc, int64_t cols, bool accumulate) {
    const __mmask16 mask[3] = {lanes_before(cols), lanes_before(cols - kLanes),
                               lanes_before(cols - 2 * kLanes)};
    __m512 acc[MR][3];
    zero_tile<MR>(acc);
    for (int64_t k = 0; k < kc; ++k) {
        const float* bk = b + k * ldb;
        // The same columns kBlockRows rows on (the next block's visit of this panel) into L2:
        // enough requests in flight to keep memory busy while the FMAs use this row.
        const char* ahead = reinterpret_cast<const char*>(bk + kBlockRows * ldb);
        _mm_prefetch(ahead, _MM_HINT_T1);
        _mm_prefetch(ahead + 64, _MM_HINT_T1);
        _mm_prefetch(ahead + 128, _MM_HINT_T1);
        const __m512 w0 = _mm512_maskz_loadu_ps(mask[0], bk);
        const __m512 w1 = _mm512_maskz_loadu_ps(mask[1], bk + kLanes);
        const __m512 w2 = _mm512_maskz_loadu_ps(mask[2], bk + 2 * kLanes);
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            const __m512 x = _mm512_set1_ps(a[m * lda + k]);
            acc[m][0] = _mm512_fmadd_ps(x, w0, acc[m][0]);
            acc[m][1] = _mm512_fmadd_ps(x, w1, acc[m][1]);
            acc[m][2] = _mm512_fmadd_ps(x, w2, acc[m][2]);
        }
    }
    store_tile<MR>(acc, c, ldc, cols, accumulate);
}

// c[MR, cols] (+)= a[MR, K] @ b[cols, K]^T for cols <= 8; a(m, k) = a[m * lda + k], contiguous.
template <int MR>
void dot_tile(int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
              int64_t ldc, int cols, bool accumulate, bool prefetch) {
    // Columns past `cols` read row 0 again (always valid memory); their sums are dropped.
    const float* row[kDotCols];
    for (int j = 0; j < kDotCols; ++j) row[j] = b + (j < cols ? j : 0) * ldb;
    __m512 acc[MR][kDotCols];
#pragma GCC unroll 6
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < kDotCols; ++j) acc[m][j] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k += kLanes) {
        const __mmask16 mask = lanes_before(K - k);
        __m512 w[kDotCols];
        for (int j = 0; j < kDotCols; ++j) w[j] = _mm512_maskz_loadu_ps(mask, row[j] + k);
        // The next block of rows of b, at the same k, into L2: more requests in flight than the
        // hardware prefetcher keeps on its own (measured: 10 -> 15 GB/s from memory at M = 8).
        if (prefetch)
            for (int j = 0; j < kDotCols; ++j)
                _mm_prefetch(reinterpret_cast<const char*>(row[j] + kDotCols * ldb + k), _MM_HINT_T1);
#pragma GCC unroll 6
        for (int m = 0; m < MR; ++m) {
            const __m512 x = _mm512_maskz_loadu_ps(mask, a + m * lda + k);
            for (int j = 0; j < kDotCols; ++j) acc[m][j] = _mm512_fmadd_ps(x, w[j], acc[m][j]);
        }
    }
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < cols; ++j) {
            const float s = _mm512_reduce_add_ps(acc[m][j]);
            float& out = c[m * ldc + j];
            out = accumulate ? out + s : s;
        }
}

// The tiles as with_rows (avx512_tiles.h) calls them.
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
    // Units of work that threads split: 48-column panels, or groups of 8 rows of b.
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

// b(k, n) in panels: panel p holds columns [48 p, 48 p + 48) of all K rows, row after row
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

#else  // no AVX-512 in this build

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
