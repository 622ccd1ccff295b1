// Row helpers shared by the fused CPU kernels (softmax, layer norm, cross-entropy): an exp that
// the compiler can vectorise, the max / sum-of-exp reductions of one contiguous row, and a loop
// that runs a function over rows in parallel. Read next: cpu/layer_norm.cpp and
// cpu/cross_entropy.cpp, the other kernels built on these helpers.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "tensor/cpu/loops.h"

namespace gradstack::cpu {

// exp(x) in float32 to about 1 ulp, written with plain arithmetic so that a loop calling it
// vectorises (glibc's expf does not without -ffast-math). Cephes' expf: split x = n ln2 + r with
// |r| <= ln2 / 2 (ln2 in two parts, Cody-Waite, so r is nearly exact), e^r by a degree-7
// polynomial, then scale by 2^n. 2^n is applied as two factors 2^(n/2) 2^(n - n/2), so results
// down in the subnormal range are right too. NaN stays NaN, exp(-inf) = 0, exp(+inf) = inf.
inline float exp_f32(float x) {
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kLn2Hi = 0.693359375f;  // 9 significant bits: n * kLn2Hi is exact
    constexpr float kLn2Lo = -2.12194440e-4f;
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    x = x < -110.0f ? -110.0f : x;         // below -104, exp underflows to 0; comparisons with
    x = x > 89.0f ? 89.0f : x;             // NaN are false, so NaN passes through
    const float t = x * kLog2e + kRound;
    const float n = t - kRound;
    float r = x - n * kLn2Hi;
    r = r - n * kLn2Lo;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float e = p * r * r + r + 1.0f;
    // The integer n sits in the low mantissa bits of t (t stays in [2^23, 2^24)).
    const int32_t ni =
        static_cast<int32_t>(std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(kRound));
    const int32_t n1 = ni >> 1, n2 = ni - n1;  // n in [-159, 129]: both halves are normal
    const float s1 = std::bit_cast<float>(static_cast<uint32_t>(n1 + 127) << 23);
    const float s2 = std::bit_cast<float>(static_cast<uint32_t>(n2 + 127) << 23);
    return e * s1 * s2;
}

// exp for the kernels' element types: the vectorisable one for float, libm's for double.
inline float exp_of(float x) {
    return exp_f32(x);
}
inline double exp_of(double x) {
    return std::exp(x);
}

// max of x[0..n), -inf for an empty row. NaN elements are skipped here; they still reach the
// result through exp(NaN - max) in the sum that follows.
template <class T>
T row_max(const T* x, int64_t n) {
    T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
    return m;
}

// sum of exp(x[i] - shift), accumulated in double (a float32 sum over 50257 vocabulary logits
// would lose about 4 digits). The exps go through a small buffer: a single loop that mixes float
// exps with a double sum vectorises at half width and runs about 4x slower.
template <class T>
double row_sum_exp(const T* x, int64_t n, T shift) {
    constexpr int64_t kBlock = 256;
    alignas(64) T buf[kBlock];
    double s = 0;
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
        const int64_t len = std::min(kBlock, n - i0);
        for (int64_t i = 0; i < len; ++i) buf[i] = exp_of(x[i0 + i] - shift);
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < len; ++i) s += static_cast<double>(buf[i]);
    }
    return s;
}

// sum of x[i] (in double).
template <class T>
double row_sum(const T* x, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
    return s;
}

// Calls f(r) for r in [0, rows), in parallel when rows * row_len is worth a parallel region.
// f must not throw (exceptions cannot leave an OpenMP region): check inputs before.
template <class F>
void parallel_rows(int64_t rows, int64_t row_len, F&& f) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * row_len >= kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) f(r);
}

}  // namespace gradstack::cpu
