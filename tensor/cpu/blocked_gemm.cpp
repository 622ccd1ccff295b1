// The blocked float32 GEMM (blocked_gemm.h). Sizes are AVX-512's, with AVX2's in brackets
// (simd_tiles.h: the tile is 8 rows x 3 vectors of 16 there, 4 x 3 vectors of 8 here).
//
//   for each block of up to kBlockM rows of a:            (a's packed block: <= 256 KiB, in L2)
//     for each slice of kSliceK k:
//       pack a[rows, slice] into groups of 8 (4) rows, k-major (a(m0 + r, k) at [k * 8 + r])
//       for each 48 (24)-column panel of this thread:
//         pack b[slice, panel] k-major (b(k, n0 + j) at [k * 48 + j], 24 (12) KiB: stays in L1)
//         for each group of rows: c[8, 48] += a_group @ b_panel        (the register tile)
//
// The tile keeps 8 x 3 (4 x 3) vectors of sums in registers; per k it loads the panel's 3
// vectors and broadcasts 8 (4) values of a: 24 FMAs for 11 loads (12 for 7), so the FMA units, not
// the loads, set the pace.
// Both packings put what the tile reads next at the next address, whatever a's and b's strides
// (a transposed view, a W^T weight): the tile itself has one layout. Zero padding (rows past M in
// the last group, columns past N in the last panel) is multiplied and never stored.
//
// Threads split the columns: each packs and reads only its own panels of b, packs the a block it
// needs itself (M x K next to M x K x its columns of work), and writes its own columns of c, so the
// threads never wait for each other inside a call. (Where the panels are too few to split evenly,
// they split the rows instead.) Sums run in a different order from OpenBLAS's
// (per slice, then across slices), so results differ from sgemm by float32 rounding.
// GCC 12 reports a false "may be used uninitialized" inside its own vector intrinsics (the
// deliberately undefined register behind _mm512_set1_ps) when it inlines the tiles; the pragma must
// precede the first include of them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "tensor/cpu/blocked_gemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tensor/cpu/blas_core.h"
#include "tensor/cpu/simd_tiles.h"
#include "tensor/error.h"

namespace gradstack::cpu {

namespace {

// GRADSTACK_GEMM=auto|openblas|blocked picks as force_f32_gemm does (for A/B runs of any command);
// read at the first product, and a later force_f32_gemm wins.
std::atomic<int> forced{-1};

F32Gemm current() {
    int f = forced.load();
    if (f >= 0) return static_cast<F32Gemm>(f);
    const char* v = std::getenv("GRADSTACK_GEMM");
    const std::string s = v == nullptr ? "" : v;
    F32Gemm g = F32Gemm::automatic;
    if (s == "openblas")
        g = F32Gemm::openblas;
    else if (s == "blocked")
        g = F32Gemm::blocked;
    else
        check(s.empty() || s == "auto", "GRADSTACK_GEMM={}: expected auto, openblas or blocked", s);
    int expected = -1;
    forced.compare_exchange_strong(expected, static_cast<int>(g));
    return static_cast<F32Gemm>(forced.load());
}

}  // namespace

#if defined(GRADSTACK_SIMD_TILES)
namespace {

using namespace simd;

constexpr int kRows = kTileRows;  // rows of a per tile (and per packed group): 8, AVX2 4
constexpr int64_t kSliceK = 128;  // k per packed slice: a panel is 128 x 48 (24) floats = 24 (12) KiB
constexpr int64_t kBlockM = 512;  // rows of a per packed block: 512 x 128 floats = 256 KiB

// c[MR, cols] (+)= a_group[kc, kRows] @ b_panel[kc, kPanel], both packed k-major; cols <= kPanel.
template <int MR>
void tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t cols,
          bool accumulate) {
    Vec acc[MR][kTileVecs];
    zero_tile(acc);
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k) {
        const float* bk = b + k * kPanel;
        Vec w[kTileVecs];
        for (int j = 0; j < kTileVecs; ++j) w[j] = load(bk + j * kLanes);
        const float* ak = a + k * kRows;
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            const Vec x = splat(ak[m]);
            for (int j = 0; j < kTileVecs; ++j) acc[m][j] = fma(x, w[j], acc[m][j]);
        }
    }
    store_tile(acc, c, ldc, cols, accumulate);
}

template <int MR>
struct Tile {
    template <class... Args>
    static void run(Args... args) { tile<MR>(args...); }
};

