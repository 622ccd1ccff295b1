// Seeded random numbers that do not depend on the thread count. The generator is counter based
// (Philox-4x32-10, Salmon et al. 2011): element i of a draw is a pure function of (seed, counter +
// i), so the same seed gives the same numbers however the work is split across threads.
// Read next: print.h.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/tensor.h"

namespace gradstack {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}
    void manual_seed(uint64_t seed) {
        seed_ = seed;
        counter_ = 0;
    }
    uint64_t seed() const { return seed_; }
    // Reserves `n` blocks of 4 random 32-bit words and returns the first block's counter.
    uint64_t advance(uint64_t n) {
        uint64_t c = counter_;
        counter_ += n;
        return c;
    }
    uint64_t counter() const { return counter_; }
    void set_counter(uint64_t counter) { counter_ = counter; }

    // The 4 words of block `counter` (Philox-4x32 with 10 rounds, keyed by the seed).
    std::array<uint32_t, 4> block(uint64_t counter) const;

private:
    uint64_t seed_;
    uint64_t counter_ = 0;
};

// The process-wide generator used when none is passed. Seed it with manual_seed.
Generator& default_generator();
void manual_seed(uint64_t seed);

// Uniform floats in [0, 1) from a 32-bit word (24 bits, exact in float32) or two (53 bits).
inline float uniform_float(uint32_t w) { return static_cast<float>(w >> 8) * 0x1p-24f; }
inline double uniform_double(uint32_t hi, uint32_t lo) {
    return static_cast<double>((static_cast<uint64_t>(hi) << 21) | (lo >> 11)) * 0x1p-53;
}

// Standard normal samples (Box-Muller), U[low, high) samples, and integers in [low, high).
Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::f32,
               Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen = nullptr);
// A random permutation of 0..n-1 (int64).
Tensor randperm(int64_t n, Generator* gen = nullptr);

}  // namespace gradstack
