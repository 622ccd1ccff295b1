// The device Philox (philox.cuh) run on the host, so that a machine without a GPU still checks the
// port against tensor/random.h's Generator (tests/cuda).
#pragma once

#include <array>
#include <cstdint>

namespace gradstack::cuda {

std::array<uint32_t, 4> host_philox_block(uint64_t seed, uint64_t counter);

}  // namespace gradstack::cuda
