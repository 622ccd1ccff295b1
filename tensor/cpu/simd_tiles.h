// What the register-tile GEMMs share (small_gemm.cpp, blocked_gemm.cpp, bf16_gemm.cpp): one float
// vector type and the few operations the tiles use on it, for the widest vectors this build has
// (AVX-512: 16 lanes and 32 registers; AVX2 with FMA: 8 lanes and 16 registers), the tile shape
// that fits that register file, zeroing and storing a tile, the switch from a run-time row count
// to the tile compiled for it, and the split of a weight's column panels over the OpenMP threads.
// Each tile is written once against these names and compiles for either width.
// Read next: small_gemm.cpp.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#define GRADSTACK_SIMD_TILES 1  // this build has the tiles; without them the callers use BLAS
#endif

namespace gradstack::cpu {

// Calls fn(u0, u1) once per thread with that thread's contiguous range of [0, units): one weight
// panel range each, so each thread streams its own part of the weight. One thread (fn(0, units))
// inside any parallel region (even one an `if` clause made serial: a team opened there would be
// a nested one, its threads created anew on every call), on one thread, or when `big_enough` is
// false.
template <class Fn>
void for_each_thread_range(int64_t units, bool big_enough, const Fn& fn) {
    const bool parallel =
        big_enough && units > 1 && omp_get_level() == 0 && omp_get_max_threads() > 1;
    const int threads =
        parallel ? static_cast<int>(std::min<int64_t>(omp_get_max_threads(), units)) : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t u0 = units * t / nt, u1 = units * (t + 1) / nt;
        if (u0 < u1) fn(u0, u1);
    }
}

// Calls Tile<r>::run(args...) for the run-time row count 1 <= r <= R, so that every tile height
// has its accumulators in registers (a loop bound known at compile time).
template <int R, template <int> class Tile, class... Args>
void with_rows(int r, Args&&... args) {
    if constexpr (R > 1) {
        if (r < R) return with_rows<R - 1, Tile>(r, args...);
    }
    Tile<R>::run(args...);
}

// The broadcast tile's shape, kTileRows rows of a x kTileVecs vectors of b's columns (a panel of
// kPanel columns), kTileRows x kTileVecs accumulators: 8 x 3 on AVX-512 (24 of the 32 registers,
// 48 columns), 4 x 3 on AVX2 (12 of the 16, 24 columns; measured on a Zen 1 EPYC against 6 x 2,
// BLIS's Haswell shape: the blocked GEMM 64-70 against 57 GFLOP/s at 512 rows). A build
// without either names AVX2's shape: the plain bf16 loops lay their panels out the same way.
#if defined(__AVX512F__)
inline constexpr int kLanes = 16, kTileRows = 8, kTileVecs = 3;
inline constexpr const char* kSimdName = "AVX-512";
#else
inline constexpr int kLanes = 8, kTileRows = 4, kTileVecs = 3;
#if defined(GRADSTACK_SIMD_TILES)
inline constexpr const char* kSimdName = "AVX2";
#else
inline constexpr const char* kSimdName = "none";
#endif
#endif
inline constexpr int kPanel = kTileVecs * kLanes;

