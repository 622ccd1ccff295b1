// The bfloat16 GEMM (bf16_gemm.h). One register tile shape, as small_gemm.cpp's broadcast tile
// (simd_tiles.h; AVX2's sizes in brackets): a panel of 48 (24) columns of the packed b is walked
// pair of k by pair of k; each row of the panel (3 vectors of 16 (8) lanes, each lane a pair
// of bfloat16) meets a(m, 2r) and a(m, 2r + 1) for up to 8 (4) rows of a: 24 (12) accumulators of
// float32 sums. Three ways to multiply (Bf16Kernel): FMAs on the pairs widened to float32 (the
// default), AVX512-BF16's VDPBF16PS, plain loops. a is rounded to bfloat16 once per call (M x K
// values, small next to the weight).
// GCC 12 reports a false "may be used uninitialized" inside its own vector intrinsics (the
// deliberately undefined register behind _mm512_set1_ps) when it inlines the tiles; the pragma must
// precede the first include of them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "tensor/cpu/bf16_gemm.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>

#include "tensor/cpu/pack_cache.h"
#include "tensor/cpu/simd_tiles.h"
#include "tensor/error.h"

namespace gradstack::cpu {

PackedBf16 pack_bf16(int64_t K, int64_t N, const float* b, int64_t ldb, bool b_nk) {
    PackedBf16 p;
    p.K = K;
    p.N = N;
    p.pairs = (K + 1) / 2;
    p.panels = (N + kBf16Panel - 1) / kBf16Panel;
    p.data.assign(static_cast<size_t>(p.panels * p.pairs * kBf16Panel), 0u);
    auto at = [&](int64_t k, int64_t n) -> uint32_t {
        if (k >= K) return 0;  // the padding row of an odd K
        return to_bf16(b_nk ? b[n * ldb + k] : b[k * ldb + n]);
    };
#pragma omp parallel for schedule(static)
    for (int64_t panel = 0; panel < p.panels; ++panel) {
        uint32_t* out = p.data.data() + panel * p.pairs * kBf16Panel;
        const int64_t n0 = panel * kBf16Panel, cols = std::min(kBf16Panel, N - n0);
        for (int64_t r = 0; r < p.pairs; ++r)
            for (int64_t j = 0; j < cols; ++j)
                out[r * kBf16Panel + j] = at(2 * r, n0 + j) | (at(2 * r + 1, n0 + j) << 16);
    }
    return p;
}

// ---- the cached packing of a weight ----------------------------------------------------------

std::shared_ptr<const PackedBf16> packed_bf16(const Tensor& b) {
    return std::static_pointer_cast<const PackedBf16>(
        cached_packing(b, PackKind::bf16_panels, [](const Tensor& w) {
            auto packed = std::make_shared<PackedBf16>();
            with_matrix_layout(w, [&](const float* p, int64_t ld, bool b_nk) {
                *packed = pack_bf16(w.size(0), w.size(1), p, ld, b_nk);
            });
            return std::shared_ptr<const void>(packed);
        }));
}

// ---- which kernel runs ------------------------------------------------------------------------

bool has_bf16_kernel(Bf16Kernel k) {
    switch (k) {
#if defined(__AVX512BF16__)
        case Bf16Kernel::dpbf16: return true;
#endif
#if defined(GRADSTACK_SIMD_TILES)
        case Bf16Kernel::fma: return true;
#endif
        case Bf16Kernel::plain: return true;
        default: return false;
    }
}

Bf16Kernel best_bf16_kernel() {
    return has_bf16_kernel(Bf16Kernel::fma) ? Bf16Kernel::fma : Bf16Kernel::plain;
}

namespace {
std::atomic<int> forced_kernel{-1};
}

Bf16Kernel bf16_kernel() {
    const int f = forced_kernel.load();
    return f < 0 ? best_bf16_kernel() : static_cast<Bf16Kernel>(f);
}

void force_bf16_kernel(Bf16Kernel k) {
    check(has_bf16_kernel(k), "[bf16 matmul] this build has no {} kernel", bf16_kernel_name(k));
    forced_kernel.store(static_cast<int>(k));
}

const char* bf16_kernel_name(Bf16Kernel k) {
    switch (k) {
        case Bf16Kernel::fma:
            return kLanes == 16 ? "avx512f fma (bfloat16 widened to float32)"
                                : "avx2 fma (bfloat16 widened to float32)";
        case Bf16Kernel::dpbf16: return "avx512-bf16 vdpbf16ps";
        case Bf16Kernel::plain: return "plain loops";
    }
    return "?";
}

// ---- the tiles --------------------------------------------------------------------------------
//
// Every tile computes, for each output, acc = 0; for each pair r: acc += a(2r+1) b(2r+1) (rounded
// to float32), then acc += a(2r) b(2r) (rounded): VDPBF16PS's order, which the others follow so
// that all three give the same bits. Each product of two bfloat16 values is exact in float32.
// a comes as float32 values already rounded to bfloat16 (fma, plain: a(m, k) = a[m * lda + k],
// K padded to even with a zero) or as pairs (dpbf16: a[m * lda + r] holds a(2r), a(2r+1)).

namespace {

constexpr int kRows = kTileRows;  // rows of a per tile (8, AVX2: 4)

// The high (odd-k) and low (even-k) bfloat16 of a packed pair, as float32.
inline float odd_half(uint32_t w) { return std::bit_cast<float>(w & 0xFFFF0000u); }
inline float even_half(uint32_t w) { return std::bit_cast<float>(w << 16); }

void plain_tile(int rows, int64_t pairs, const float* a, int64_t lda, const uint32_t* panel,
                float* c, int64_t ldc, int64_t cols, bool accumulate) {
    for (int m = 0; m < rows; ++m)
        for (int64_t j = 0; j < cols; ++j) {
            float acc = 0.0f;
            for (int64_t r = 0; r < pairs; ++r) {
                const uint32_t w = panel[r * kBf16Panel + j];
                acc = std::fma(a[m * lda + 2 * r + 1], odd_half(w), acc);
                acc = std::fma(a[m * lda + 2 * r], even_half(w), acc);
            }
            float& out = c[m * ldc + j];
            out = accumulate ? out + acc : acc;
        }
}

#if defined(GRADSTACK_SIMD_TILES)
// The fma tile: each row of the panel (kTileVecs vectors of pairs) is widened into its odd and
// even halves (a mask and a shift: a bfloat16 is the top half of a float32), then every row of a
// meets them with two broadcasts and two FMAs per vector. On the CPUs measured, FMAs run two per
// cycle and VDPBF16PS one every two, so this does 2x the multiply-adds of the dpbf16 tile per
// cycle; it reads the same half-size weight.
template <int MR>
void fma_tile(int64_t pairs, const float* a, int64_t lda, const uint32_t* panel, float* c,
              int64_t ldc, int64_t cols, bool accumulate) {
    using namespace simd;
    Vec acc[MR][kTileVecs];
    zero_tile(acc);
    for (int64_t r = 0; r < pairs; ++r) {
        const uint32_t* w = panel + r * kBf16Panel;
        const char* ahead = reinterpret_cast<const char*>(w + 32 * kBf16Panel);
        for (size_t line = 0; line < kBf16Panel * sizeof(uint32_t); line += 64)
            _mm_prefetch(ahead + line, _MM_HINT_T0);
        {
            Vec odd[kTileVecs];
            for (int j = 0; j < kTileVecs; ++j) odd[j] = odd_halves(w + j * kLanes);
#pragma GCC unroll 8
            for (int m = 0; m < MR; ++m) {
                const Vec x = splat(a[m * lda + 2 * r + 1]);
                for (int j = 0; j < kTileVecs; ++j) acc[m][j] = fma(x, odd[j], acc[m][j]);
            }
        }
        Vec even[kTileVecs];
        for (int j = 0; j < kTileVecs; ++j) even[j] = even_halves(w + j * kLanes);
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            const Vec x = splat(a[m * lda + 2 * r]);
            for (int j = 0; j < kTileVecs; ++j) acc[m][j] = fma(x, even[j], acc[m][j]);
        }
    }
    store_tile(acc, c, ldc, cols, accumulate);
}

#if defined(__AVX512BF16__)
// The dpbf16 tile: one VDPBF16PS per vector of pairs and row of a (a's pair broadcast).
template <int MR>
void dpbf16_tile(int64_t pairs, const uint32_t* a, int64_t lda, const uint32_t* panel, float* c,
                 int64_t ldc, int64_t cols, bool accumulate) {
    __m512 acc[MR][3];
    simd::zero_tile(acc);
    for (int64_t r = 0; r < pairs; ++r) {
        const uint32_t* w = panel + r * kBf16Panel;
        const __m512bh w0 = (__m512bh)_mm512_loadu_si512(w), w1 = (__m512bh)_mm512_loadu_si512(w + 16),
                       w2 = (__m512bh)_mm512_loadu_si512(w + 32);
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            const __m512bh x = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[m * lda + r]));
            acc[m][0] = _mm512_dpbf16_ps(acc[m][0], x, w0);
            acc[m][1] = _mm512_dpbf16_ps(acc[m][1], x, w1);
            acc[m][2] = _mm512_dpbf16_ps(acc[m][2], x, w2);
        }
    }
    simd::store_tile(acc, c, ldc, cols, accumulate);
}
#endif

