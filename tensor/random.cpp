// Philox-4x32-10 and the random tensor factories (see random.h). Each element takes words from
// its own counter block, so the loops below can run in parallel and still give the same numbers.
#include "tensor/random.h"

#include <cmath>
#include <numbers>

namespace gradstack {

std::array<uint32_t, 4> Generator::block(uint64_t counter) const {
    constexpr uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
    constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
    uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
    uint32_t c2 = 0, c3 = 0;
    uint32_t k0 = static_cast<uint32_t>(seed_), k1 = static_cast<uint32_t>(seed_ >> 32);
    for (int round = 0; round < 10; ++round) {
        uint64_t p0 = static_cast<uint64_t>(kMul0) * c0;
        uint64_t p1 = static_cast<uint64_t>(kMul1) * c2;
        uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
        c1 = static_cast<uint32_t>(p1);
        c3 = static_cast<uint32_t>(p0);
        c0 = n0;
        c2 = n2;
        k0 += kWeyl0;
        k1 += kWeyl1;
    }
    return {c0, c1, c2, c3};
}

Generator& default_generator() {
    static Generator gen(0);
    return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {

// Fills a fresh tensor with f(block) for element i, block = gen.block(base + i).
template <class T, class F>
Tensor fill_random(const Shape& shape, DType dtype, Generator* gen, F f) {
    Generator& g = gen ? *gen : default_generator();
    Tensor t = empty(shape, dtype);
    const int64_t n = t.numel();
    const uint64_t base = g.advance(static_cast<uint64_t>(n));
    T* p = t.data<T>();
#pragma omp parallel for schedule(static) if (n > 1 << 15)
    for (int64_t i = 0; i < n; ++i) p[i] = f(g.block(base + static_cast<uint64_t>(i)));
    return t;
}

}  // namespace

Tensor randn(const Shape& shape, DType dtype, Generator* gen) {
    return visit_floating(dtype, "randn", [&]<class T>() {
        return fill_random<T>(shape, dtype, gen, [](const std::array<uint32_t, 4>& w) {
            // Box-Muller: u1 in (0, 1] keeps the log finite.
            double u1 = 1.0 - uniform_double(w[0], w[1]);
            double u2 = uniform_double(w[2], w[3]);
            return static_cast<T>(std::sqrt(-2.0 * std::log(u1)) *
                                  std::cos(2.0 * std::numbers::pi * u2));
        });
    });
}

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator* gen) {
    check(low <= high, "[uniform] low {} must be <= high {}", low, high);
    return visit_floating(dtype, "uniform", [&]<class T>() {
        return fill_random<T>(shape, dtype, gen, [=](const std::array<uint32_t, 4>& w) {
            T u = std::is_same_v<T, float> ? static_cast<T>(uniform_float(w[0]))
                                           : static_cast<T>(uniform_double(w[0], w[1]));
            return static_cast<T>(low + (high - low) * u);
        });
    });
}

Tensor rand(const Shape& shape, DType dtype, Generator* gen) {
    return uniform(shape, 0, 1, dtype, gen);
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen) {
    check(low < high, "[randint] low {} must be < high {}", low, high);
    const uint64_t range = static_cast<uint64_t>(high - low);
    return fill_random<int64_t>(shape, DType::i64, gen, [=](const std::array<uint32_t, 4>& w) {
        // 64 random bits modulo the range: bias below 2^-32 for any range under 2^32.
        uint64_t bits = (static_cast<uint64_t>(w[0]) << 32) | w[1];
        return low + static_cast<int64_t>(bits % range);
    });
}

Tensor randperm(int64_t n, Generator* gen) {
    check(n >= 0, "[randperm] n must be >= 0, got {}", n);
    Generator& g = gen ? *gen : default_generator();
    Tensor t = arange(n);
    int64_t* p = t.data<int64_t>();
    const uint64_t base = g.advance(static_cast<uint64_t>(n));
    for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
        auto w = g.block(base + static_cast<uint64_t>(i));
        uint64_t bits = (static_cast<uint64_t>(w[0]) << 32) | w[1];
        std::swap(p[i], p[bits % static_cast<uint64_t>(i + 1)]);
    }
    return t;
}

}  // namespace gradstack