// dst[k * ld + i] = src_i[k] for R <= 8 sources i and k < kc: R contiguous runs of floats written
// interleaved (a's rows into a group, W's rows into a panel's columns). Each 8-k strip is one
// transpose (sources past R repeat src_0) and 8 stores of 8 floats: with ld < 8 (AVX2's 4-row
// groups) a store's last 8 - ld floats run into the next k's place, which the next store
// overwrites, and the strip's last store 8 - ld floats past dst[kc * ld] (the caller leaves room:
// `scratch`, and the next group is packed after this one).
template <int R>
inline void interleave(const float* const (&src)[R], int64_t kc, float* dst, int64_t ld) {
    static_assert(R <= 8);
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src[i < R ? i : 0] + k);
        transpose8x8(r);
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + (k + i) * ld, r[i]);
    }
    for (; k < kc; ++k)
        for (int i = 0; i < R; ++i) dst[k * ld + i] = src[i][k];
}

// a(m0 + r, k0 + k) for r < rows, k < kc into out[group][k][kRows] (groups of kRows rows; rows
// past `rows` are zero).
void pack_a(const float* a, int64_t a_rs, int64_t a_cs, int64_t m0, int64_t rows, int64_t k0,
            int64_t kc, float* out) {
    for (int64_t g = 0; g * kRows < rows; ++g) {
        float* dst = out + g * kc * kRows;
        const int64_t n = std::min<int64_t>(kRows, rows - g * kRows);
        const float* base = a + (m0 + g * kRows) * a_rs + k0 * a_cs;
        if (a_rs == 1 && n == kRows) {  // a transposed view: a group's values lie side by side
            for (int64_t k = 0; k < kc; ++k) std::copy_n(base + k * a_cs, kRows, dst + k * kRows);
        } else if (a_cs == 1 && n == kRows) {  // row-major a: the group's rows interleaved
            const float* src[kRows];
            for (int r = 0; r < kRows; ++r) src[r] = base + r * a_rs;
            interleave(src, kc, dst, kRows);
        } else {
            for (int64_t r = 0; r < kRows; ++r)
                for (int64_t k = 0; k < kc; ++k)
                    dst[k * kRows + r] = r < n ? base[r * a_rs + k * a_cs] : 0.0f;
        }
    }
}

// b(k0 + k, n0 + j) for k < kc, j < cols into out[k][kPanel] (columns past `cols` are zero).
void pack_b(const float* b, int64_t ldb, bool b_nk, int64_t k0, int64_t kc, int64_t n0,
            int64_t cols, float* out) {
    if (!b_nk) {
        Mask mask[kTileVecs];
        panel_masks(cols, mask);
        for (int64_t k = 0; k < kc; ++k) {
            const float* src = b + (k0 + k) * ldb + n0;
            for (int j = 0; j < kTileVecs; ++j)
                store(out + k * kPanel + j * kLanes, load(src + j * kLanes, mask[j]));
        }
        return;
    }
    // b[n * ldb + k]: each column of the panel is a contiguous run of k (a row of W), so groups
    // of 8 columns are interleaved; a ragged last group is copied value by value, zeros past it.
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8) {
        const float* src[8];
        for (int i = 0; i < 8; ++i) src[i] = b + (n0 + j + i) * ldb + k0;
        interleave(src, kc, out + j, kPanel);
    }
    for (int64_t k = 0; k < kc; ++k)
        for (int64_t jj = j; jj < kPanel; ++jj)
            out[k * kPanel + jj] = jj < cols ? b[(n0 + jj) * ldb + k0 + k] : 0.0f;
}

// A buffer per thread, 64-byte aligned, grown on demand and kept between calls, with 8 floats to
// spare past `floats` (interleave's last store).
float* scratch(std::vector<float>& v, int64_t floats) {
    const size_t need = static_cast<size_t>(floats) + 16 + 8;
    if (v.size() < need) v.resize(need);
    const auto p = reinterpret_cast<uintptr_t>(v.data());
    return v.data() + ((64 - p % 64) % 64) / sizeof(float);
}

