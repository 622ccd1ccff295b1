// Philox-4x32-10 over many counters at once, for the CPU kernels that draw dropout masks
// (cpu/dropout.cpp, cpu/attention.cpp): lane by lane exactly Generator::block (tensor/random.cpp),
// written over arrays so that the compiler runs the lanes in vector registers, and the keep test
// that both kernels share. Read next: cpu/dropout.cpp.
#pragma once

#include <cmath>
#include <cstdint>

namespace gradstack::cpu {

// Blocks per philox_lanes call; each block gives 4 words.
constexpr int64_t kPhiloxLanes = 16;

// out[k][l] = word k of Philox block (counter + l) under `seed`, for l < kPhiloxLanes.
// One Generator::block call per 4 elements costs ~10x more than the rest of dropout; this runs
// the 16 blocks side by side.
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

// A word's top 24 bits u = (w >> 8) / 2^24 are the uniform of random.h's uniform_float; an
// element is kept when u >= p, i.e. when (w >> 8) >= keep_threshold(p) = ceil(p 2^24).
inline uint32_t keep_threshold(double p) {
    return static_cast<uint32_t>(std::ceil(p * 0x1p24));
}

}  // namespace gradstack::cpu