// The tiles as with_rows (simd_tiles.h) calls them.
template <int MR>
struct FmaTile {
    template <class... Args>
    static void run(Args... args) { fma_tile<MR>(args...); }
};
#if defined(__AVX512BF16__)
template <int MR>
struct DpTile {
    template <class... Args>
    static void run(Args... args) { dpbf16_tile<MR>(args...); }
};
#endif
#endif

// a prepared for the tiles (see above): float32 rounded values, or pairs for dpbf16.
struct PreparedA {
    std::vector<float> values;
    std::vector<uint32_t> pairs;
    int64_t ld = 0;
};

PreparedA prepare_a(Bf16Kernel kernel, int64_t M, int64_t K, int64_t n_pairs, const float* a,
                    int64_t a_rs, int64_t a_cs) {
    PreparedA p;
    const bool as_pairs = kernel == Bf16Kernel::dpbf16;
    p.ld = as_pairs ? std::max<int64_t>(n_pairs, 1) : std::max<int64_t>(2 * n_pairs, 1);
    if (as_pairs)
        p.pairs.assign(static_cast<size_t>(M * p.ld), 0u);
    else
        p.values.assign(static_cast<size_t>(M * p.ld), 0.0f);
    // (Loops the compiler vectorises for a contiguous a; split over threads for a long a.)
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && M * K >= (1 << 17))
    for (int64_t m = 0; m < M; ++m) {
        const float* am = a + m * a_rs;
        if (as_pairs) {
            uint32_t* out = p.pairs.data() + m * p.ld;
            for (int64_t k = 0; k < K; ++k) out[k / 2] |= uint32_t{to_bf16(am[k * a_cs])} << (16 * (k % 2));
        } else {
            float* out = p.values.data() + m * p.ld;
            if (a_cs == 1)
                for (int64_t k = 0; k < K; ++k) out[k] = round_to_bf16(am[k]);
            else
                for (int64_t k = 0; k < K; ++k) out[k] = round_to_bf16(am[k * a_cs]);
        }
    }
    return p;
}

