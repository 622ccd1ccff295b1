// Indexing kernels, one thread per element of the iteration (grid-stride loops): each finds its
// operands' elements from the linear index (strided.cuh), reads its id and moves one value. The
// iterations run in C order over the output (or over src for the adds), so the embedding lookup
// (rows of a contiguous [V, C] table) reads and writes whole rows coalesced. Repeated ids of
// index_add / scatter_add meet in atomicAdd. Read next: sort.cu.
#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/index.h"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

// *p += v for every thread at once. float and double have their own atomicAdd (double from sm_60
// on); int64 adds as unsigned 64-bit, which wraps exactly as two's complement int64 does.
template <class T>
__device__ inline void atomic_add(T* p, T v) {
    if constexpr (std::is_same_v<T, int64_t>)
        atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
    else
        atomicAdd(p, v);
}

// --- the id range check: the first bad position is the smallest one, found with atomicMin (the
// err words start as -1, the largest unsigned value), then one thread reads the id there.

__global__ void find_bad_id_kernel(IterShape it, Operand ids, int64_t size, int64_t* err) {
    for (int64_t e = thread_index(); e < it.numel; e += thread_count()) {
        const int64_t id = *at<const int64_t>(ids, it, e);
        if (id < 0 || id >= size)
            atomicMin(reinterpret_cast<unsigned long long*>(err),
                      static_cast<unsigned long long>(e));
    }
}

__global__ void read_bad_id_kernel(IterShape it, Operand ids, int64_t* err) {
    if (err[0] >= 0) err[1] = *at<const int64_t>(ids, it, err[0]);
}

// --- index_select / index_add: element e is at position i = (e / inner) % n along dim.

template <class T>
__global__ void index_select_kernel(IterShape it, Operand out, Operand x, Operand ids, int64_t n,
                                    int64_t inner) {
    const int64_t* id = static_cast<const int64_t*>(ids.data);
    for (int64_t e = thread_index(); e < it.numel; e += thread_count()) {
        const int64_t i = e / inner % n;
        *at<T>(out, it, e) = at<const T>(x, it, e)[id[i * ids.step] * x.step];
    }
}

template <class T>
__global__ void index_add_kernel(IterShape it, Operand out, Operand src, Operand ids, int64_t n,
                                 int64_t inner) {
    const int64_t* id = static_cast<const int64_t*>(ids.data);
    for (int64_t e = thread_index(); e < it.numel; e += thread_count()) {
        const int64_t i = e / inner % n;
        atomic_add(at<T>(out, it, e) + id[i * ids.step] * out.step, *at<const T>(src, it, e));
    }
}

// --- gather / scatter_add: element e of the index tensor carries its own id.

template <class T>
__global__ void gather_kernel(IterShape it, Operand out, Operand x, Operand ids) {
    for (int64_t e = thread_index(); e < it.numel; e += thread_count())
        *at<T>(out, it, e) = at<const T>(x, it, e)[*at<const int64_t>(ids, it, e) * x.step];
}

template <class T>
__global__ void scatter_add_kernel(IterShape it, Operand out, Operand src, Operand ids) {
    for (int64_t e = thread_index(); e < it.numel; e += thread_count())
        atomic_add(at<T>(out, it, e) + *at<const int64_t>(ids, it, e) * out.step,
                   *at<const T>(src, it, e));
}

}  // namespace

void launch_find_bad_id(const IterShape& it, const Operand& ids, int64_t size, int64_t* err,
                        cudaStream_t stream) {
    if (it.numel == 0) return;
    find_bad_id_kernel<<<blocks_for(it.numel), kThreads, 0, stream>>>(it, ids, size, err);
    read_bad_id_kernel<<<1, 1, 0, stream>>>(it, ids, err);
}

void launch_index_select(const IterShape& it, const Operand& out, const Operand& x,
                         const Operand& ids, int64_t n, int64_t inner, cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_scalar_type(out.type, [&]<class T>() {
        index_select_kernel<T>
            <<<blocks_for(it.numel), kThreads, 0, stream>>>(it, out, x, ids, n, inner);
    });
}

void launch_index_add(const IterShape& it, const Operand& out, const Operand& src,
                      const Operand& ids, int64_t n, int64_t inner, cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_numeric_type(out.type, [&]<class T>() {
        index_add_kernel<T>
            <<<blocks_for(it.numel), kThreads, 0, stream>>>(it, out, src, ids, n, inner);
    });
}

void launch_gather(const IterShape& it, const Operand& out, const Operand& x, const Operand& ids,
                   cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_scalar_type(out.type, [&]<class T>() {
        gather_kernel<T><<<blocks_for(it.numel), kThreads, 0, stream>>>(it, out, x, ids);
    });
}

void launch_scatter_add(const IterShape& it, const Operand& out, const Operand& src,
                        const Operand& ids, cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_numeric_type(out.type, [&]<class T>() {
        scatter_add_kernel<T><<<blocks_for(it.numel), kThreads, 0, stream>>>(it, out, src, ids);
    });
}

}  // namespace gradstack::cuda
