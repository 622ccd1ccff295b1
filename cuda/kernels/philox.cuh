// Philox-4x32-10 on the device: word k of block `counter` under `seed`, exactly tensor/random.h's
// Generator::block (and tensor/cpu/philox.h's vector lanes), so that dropout keeps the same
// elements on the GPU as on the CPU for the same (seed, counter). The keep test is also the CPU's:
// element kept when (word >> 8) >= ceil(p 2^24).
// host_philox_block (philox_host.cu) runs the same function on the host, so a test without a GPU
// checks this port against the Generator.
#pragma once

#include <cstdint>

namespace gradstack::cuda {

struct PhiloxBlock {
    uint32_t w[4];
};

__host__ __device__ inline PhiloxBlock philox_block(uint64_t seed, uint64_t counter) {
    uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
    uint32_t c2 = 0, c3 = 0;
    uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = uint64_t{0xD2511F53} * c0;
        const uint64_t p1 = uint64_t{0xCD9E8D57} * c2;
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
        c1 = static_cast<uint32_t>(p1);
        c3 = static_cast<uint32_t>(p0);
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return {{c0, c1, c2, c3}};
}

// Word i % 4 of block (counter + i / 4): the random word of element i of a mask.
__host__ __device__ inline uint32_t philox_word(uint64_t seed, uint64_t counter, uint64_t i) {
    return philox_block(seed, counter + i / 4).w[i % 4];
}

// dropout's keep test for threshold = ceil(p 2^24) (host: keep_threshold in kernels/nn.h's
// callers; see tensor/cpu/philox.h).
__host__ __device__ inline bool philox_keep(uint32_t word, uint32_t threshold) {
    return (word >> 8) >= threshold;
}

}  // namespace gradstack::cuda
