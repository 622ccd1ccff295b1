// The bfloat16 GEMM (bf16_gemm.h). One register tile, as small_gemm.cpp's broadcast tile: a panel
// of 48 columns of the packed b is walked pair of k by pair of k; each row of the panel (3
// vectors of 16 lanes, each lane a pair of bfloat16) meets a(m, 2r) and a(m, 2r + 1), broadcast as
// one pair, for up to 8 rows of a: 24 accumulators of 16 float32 sums. With VDPBF16PS one
// instruction multiplies both halves of every lane and adds them in; without it the pair is
// widened to two float32 vectors (a bfloat16 is the top half of a float32: shift or mask) and two
// FMAs do the same. a is rounded to bfloat16 pairs once per call (M x K values, small).
#include "tensor/cpu/bf16_gemm.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>

#include "tensor/error.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

// ---- the cache of packed weights -------------------------------------------------------------

namespace {

// One packed matrix: which storage (held weakly: the cache never keeps a weight alive), at which
// version, which view of it (offset, shape, strides).
struct CacheEntry {
    std::weak_ptr<Storage> storage;
    const Storage* address = nullptr;
    uint64_t version = 0;
    int64_t offset = 0, rows = 0, cols = 0, rs = 0, cs = 0;
    std::shared_ptr<const PackedBf16> packed;
};

struct PackCache {
    std::mutex mutex;
    std::vector<CacheEntry> entries;
};

PackCache& pack_cache() {
    static PackCache* cache = new PackCache;  // never destroyed: lookups may come at exit
    return *cache;
}

}  // namespace

std::shared_ptr<const PackedBf16> packed_bf16(const Tensor& b) {
    check(b.dim() == 2 && b.dtype() == DType::f32, "[bf16 matmul] packs a 2-d float32 matrix, got {} {}",
          b.dtype(), shape_str(b.shape()));
    const std::shared_ptr<Storage>& storage = b.storage();
    const int64_t rows = b.size(0), cols = b.size(1), rs = b.strides()[0], cs = b.strides()[1];
    PackCache& cache = pack_cache();
    {
        std::lock_guard<std::mutex> lock(cache.mutex);
        // Entries whose storage is gone (a freed weight) or was written since are dropped.
        std::erase_if(cache.entries, [](const CacheEntry& e) {
            const std::shared_ptr<Storage> s = e.storage.lock();
            return !s || s->version() != e.version;
        });
        for (const CacheEntry& e : cache.entries)
            if (e.address == storage.get() && e.offset == b.offset() && e.rows == rows &&
                e.cols == cols && e.rs == rs && e.cs == cs)
                return e.packed;
    }
    // Pack outside the lock (a 38M-element head takes a moment). b(k, n) is read through its
    // strides: row-major or a transposed view.
    auto packed = std::make_shared<PackedBf16>();
    const float* p = b.data<float>();
    if (cs == 1 || cols == 1)
        *packed = pack_bf16(rows, cols, p, rows == 1 ? cols : rs, false);
    else if (rs == 1 || rows == 1)
        *packed = pack_bf16(rows, cols, p, cs, true);
    else {
        Tensor c = empty({rows, cols});
        float* q = c.data<float>();
        for (int64_t i = 0; i < rows; ++i)
            for (int64_t j = 0; j < cols; ++j) q[i * cols + j] = p[i * rs + j * cs];
        *packed = pack_bf16(rows, cols, q, cols, false);
    }
    std::lock_guard<std::mutex> lock(cache.mutex);
    cache.entries.push_back({storage, storage.get(), storage->version(), b.offset(), rows, cols,
                             rs, cs, packed});
    return packed;
}

// ---- which kernel runs ------------------------------------------------------------------------

Bf16Kernel best_bf16_kernel() {
#if defined(__AVX512BF16__)
    return Bf16Kernel::dpbf16;
#elif defined(__AVX512F__)
    return Bf16Kernel::avx512;
#else
    return Bf16Kernel::plain;
#endif
}

namespace {
std::atomic<int> forced_kernel{-1};
}

Bf16Kernel bf16_kernel() {
    const int f = forced_kernel.load();
    return f < 0 ? best_bf16_kernel() : static_cast<Bf16Kernel>(f);
}

void force_bf16_kernel(Bf16Kernel k) {
    check(static_cast<int>(k) >= static_cast<int>(best_bf16_kernel()),
          "[bf16 matmul] this build has no {} kernel (the best here is {})", bf16_kernel_name(k),
          bf16_kernel_name(best_bf16_kernel()));
    forced_kernel.store(static_cast<int>(k));
}

const char* bf16_kernel_name(Bf16Kernel k) {
    switch (k) {
        case Bf16Kernel::dpbf16: return "avx512-bf16 (vdpbf16ps)";
        case Bf16Kernel::avx512: return "avx512f (widened to float32)";
        case Bf16Kernel::plain: return "plain loops";
    }
    return "?";
}

// ---- the tiles --------------------------------------------------------------------------------

namespace {

constexpr int kRows = 8;  // rows of a per tile

// The plain tile: the same sums in the same order as the vector ones, one lane at a time.
void plain_tile(int rows, int64_t pairs, const uint32_t* a, int64_t lda, const uint32_t* panel,
                float* c, int64_t ldc, int64_t cols, bool accumulate) {
    for (int m = 0; m < rows; ++m)
        for (int64_t j = 0; j < cols; ++j) {
            float acc = 0.0f;
            for (int64_t r = 0; r < pairs; ++r) {
                const uint32_t x = a[m * lda + r], w = panel[r * kBf16Panel + j];
                acc = std::fma(from_bf16(static_cast<uint16_t>(x >> 16)),
                               from_bf16(static_cast<uint16_t>(w >> 16)), acc);
                acc = std::fma(from_bf16(static_cast<uint16_t>(x)), from_bf16(static_cast<uint16_t>(w)),
                               acc);
            }
            float& out = c[m * ldc + j];
            out = accumulate ? out + acc : acc;
        }
}

#if defined(__AVX512F__)
__mmask16 lanes_before(int64_t left) {
    return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << std::max<int64_t>(left, 0)) - 1);
}

