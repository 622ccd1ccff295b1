// float32 -> bfloat16 for the bf16 matmul precision (tensor/kernels/linalg.h): one thread per
// element, reading the operand through its strides and writing the bits in C order, so the result
// is a dense matrix cuBLAS reads as CUDA_R_16BF. Read next: ../matmul.cpp (the cuBLAS calls).
#include "cuda/kernels/matmul.h"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

// The twin of tensor/bf16.h's to_bf16, bit for bit: a bfloat16 is the top 16 bits of a float32.
__device__ inline uint16_t to_bf16_bits(float x) {
    const uint32_t bits = __float_as_uint(x);
    // A NaN keeps its sign and top payload bits and is made quiet (bit 6 of the kept half), so
    // dropping the low half can never turn it into an infinity.
    if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
    // Round to nearest even: adding 0x7FFF carries into the kept half exactly when the dropped
    // half is above 0x8000; adding the lowest kept bit too makes a tie (exactly 0x8000) round up
    // only when that bit is odd. An overflow past the largest finite value lands on infinity.
    return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

__global__ void to_bf16_kernel(IterShape it, Operand src, uint16_t* dst) {
    for (int64_t i = thread_index(); i < it.numel; i += thread_count())
        dst[i] = to_bf16_bits(*at<const float>(src, it, i));
}

}  // namespace

void launch_to_bf16(const IterShape& it, const Operand& src, uint16_t* dst, cudaStream_t stream) {
    if (it.numel == 0) return;
    to_bf16_kernel<<<blocks_for(it.numel), kThreads, 0, stream>>>(it, src, dst);
}

}  // namespace gradstack::cuda
