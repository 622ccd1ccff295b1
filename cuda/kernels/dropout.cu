// Dropout on the GPU: one thread per Philox block, i.e. per 4 consecutive elements of x in C
// order, so element i reads word i % 4 of block (counter + i / 4), exactly the CPU's mask
// (tensor/cpu/dropout.cpp); the mask depends only on (seed, counter, i), never on the launch.
// Read next: ../dropout.cpp, optim.cu.
#include "cuda/kernels/dropout.h"
#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/philox.cuh"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

// A product, not a select: like PyTorch (and the CPU kernel), a dropped NaN stays NaN.
template <class T>
__global__ void dropout_kernel(IterShape it, Operand out, Operand x, T scale, uint32_t threshold,
                               uint64_t seed, uint64_t counter) {
    const int64_t blocks = (it.numel + 3) / 4;
    for (int64_t b = thread_index(); b < blocks; b += thread_count()) {
        const PhiloxBlock words = philox_block(seed, counter + static_cast<uint64_t>(b));
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const int64_t i = 4 * b + k;
            if (i < it.numel) {
                const T factor = philox_keep(words.w[k], threshold) ? scale : T(0);
                *at<T>(out, it, i) = *at<T>(x, it, i) * factor;
            }
        }
    }
}

}  // namespace

void launch_dropout(const IterShape& it, const Operand& out, const Operand& x, double scale,
                    uint32_t threshold, uint64_t seed, uint64_t counter, cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_floating_type(x.type, [&]<class T>() {
        dropout_kernel<T><<<blocks_for((it.numel + 3) / 4), kThreads, 0, stream>>>(
            it, out, x, static_cast<T>(scale), threshold, seed, counter);
    });
}

}  // namespace gradstack::cuda
