// Philox-4x32-10 over many counters at once, for the CPU kernels that draw dropout masks
// (cpu/dropout.cpp, cpu/attention.cpp): lane by lane exactly Generator::block (tensor/random.cpp),
// written over arrays so that the compiler runs the lanes in vector registers, and the keep test
// that both kernels share. Read next: cpu/dropout.cpp.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace gradstack::cpu {

// Blocks per philox_lanes call; each block gives 4 words.
constexpr int64_t kPhiloxLanes = 16;

// out[k][l] = word k of Philox block (counter + l) under `seed`, for l < kPhiloxLanes.
// One Generator::block call per 4 elements costs ~10x more than the rest of dropout; this runs
// the 16 blocks side by side.
#if defined(__AVX2__) && !defined(__AVX512F__)
// With AVX2 (and no AVX-512): 8 blocks per 256-bit vector, one 32-bit word each. vpmuludq
// multiplies the even 32-bit lanes into 64-bit products, so each round multiplies the even lanes
// and the odd ones (shifted down) and blends the halves back. GCC vectorises the portable loops
// below with 128-bit vectors and an emulated 64-bit multiply here: measured on a Zen 1 EPYC, 500
// ns per 16 blocks against 129 ns for this (the attention dropout masks it draws were a third of
// the notebook recipe's training step).
inline void philox_lanes(uint64_t seed, uint64_t counter, uint32_t (&out)[4][kPhiloxLanes]) {
    const __m256i mul0 = _mm256_set1_epi64x(0xD2511F53), mul1 = _mm256_set1_epi64x(0xCD9E8D57);
    // hi, lo = the high and low 32 bits of each 32-bit lane of x times m's low word (64-bit
    // products).
    auto mul_hi_lo = [](__m256i x, __m256i m, __m256i& hi, __m256i& lo) {
        const __m256i even = _mm256_mul_epu32(x, m),
                      odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
        hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
        lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    };
    for (int64_t h = 0; h < kPhiloxLanes; h += 8) {
        alignas(32) uint32_t low[8], high[8];
        for (int l = 0; l < 8; ++l) {
            const uint64_t c = counter + static_cast<uint64_t>(h + l);
            low[l] = static_cast<uint32_t>(c);
            high[l] = static_cast<uint32_t>(c >> 32);
        }
        __m256i c0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(low));
        __m256i c1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(high));
        __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
        uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
        for (int round = 0; round < 10; ++round) {
            __m256i hi0, lo0, hi1, lo1;
            mul_hi_lo(c0, mul0, hi0, lo0);
            mul_hi_lo(c2, mul1, hi1, lo1);
            const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1),
                                                _mm256_set1_epi32(static_cast<int>(k0)));
            const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3),
                                                _mm256_set1_epi32(static_cast<int>(k1)));
            c1 = lo1;
            c3 = lo0;
            c0 = n0;
            c2 = n2;
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[0] + h), c0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[1] + h), c1);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[2] + h), c2);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[3] + h), c3);
    }
}
#else
inline void philox_lanes(uint64_t seed, uint64_t counter, uint32_t (&out)[4][kPhiloxLanes]) {
    constexpr uint64_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
    constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
    constexpr uint64_t kLow = 0xFFFFFFFF;
    // 32-bit words kept in 64-bit lanes, masked to their low half, so that each 32 x 32 -> 64
    // bit product maps to one vector instruction (vpmuludq).
    uint64_t c0[kPhiloxLanes], c1[kPhiloxLanes], c2[kPhiloxLanes], c3[kPhiloxLanes];
    for (int64_t l = 0; l < kPhiloxLanes; ++l) {
        const uint64_t c = counter + static_cast<uint64_t>(l);
        c0[l] = c & kLow;
        c1[l] = c >> 32;
        c2[l] = 0;
        c3[l] = 0;
    }
    uint64_t k0 = seed & kLow, k1 = seed >> 32;
    for (int round = 0; round < 10; ++round) {
        for (int64_t l = 0; l < kPhiloxLanes; ++l) {
            const uint64_t p0 = kMul0 * (c0[l] & kLow);
            const uint64_t p1 = kMul1 * (c2[l] & kLow);
            const uint64_t n0 = (p1 >> 32) ^ c1[l] ^ k0;
            const uint64_t n2 = (p0 >> 32) ^ c3[l] ^ k1;
            c1[l] = p1 & kLow;
            c3[l] = p0 & kLow;
            c0[l] = n0;
            c2[l] = n2;
        }
        k0 = (k0 + kWeyl0) & kLow;
        k1 = (k1 + kWeyl1) & kLow;
    }
    for (int64_t l = 0; l < kPhiloxLanes; ++l) {
        out[0][l] = static_cast<uint32_t>(c0[l]);
        out[1][l] = static_cast<uint32_t>(c1[l]);
        out[2][l] = static_cast<uint32_t>(c2[l]);
        out[3][l] = static_cast<uint32_t>(c3[l]);
    }
}
#endif

// A word's top 24 bits u = (w >> 8) / 2^24 are the uniform of random.h's uniform_float; an
// element is kept when u >= p, i.e. when (w >> 8) >= keep_threshold(p) = ceil(p 2^24).
inline uint32_t keep_threshold(double p) {
    return static_cast<uint32_t>(std::ceil(p * 0x1p24));
}

}  // namespace gradstack::cpu