#if defined(GRADSTACK_SIMD_TILES)
namespace simd {

#if defined(__AVX512F__)
using Vec = __m512;
using Mask = __mmask16;  // one bit per lane
// The lanes before column `left` (all when left >= kLanes, none when left <= 0).
inline Mask lanes_before(int64_t left) {
    return left >= kLanes ? Mask(0xFFFF) : Mask((1u << std::max<int64_t>(left, 0)) - 1);
}
inline Vec zero() { return _mm512_setzero_ps(); }
inline Vec splat(float x) { return _mm512_set1_ps(x); }
inline Vec load(const float* p) { return _mm512_loadu_ps(p); }
inline Vec load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }  // 0 past m
inline void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
inline void store(float* p, Vec v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
inline Vec fma(Vec x, Vec y, Vec acc) { return _mm512_fmadd_ps(x, y, acc); }
inline Vec add(Vec x, Vec y) { return _mm512_add_ps(x, y); }
inline float sum(Vec v) { return _mm512_reduce_add_ps(v); }
// Lanes of uint32 bfloat16 pairs (bf16_gemm.h) widened to float32: the high (odd k) halves, or
// the low (even k) halves. A bfloat16 is the top half of a float32: a mask or a shift.
inline Vec odd_halves(const uint32_t* p) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_loadu_si512(p), _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
}
inline Vec even_halves(const uint32_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_loadu_si512(p), 16));
}
#else
using Vec = __m256;
using Mask = __m256i;  // all ones in the lanes that load and store
inline Mask lanes_before(int64_t left) {
    const int n = static_cast<int>(std::clamp<int64_t>(left, 0, kLanes));
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline Vec zero() { return _mm256_setzero_ps(); }
inline Vec splat(float x) { return _mm256_set1_ps(x); }
inline Vec load(const float* p) { return _mm256_loadu_ps(p); }
inline Vec load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }  // 0 past m
inline void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
inline void store(float* p, Vec v, Mask m) { _mm256_maskstore_ps(p, m, v); }
inline Vec fma(Vec x, Vec y, Vec acc) { return _mm256_fmadd_ps(x, y, acc); }
inline Vec add(Vec x, Vec y) { return _mm256_add_ps(x, y); }
inline float sum(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
inline Vec odd_halves(const uint32_t* p) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
}
inline Vec even_halves(const uint32_t* p) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
#endif

// Pins v to a register where it is called (an empty asm that claims to change it). A tile that
// uses all of AVX2's 16 registers (12 accumulators, 3 vectors of b, the broadcast) otherwise gets
// each use of a loaded vector folded into its FMA as a memory operand by GCC: b's row loaded once
// per row of a, 12 + 4 loads per 12 FMAs instead of 3 + 4. Zen 3 issues two 256-bit loads per
// cycle, so the loads, not the FMAs, set the pace: measured on a Zen 3 EPYC, one thread, b in L1,
// the 4 x 3 broadcast tile went from 48.7 to 97.3 GFLOP/s (the FMA peak there is 100).
inline void in_register(Vec& v) { __asm__("" : "+v"(v)); }

// load(p, m) when Masked, else load(p): a tile's loop compiled twice, so that the common full
// vectors load without masks (AVX2's masked loads cost more than plain ones).
template <bool Masked>
inline Vec load_lanes(const float* p, Mask m) {
    if constexpr (Masked)
        return load(p, m);
    else
        return load(p);
}

// The masks of a panel's vectors for its first `cols` columns.
template <int NV>
inline void panel_masks(int64_t cols, Mask (&mask)[NV]) {
    for (int j = 0; j < NV; ++j) mask[j] = lanes_before(cols - j * kLanes);
}

template <int MR, int NV>
inline void zero_tile(Vec (&acc)[MR][NV]) {
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < NV; ++j) acc[m][j] = zero();
}

// c[m, 0:cols] = acc[m] (+ c[m, 0:cols] when accumulate) for cols <= NV x kLanes; columns past
// cols are neither read nor written. A full tile takes plain loads and stores: AVX2's masked
// store is microcoded on AMD's cores (measured on a Zen 1 EPYC: the small-M GEMM at M = 8 ran at
// about half the speed with every load and store of b and c masked, 12 against 20-24 GFLOP/s).
template <int MR, int NV>
inline void store_tile(const Vec (&acc)[MR][NV], float* c, int64_t ldc, int64_t cols,
                       bool accumulate) {
    if (cols >= NV * kLanes) {
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m)
            for (int j = 0; j < NV; ++j) {
                float* cm = c + m * ldc + j * kLanes;
                store(cm, accumulate ? add(acc[m][j], load(cm)) : acc[m][j]);
            }
        return;
    }
    Mask mask[NV];
    panel_masks(cols, mask);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < NV; ++j) {
            float* cm = c + m * ldc + j * kLanes;
            Vec v = acc[m][j];
            if (accumulate) v = add(v, load(cm, mask[j]));
            store(cm, v, mask[j]);
        }
}

// r[i][j] <-> r[j][i]: an 8 x 8 block of floats transposed in registers (unpack pairs, shuffle
// quads, swap 128-bit halves). The blocked GEMM's packings and attention's key and value packing
// are transposes of 8-wide strips; this keeps them at vector speed (one load, one store and three
// shuffles per 8 values). 256-bit AVX: both widths have it.
inline void transpose8x8(__m256 (&r)[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

}  // namespace simd
#endif

}  // namespace gradstack::cpu
