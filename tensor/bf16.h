// bfloat16: the top 16 bits of a float32 (sign, the same 8 exponent bits, 7 of the 23 mantissa
// bits), so it spans float32's range with about 3 significant decimal digits. Used by the bf16
// matmul precision (tensor/kernels/linalg.h) and its kernels (cpu/bf16_gemm.h,
// reference/matmul.cpp). Read next: cpu/bf16_gemm.h.
#pragma once

#include <bit>
#include <cstdint>

namespace gradstack {

// float32 -> bfloat16 bits, rounded to nearest even; a NaN stays a (quiet) NaN, infinities stay.
inline uint16_t to_bf16(float x) {
    const uint32_t bits = std::bit_cast<uint32_t>(x);
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
    // Round to nearest even: add 0x7FFF plus the lowest kept bit, then drop the low half.
    return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// bfloat16 bits -> the float32 they stand for (exact).
inline float from_bf16(uint16_t x) {
    return std::bit_cast<float>(static_cast<uint32_t>(x) << 16);
}

// x rounded to the nearest bfloat16, as a float32.
inline float round_to_bf16(float x) { return from_bf16(to_bf16(x)); }

}  // namespace gradstack
