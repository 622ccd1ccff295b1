// Launchers of the fill and copy kernels (copy.cu), called from ../copy.cpp.
#pragma once

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// dst[i] = value (converted to dst's type) for every element of the iteration.
void launch_fill(const IterShape& it, const Operand& dst, double value, cudaStream_t stream);
// dst[i] = src[i] converted to dst's type (any pair of the four types; to bool: x != 0).
void launch_copy(const IterShape& it, const Operand& dst, const Operand& src, cudaStream_t stream);

}  // namespace gradstack::cuda