// acc += (the odd halves of x and w multiplied) then += (the even halves): VDPBF16PS's order.
template <bool kDp>
inline __m512 dot_pairs(__m512 acc, __m512i x, __m512i w) {
#if defined(__AVX512BF16__)
    if constexpr (kDp) return _mm512_dpbf16_ps(acc, (__m512bh)x, (__m512bh)w);
#endif
    const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
    acc = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(x, high)),
                          _mm512_castsi512_ps(_mm512_and_si512(w, high)), acc);
    return _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(x, 16)),
                           _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)), acc);
}

template <int MR, bool kDp>
void vector_tile(int64_t pairs, const uint32_t* a, int64_t lda, const uint32_t* panel, float* c,
                 int64_t ldc, int64_t cols, bool accumulate) {
    const __mmask16 mask[3] = {lanes_before(cols), lanes_before(cols - 16), lanes_before(cols - 32)};
    __m512 acc[MR][3];
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < 3; ++j) acc[m][j] = _mm512_setzero_ps();
    for (int64_t r = 0; r < pairs; ++r) {
        const uint32_t* w = panel + r * kBf16Panel;
        _mm_prefetch(reinterpret_cast<const char*>(w + 8 * kBf16Panel), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(w + 8 * kBf16Panel) + 64, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(w + 8 * kBf16Panel) + 128, _MM_HINT_T0);
        const __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + 16),
                      w2 = _mm512_loadu_si512(w + 32);
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) {
            const __m512i x = _mm512_set1_epi32(static_cast<int>(a[m * lda + r]));
            acc[m][0] = dot_pairs<kDp>(acc[m][0], x, w0);
            acc[m][1] = dot_pairs<kDp>(acc[m][1], x, w1);
            acc[m][2] = dot_pairs<kDp>(acc[m][2], x, w2);
        }
    }
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < 3; ++j) {
            float* cm = c + m * ldc + j * 16;
            __m512 v = acc[m][j];
            if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[j], cm));
            _mm512_mask_storeu_ps(cm, mask[j], v);
        }
}

// vector_tile<r> for the run-time row count 1 <= r <= R.
template <int R, bool kDp>
void vector_tile_rows(int r, int64_t pairs, const uint32_t* a, int64_t lda, const uint32_t* panel,
                      float* c, int64_t ldc, int64_t cols, bool accumulate) {
    if constexpr (R > 1) {
        if (r < R) return vector_tile_rows<R - 1, kDp>(r, pairs, a, lda, panel, c, ldc, cols, accumulate);
    }
    vector_tile<R, kDp>(pairs, a, lda, panel, c, ldc, cols, accumulate);
}
#endif

// Panels [p0, p1) of c, all rows: one thread's work.
void panels(Bf16Kernel kernel, int64_t M, int64_t p0, int64_t p1, const uint32_t* a, int64_t lda,
            const PackedBf16& b, float* c, int64_t ldc, bool accumulate) {
    for (int64_t p = p0; p < p1; ++p) {
        const uint32_t* panel = b.data.data() + p * b.pairs * kBf16Panel;
        const int64_t n0 = p * kBf16Panel, cols = std::min(kBf16Panel, b.N - n0);
        for (int64_t m = 0; m < M; m += kRows) {
            const int rows = static_cast<int>(std::min<int64_t>(kRows, M - m));
            const uint32_t* am = a + m * lda;
            float* cm = c + m * ldc + n0;
            switch (kernel) {
#if defined(__AVX512F__)
                case Bf16Kernel::dpbf16:
                    vector_tile_rows<kRows, true>(rows, b.pairs, am, lda, panel, cm, ldc, cols, accumulate);
                    break;
                case Bf16Kernel::avx512:
                    vector_tile_rows<kRows, false>(rows, b.pairs, am, lda, panel, cm, ldc, cols, accumulate);
                    break;
#endif
                default: plain_tile(rows, b.pairs, am, lda, panel, cm, ldc, cols, accumulate);
            }
        }
    }
}

}  // namespace

void bf16_gemm(int64_t M, const float* a, int64_t a_rs, int64_t a_cs, const PackedBf16& b, float* c,
               int64_t ldc, bool accumulate) {
    if (M <= 0 || b.N <= 0) return;
    // a as bfloat16 pairs, the layout of a panel row: a_pairs[m * pairs + r] = (a(m, 2r),
    // a(m, 2r + 1)), the odd K padded with a zero.
    const int64_t lda = std::max<int64_t>(b.pairs, 1);
    std::vector<uint32_t> a_pairs(static_cast<size_t>(M * lda), 0u);
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < b.K; ++k) {
            const uint32_t v = to_bf16(a[m * a_rs + k * a_cs]);
            a_pairs[m * lda + k / 2] |= (k % 2 == 0) ? v : v << 16;
        }
    const Bf16Kernel kernel = bf16_kernel();
    const bool parallel = !omp_in_parallel() && omp_get_max_threads() > 1 && b.panels > 1 &&
                          M * b.N * b.K >= (1 << 16);
    const int threads = parallel ? static_cast<int>(std::min<int64_t>(omp_get_max_threads(), b.panels)) : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        panels(kernel, M, b.panels * t / nt, b.panels * (t + 1) / nt, a_pairs.data(), lda, b, c, ldc,
               accumulate);
    }
}

}  // namespace gradstack::cpu
