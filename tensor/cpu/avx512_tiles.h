// Pieces the register-tile GEMMs share (small_gemm.cpp, bf16_gemm.cpp): lane masks for a ragged
// last vector, zeroing and storing a tile of MR rows x 3 vectors of accumulators, the switch from
// a run-time row count to the tile compiled for it, and the split of a weight's column panels
// over the OpenMP threads. Read next: small_gemm.cpp.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace gradstack::cpu {

// Calls fn(u0, u1) once per thread with that thread's contiguous range of [0, units): one weight
// panel range each, so each thread streams its own part of the weight. One thread (fn(0, units))
// inside any parallel region (even one an `if` clause made serial: a team opened there would be
// a nested one, its threads created anew on every call), on one thread, or when `big_enough` is
// false.
template <class Fn>
void for_each_thread_range(int64_t units, bool big_enough, const Fn& fn) {
    const bool parallel = big_enough && units > 1 && omp_get_level() == 0 && omp_get_max_threads() > 1;
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

#if defined(__AVX512F__)
inline constexpr int kLanes = 16;

// The lanes of a 16-float vector that lie before column `left` (all when left >= 16).
inline __mmask16 lanes_before(int64_t left) {
    return left >= kLanes ? __mmask16(0xFFFF) : __mmask16((1u << std::max<int64_t>(left, 0)) - 1);
}

template <int MR>
inline void zero_tile(__m512 (&acc)[MR][3]) {
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < 3; ++j) acc[m][j] = _mm512_setzero_ps();
}

// c[m, 0:cols] = acc[m] (+ c[m, 0:cols] when accumulate) for cols <= 48; lanes past cols are
// neither read nor written.
template <int MR>
inline void store_tile(const __m512 (&acc)[MR][3], float* c, int64_t ldc, int64_t cols,
                       bool accumulate) {
    const __mmask16 mask[3] = {lanes_before(cols), lanes_before(cols - kLanes),
                               lanes_before(cols - 2 * kLanes)};
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m)
        for (int j = 0; j < 3; ++j) {
            float* cm = c + m * ldc + j * kLanes;
            __m512 v = acc[m][j];
            if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[j], cm));
            _mm512_mask_storeu_ps(cm, mask[j], v);
        }
}
#endif

}  // namespace gradstack::cpu