// Panels [p0, p1) of c, all rows: one thread's work.
void panels(Bf16Kernel kernel, int64_t M, int64_t p0, int64_t p1, const PreparedA& a,
            const PackedBf16& b, float* c, int64_t ldc, bool accumulate) {
    for (int64_t p = p0; p < p1; ++p) {
        const uint32_t* panel = b.data.data() + p * b.pairs * kBf16Panel;
        const int64_t n0 = p * kBf16Panel, cols = std::min(kBf16Panel, b.N - n0);
        for (int64_t m = 0; m < M; m += kRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kRows, M - m));
            float* cm = c + m * ldc + n0;
            switch (kernel) {
#if defined(GRADSTACK_SIMD_TILES)
#if defined(__AVX512BF16__)
                case Bf16Kernel::dpbf16:
                    with_rows<kRows, DpTile>(rows, b.pairs, a.pairs.data() + m * a.ld, a.ld, panel,
                                             cm, ldc, cols, accumulate);
                    break;
#endif
                case Bf16Kernel::fma:
                    with_rows<kRows, FmaTile>(rows, b.pairs, a.values.data() + m * a.ld, a.ld, panel,
                                              cm, ldc, cols, accumulate);
                    break;
#endif
                default:
                    plain_tile(rows, b.pairs, a.values.data() + m * a.ld, a.ld, panel, cm, ldc, cols,
                               accumulate);
            }
        }
    }
}

}  // namespace

void bf16_gemm(int64_t M, const float* a, int64_t a_rs, int64_t a_cs, const PackedBf16& b, float* c,
               int64_t ldc, bool accumulate) {
    if (M <= 0 || b.N <= 0) return;
    const Bf16Kernel kernel = bf16_kernel();
    const PreparedA prepared = prepare_a(kernel, M, b.K, b.pairs, a, a_rs, a_cs);
    for_each_thread_range(b.panels, M * b.N * b.K >= (1 << 16), [&](int64_t p0, int64_t p1) {
        panels(kernel, M, p0, p1, prepared, b, c, ldc, accumulate);
    });
}

}  // namespace gradstack::cpu
