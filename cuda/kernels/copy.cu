// Fill and strided copy with dtype conversion: one thread per element, each finding its operands'
// elements from the linear index (strided.cuh). A contiguous pair merges into one dim, so this is
// then a plain coalesced copy.
#include "cuda/kernels/copy.h"
#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

template <class T>
__global__ void fill_kernel(IterShape it, Operand dst, T value) {
    for (int64_t i = thread_index(); i < it.numel; i += thread_count()) *at<T>(dst, it, i) = value;
}

template <class D, class S>
__global__ void copy_kernel(IterShape it, Operand dst, Operand src) {
    for (int64_t i = thread_index(); i < it.numel; i += thread_count())
        *at<D>(dst, it, i) = convert<D>(*at<S>(src, it, i));
}

}  // namespace

void launch_fill(const IterShape& it, const Operand& dst, double value, cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_scalar_type(dst.type, [&]<class T>() {
        fill_kernel<T><<<blocks_for(it.numel), kThreads, 0, stream>>>(it, dst, convert<T>(value));
    });
}

void launch_copy(const IterShape& it, const Operand& dst, const Operand& src, cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_scalar_type(dst.type, [&]<class D>() {
        visit_scalar_type(src.type, [&]<class S>() {
            copy_kernel<D, S><<<blocks_for(it.numel), kThreads, 0, stream>>>(it, dst, src);
        });
    });
}

}  // namespace gradstack::cuda