// Columns [n0, n1) of c, all rows: one thread's work.
void columns(int64_t M, int64_t n0, int64_t n1, int64_t K, const float* a, int64_t a_rs,
             int64_t a_cs, const float* b, int64_t ldb, bool b_nk, float* c, int64_t ldc,
             bool accumulate) {
    thread_local std::vector<float> a_buf, b_buf;
    float* ap = scratch(a_buf, (std::min(M, kBlockM) + kRows - 1) / kRows * kRows * kSliceK);
    float* bp = scratch(b_buf, kSliceK * kPanel);
    for (int64_t m0 = 0; m0 < M; m0 += kBlockM) {
        const int64_t rows = std::min(kBlockM, M - m0);
        for (int64_t k0 = 0; k0 < K; k0 += kSliceK) {
            const int64_t kc = std::min(kSliceK, K - k0);
            const bool acc = accumulate || k0 > 0;
            pack_a(a, a_rs, a_cs, m0, rows, k0, kc, ap);
            for (int64_t n = n0; n < n1; n += kPanel) {
                const int64_t cols = std::min<int64_t>(kPanel, n1 - n);
                pack_b(b, ldb, b_nk, k0, kc, n, cols, bp);
                for (int64_t g = 0; g * kRows < rows; ++g)
                    with_rows<kRows, Tile>(
                        static_cast<int>(std::min<int64_t>(kRows, rows - g * kRows)), kc,
                        ap + g * kc * kRows, bp, c + (m0 + g * kRows) * ldc + n, ldc, cols, acc);
            }
        }
    }
}

}  // namespace

bool blocked_gemm_f32(int64_t M, int64_t N, int64_t K, const float* a, int64_t a_rs, int64_t a_cs,
                      const float* b, int64_t ldb, bool b_nk, float* c, int64_t ldc,
                      bool accumulate) {
    if (M <= 0 || N <= 0) return true;
    if (K == 0) {  // an empty sum
        if (!accumulate)
            for (int64_t m = 0; m < M; ++m) std::fill(c + m * ldc, c + m * ldc + N, 0.0f);
        return true;
    }
    const int64_t panels = (N + kPanel - 1) / kPanel, groups = (M + kRows - 1) / kRows;
    const bool big_enough = M * N * K >= (1 << 18);
    // Threads split the panels, unless few panels split unevenly (N = 128 is 3 panels: 1 and 2)
    // and there are rows enough: then they split the groups of rows, each packing all of b.
    const int64_t threads = omp_get_level() > 0 ? 1 : omp_get_max_threads();
    if (threads > 1 && panels % threads != 0 && panels < 8 * threads && groups >= 4 * threads) {
        for_each_thread_range(groups, big_enough, [&](int64_t g0, int64_t g1) {
            const int64_t m0 = g0 * kRows, rows = std::min(M, g1 * kRows) - m0;
            columns(rows, 0, N, K, a + m0 * a_rs, a_rs, a_cs, b, ldb, b_nk, c + m0 * ldc, ldc,
                    accumulate);
        });
        return true;
    }
    for_each_thread_range(panels, big_enough, [&](int64_t p0, int64_t p1) {
        columns(M, p0 * kPanel, std::min(N, p1 * kPanel), K, a, a_rs, a_cs, b, ldb, b_nk, c, ldc,
                accumulate);
    });
    return true;
}

#else  // no SIMD tiles in this build

bool blocked_gemm_f32(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*,
                      int64_t, bool, float*, int64_t, bool) {
    return false;
}

#endif

namespace {

bool has_blocked() {
#if defined(GRADSTACK_SIMD_TILES)
    return true;
#else
    return false;
#endif
}

}  // namespace

void force_f32_gemm(F32Gemm g) {
    check(g != F32Gemm::blocked || has_blocked(),
          "[matmul] this build has neither AVX-512 nor AVX2, so no blocked float32 GEMM "
          "(GRADSTACK_NATIVE=OFF?)");
    forced.store(static_cast<int>(g));
}

bool blocked_gemm_wins() {
    switch (current()) {
        case F32Gemm::openblas: return false;
        case F32Gemm::blocked: return true;
        default: break;
    }
    static const bool wins = has_blocked() && 32 * kLanes > blas_core_vector_bits();
    return wins;
}

const char* f32_gemm_note() {
    static const std::string ours = fmt::format("gradstack's blocked {} GEMM above 16 rows", kSimdName);
    static const std::string automatic =
        !has_blocked() ? "OpenBLAS (this build has no vector kernels of its own)"
        : blocked_gemm_wins()
            ? fmt::format("{} (OpenBLAS's active kernels, {}, use {}-bit vectors)", ours,
                          blas_core(), blas_core_vector_bits())
            : fmt::format("OpenBLAS (its kernels, {}, use vectors as wide as gradstack's {})",
                          blas_core(), kSimdName);
    static const std::string forced_ours = ours + " (forced: GRADSTACK_GEMM or force_f32_gemm)";
    switch (current()) {
        case F32Gemm::openblas: return "OpenBLAS (forced: GRADSTACK_GEMM or force_f32_gemm)";
        case F32Gemm::blocked: return forced_ours.c_str();
        default: return automatic.c_str();
    }
}

}  // namespace gradstack::cpu
