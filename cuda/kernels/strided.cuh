// Device-side helpers shared by the kernel files: the offset of a linear index in a strided
// operand, grid-stride loops, launch sizes, and warp and block reductions.
// Read next: copy.cu (the simplest kernels that use them).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// Offset (in elements) of the element with C-order linear index `linear` in the iteration.
__host__ __device__ inline int64_t offset_of(const IterShape& it, const int64_t* strides,
                                             int64_t linear) {
    int64_t off = 0;
    for (int d = it.ndim - 1; d >= 0; --d) {
        const int64_t i = linear % it.sizes[d];
        linear /= it.sizes[d];
        off += i * strides[d];
    }
    return off;
}

template <class T>
__device__ inline T* at(const Operand& op, const IterShape& it, int64_t linear) {
    return static_cast<T*>(op.data) + offset_of(it, op.strides, linear);
}

constexpr int kThreads = 256;

// Blocks for n independent items at kThreads each, capped (grid-stride loops do the rest).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > kMaxBlocks) b = kMaxBlocks;
    return static_cast<unsigned>(b);
}

// Row kernels with one block per row: the block's threads are the row length rounded up to whole
// warps, at most kThreads (block_sum needs a multiple of 32); its blocks, the rows (at most
// kMaxBlocks: the kernels loop over the rest).
inline unsigned row_threads(int64_t row_length) {
    const int64_t warps = (row_length + 31) / 32;
    const int64_t threads = (warps < 1 ? 1 : warps) * 32;
    return static_cast<unsigned>(threads < kThreads ? threads : kThreads);
}
inline unsigned row_blocks(int64_t rows) {
    return static_cast<unsigned>(rows < 1 ? 1 : rows > kMaxBlocks ? kMaxBlocks : rows);
}

// Calls f.template operator()<G>() for a group size G = g of 1, 32 (a warp) or kThreads (a
// block): the row kernels (reduce.cu, softmax.cu) give each row one such group of threads.
template <class F>
inline void with_group(int g, F&& f) {
    switch (g) {
        case 1:
            f.template operator()<1>();
            return;
        case 32:
            f.template operator()<32>();
            return;
        default:
            f.template operator()<kThreads>();
            return;
    }
}

// A grid-stride loop: for (int64_t i = thread_index(); i < n; i += thread_count()) visits every
// index once over all threads of the grid, whatever the grid's size.
__device__ inline int64_t thread_index() {
    return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t thread_count() {
    return static_cast<int64_t>(blockDim.x) * gridDim.x;
}

template <class T>
__device__ inline T warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
template <class T>
__device__ inline T warp_max(T v) {
    for (int o = 16; o > 0; o >>= 1) {
        const T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v || w != w ? w : v;  // NaN wins
    }
    return v;
}

// Sum / max over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. `shared` holds 32 values. Call from all threads of the block.
template <class T>
__device__ inline T block_sum(T v, T* shared) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    v = warp_sum(v);
    __syncthreads();  // `shared` may still be read by a previous call
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    const int warps = (blockDim.x + 31) / 32;
    v = threadIdx.x < warps ? shared[threadIdx.x] : T(0);
    if (warp == 0) v = warp_sum(v);
    if (threadIdx.x == 0) shared[0] = v;
    __syncthreads();
    return shared[0];
}
template <class T>
__device__ inline T block_max(T v, T* shared, T lowest) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    const int warps = (blockDim.x + 31) / 32;
    v = threadIdx.x < warps ? shared[threadIdx.x] : lowest;
    if (warp == 0) v = warp_max(v);
    if (threadIdx.x == 0) shared[0] = v;
    __syncthreads();
    return shared[0];
}

}  // namespace gradstack::cuda
