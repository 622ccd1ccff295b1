// host_philox_block: philox.cuh's __host__ __device__ function, called on the host.
#include "cuda/kernels/philox.cuh"
#include "cuda/kernels/philox_host.h"

namespace gradstack::cuda {

std::array<uint32_t, 4> host_philox_block(uint64_t seed, uint64_t counter) {
    const PhiloxBlock b = philox_block(seed, counter);
    return {b.w[0], b.w[1], b.w[2], b.w[3]};
}

}  // namespace gradstack::cuda
