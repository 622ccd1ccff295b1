// Launcher of matmul's one kernel of its own (matmul.cu): rounding float32 to bfloat16 for the
// bf16 matmul precision. The products themselves are cuBLAS calls, made in ../matmul.cpp.
#pragma once

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// dst[i] = the bfloat16 bits of src's element with C-order linear index i (a float32 operand over
// `it`), rounded to nearest even exactly as tensor/bf16.h's to_bf16. dst holds it.numel values.
void launch_to_bf16(const IterShape& it, const Operand& src, uint16_t* dst, cudaStream_t stream);

}  // namespace gradstack::cuda
