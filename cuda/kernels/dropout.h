// Launcher of the dropout kernel (dropout.cu), called from ../dropout.cpp.
// Read next: dropout.cu, philox.cuh (the generator it shares with the CPU).
#pragma once

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// out_i = x_i * (keep_i ? scale : 0) for element i (C order) of the iteration, where keep_i is
// philox_keep(word i % 4 of Philox block (counter + i / 4) under seed, threshold). `scale` is
// 1 / (1 - p) computed in double and rounded to the tensors' type here, as the CPU does;
// `threshold` is ceil(p 2^24) (tensor/cpu/philox.h keep_threshold). out and x: f32 or f64.
void launch_dropout(const IterShape& it, const Operand& out, const Operand& x, double scale,
                    uint32_t threshold, uint64_t seed, uint64_t counter, cudaStream_t stream);

}  // namespace gradstack::cuda
