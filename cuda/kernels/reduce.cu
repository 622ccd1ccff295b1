// Reduction kernels. A group of G threads (one thread, a warp or the whole block: threads_per_row)
// makes one output element: its threads stride through the reduced elements, each folding its
// share, then the group joins the partial results with warp shuffles (and, for a block, shared
// memory). The folds are small structs (SumOf, ExtremeOf, FlagOf, ArgOf), so one kernel serves
// sum, max, min, all, any, argmax and argmin; logsumexp needs two passes (the max, then the sum of
// exps) and cumsum a scan, so they have kernels of their own.
// Read next: ../reduce.cpp (how the dims become a ReduceShape), softmax.cu.
#include <cmath>
#include <limits>
#include <type_traits>

#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/reduce.h"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

int threads_per_row(int64_t rows, int64_t n, bool contiguous) {
    if (n <= 4) return 1;                       // too little work to share
    if (!contiguous && rows >= 2048) return 1;  // neighbouring threads read neighbouring rows
    if (n > 1024 || (n > 256 && rows < 1024)) return kThreads;
    return 32;
}

namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarps = kThreads / 32;

// offset_of, with the common one-dim case (a merged run of elements) spared the division.
__device__ inline int64_t offset_in(const IterShape& it, const int64_t* strides, int64_t linear) {
    return it.ndim == 1 ? linear * strides[0] : offset_of(it, strides, linear);
}

// The group of G threads this thread belongs to, how many groups the grid holds, and the thread's
// place in its group. kThreads is a multiple of G, so a group never straddles two blocks.
template <int G>
__device__ inline int64_t group_index() {
    return thread_index() / G;
}
template <int G>
__device__ inline int64_t group_count() {
    return thread_count() / G;
}
template <int G>
__device__ inline int lane_in_group() {
    return static_cast<int>(threadIdx.x % G);
}

// ---- folds. init() is the value over no elements, fold(a, v, i) takes element v (at reduced
// index i) into a, combine(a, b) joins two partial results, finish(a) is what is written.

template <class T>
struct SumOf {
    // Floats accumulate in double, as tensor/cpu/reduce.cpp does; int64 stays int64.
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    using Out = T;
    __device__ Acc init() const { return Acc(0); }
    __device__ Acc fold(Acc a, T v, int64_t) const { return a + static_cast<Acc>(v); }
    __device__ Acc combine(Acc a, Acc b) const { return a + b; }
    __device__ Out finish(Acc a) const { return static_cast<Out>(a); }
};

// The larger (largest) or smaller of a and b, where NaN beats everything and, once taken, stays
// (b != b only for NaN; comparisons with NaN are false), like torch.amax.
template <bool largest, class T>
__device__ inline T pick(T a, T b) {
    return (largest ? b > a : b < a) || b != b ? b : a;
}

template <class T, bool largest>
struct ExtremeOf {
    using Acc = T;
    using Out = T;
    __device__ T init() const {
        if constexpr (std::is_floating_point_v<T>)
            return largest ? -std::numeric_limits<T>::infinity()
                           : std::numeric_limits<T>::infinity();
        else
            return largest ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
    }
    __device__ T fold(T a, T v, int64_t) const { return pick<largest>(a, v); }
    __device__ T combine(T a, T b) const { return pick<largest>(a, b); }
    __device__ T finish(T a) const { return a; }
};

// all: 1 once a false is found; any: 1 once a true is found (the value that decides).
template <bool is_all>
struct FlagOf {
    using Acc = int;
    using Out = bool;
    __device__ int init() const { return 0; }
    __device__ int fold(int a, bool v, int64_t) const { return a | (v != is_all ? 1 : 0); }
    __device__ int combine(int a, int b) const { return a | b; }
    __device__ bool finish(int a) const { return is_all ? a == 0 : a != 0; }
};

// The best value so far and its index along the dim; index -1: no element seen yet.
template <class T>
struct Best {
    T value;
    int64_t index;
};

// True when v should replace the best value b: strictly better, or the first NaN (NaN counts as
// the max and the min, like PyTorch; once one is taken nothing replaces it).
template <bool largest, class T>
__device__ inline bool better(T v, T b) {
    return (largest ? v > b : v < b) || (v != v && b == b);
}

template <class T, bool largest>
struct ArgOf {
    using Acc = Best<T>;
    using Out = int64_t;
    __device__ Acc init() const { return {T(0), -1}; }
    // Each thread visits its indices in increasing order, so keeping the old best on a tie keeps
    // the first index.
    __device__ Acc fold(Acc a, T v, int64_t i) const {
        return a.index < 0 || better<largest>(v, a.value) ? Acc{v, i} : a;
    }
    // Neither better than the other: equal values (or two NaNs), and the lower index wins.
    __device__ Acc combine(Acc a, Acc b) const {
        if (a.index < 0) return b;
        if (b.index < 0) return a;
        if (better<largest>(b.value, a.value)) return b;
        if (better<largest>(a.value, b.value)) return a;
        return a.index < b.index ? a : b;
    }
    __device__ Out finish(Acc a) const { return a.index; }
};

// ---- group-wide joins

template <class V>
__device__ inline V shuffle_xor(V v, int mask) {
    return __shfl_xor_sync(kFullMask, v, mask);
}
template <class T>
__device__ inline Best<T> shuffle_xor(Best<T> v, int mask) {
    return {shuffle_xor(v.value, mask), shuffle_xor(v.index, mask)};
}

// Joins the partial results of the G threads of a group; the result is valid in the group's first
// thread. For G = 32, a butterfly over the warp's lanes; for the block, each warp's result goes
// through `shared` (kWarps values) and the first thread joins them in order.
template <int G, class R, class A>
__device__ inline A group_fold(A a, const R& r, A* shared) {
    if constexpr (G > 1) {
        for (int o = 16; o > 0; o >>= 1) a = r.combine(a, shuffle_xor(a, o));
    }
    if constexpr (G == kThreads) {
        const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
        __syncthreads();  // `shared` may still be read for the previous output
        if (lane == 0) shared[warp] = a;
        __syncthreads();
        if (threadIdx.x == 0)
            for (int w = 1; w < kWarps; ++w) a = r.combine(a, shared[w]);
    } else {
        (void)shared;
    }
    return a;
}

// Gives every thread of the group the value held by the group's first thread.
template <int G, class A>
__device__ inline A group_broadcast(A a, A* shared) {
    if constexpr (G == 32) a = __shfl_sync(kFullMask, a, 0);
    if constexpr (G == kThreads) {
        if (threadIdx.x == 0) shared[0] = a;
        __syncthreads();
        a = shared[0];
    }
    return a;
}

// ---- the kernels

// Output o (one per group, grid-stride over the groups) = finish(fold of its reduced elements).
template <int G, class T, class R>
__global__ void reduce_kernel(ReduceShape s, Operand out, Operand x, R r) {
    using Acc = typename R::Acc;
    using Out = typename R::Out;
    __shared__ Acc shared[kWarps];
    const int lane = lane_in_group<G>();
    const T* px = static_cast<const T*>(x.data);
    Out* po = static_cast<Out*>(out.data);
    for (int64_t o = group_index<G>(); o < s.kept.numel; o += group_count<G>()) {
        const T* base = px + offset_in(s.kept, x.strides, o);
        Acc a = r.init();
        for (int64_t i = lane; i < s.reduced.numel; i += G)
            a = r.fold(a, base[offset_in(s.reduced, s.reduced_strides, i)], i);
        a = group_fold<G>(a, r, shared);
        if (lane == 0) po[offset_in(s.kept, out.strides, o)] = r.finish(a);
    }
}

__device__ inline float exp_of(float x) {
    return expf(x);
}
__device__ inline double exp_of(double x) {
    return exp(x);
}

// y = m + log(sum exp(x - m)), m the max (so every term is <= 1 and nothing overflows). When m is
// not finite, y = m: no elements or all -inf give -inf = log(0), a +inf gives +inf, a NaN NaN,
// where the formula would compute inf - inf. As on the CPU, exp runs in T and the sum in double.
template <int G, class T>
__global__ void logsumexp_kernel(ReduceShape s, Operand out, Operand x) {
    __shared__ T shared_max[kWarps];
    __shared__ double shared_sum[kWarps];
    ExtremeOf<T, true> max_of{};
    SumOf<double> sum_of{};
    const int lane = lane_in_group<G>();
    const T* px = static_cast<const T*>(x.data);
    for (int64_t o = group_index<G>(); o < s.kept.numel; o += group_count<G>()) {
        const T* base = px + offset_in(s.kept, x.strides, o);
        T* po = static_cast<T*>(out.data) + offset_in(s.kept, out.strides, o);
        T m = max_of.init();
        for (int64_t i = lane; i < s.reduced.numel; i += G)
            m = max_of.fold(m, base[offset_in(s.reduced, s.reduced_strides, i)], i);
        m = group_broadcast<G>(group_fold<G>(m, max_of, shared_max), shared_max);
        if (!isfinite(m)) {  // the same m in every thread: the whole group skips
            if (lane == 0) *po = m;
            continue;
        }
        double sum = 0;
        for (int64_t i = lane; i < s.reduced.numel; i += G)
            sum +=
                static_cast<double>(exp_of(base[offset_in(s.reduced, s.reduced_strides, i)] - m));
        sum = group_fold<G>(sum, sum_of, shared_sum);
        if (lane == 0) *po = static_cast<T>(static_cast<double>(m) + log(sum));
    }
}

// Inclusive scan of v over the group's threads in thread order; *total gets the group's sum.
// Within a warp, log2(32) shuffle-up steps; for the block, each warp then adds the totals of the
// warps before it (kWarps values in `shared`).
template <int G, class A>
__device__ inline A group_scan(A v, A* shared, A* total) {
    if constexpr (G == 1) {
        (void)shared;
        *total = v;
        return v;
    } else {
        const int lane = threadIdx.x % 32;
        for (int o = 1; o < 32; o <<= 1) {
            const A u = __shfl_up_sync(kFullMask, v, o);
            if (lane >= o) v += u;
        }
        if constexpr (G == 32) {
            (void)shared;
            *total = __shfl_sync(kFullMask, v, 31);
            return v;
        } else {
            const int warp = threadIdx.x / 32;
            __syncthreads();  // `shared` may still be read for the previous chunk
            if (lane == 31) shared[warp] = v;
            __syncthreads();
            A before = 0, all = 0;
            for (int w = 0; w < kWarps; ++w) {
                if (w < warp) before += shared[w];
                all += shared[w];
            }
            *total = all;
            return before + v;
        }
    }
}

// Running sums along each row (one per group): the row is taken in chunks of G elements in scan
// order (from the end when `reverse`); a chunk is scanned by the group and offset by `carry`, the
// sum of the chunks before it. With G = 1 this is the CPU's sequential loop.
template <int G, class T, class Out, class Acc>
__global__ void cumsum_kernel(IterShape rows, Operand out, Operand x, int64_t n, bool reverse) {
    __shared__ Acc shared[kWarps];
    const int lane = lane_in_group<G>();
    for (int64_t r = group_index<G>(); r < rows.numel; r += group_count<G>()) {
        const T* px = static_cast<const T*>(x.data) + offset_in(rows, x.strides, r);
        Out* po = static_cast<Out*>(out.data) + offset_in(rows, out.strides, r);
        Acc carry = 0;
        for (int64_t c = 0; c < n; c += G) {
            const int64_t j = c + lane;                 // position in scan order
            const int64_t k = reverse ? n - 1 - j : j;  // position along the row
            Acc v = j < n ? static_cast<Acc>(px[k * x.step]) : Acc(0);
            Acc total;
            v = group_scan<G>(v, shared, &total);
            if (j < n) po[k * out.step] = static_cast<Out>(carry + v);
            carry += total;
        }
    }
}

// ---- launch helpers

// Whether neighbouring reduced elements are neighbours in memory (then a group's loads coalesce).
bool reduced_contiguous(const ReduceShape& s) {
    return s.reduced.ndim == 0 || s.reduced_strides[s.reduced.ndim - 1] == 1;
}

template <class T, class R>
void run_reduce(const ReduceShape& s, const Operand& out, const Operand& x, R r,
                cudaStream_t stream) {
    if (s.kept.numel == 0) return;
    with_group(threads_per_row(s.kept.numel, s.reduced.numel, reduced_contiguous(s)), [&]<int G>() {
        reduce_kernel<G, T><<<blocks_for(s.kept.numel * G), kThreads, 0, stream>>>(s, out, x, r);
    });
}

}  // namespace

void launch_sum(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream) {
    visit_numeric_type(x.type, [&]<class T>() { run_reduce<T>(s, out, x, SumOf<T>{}, stream); });
}

void launch_amax(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream) {
    visit_numeric_type(x.type,
                       [&]<class T>() { run_reduce<T>(s, out, x, ExtremeOf<T, true>{}, stream); });
}

void launch_amin(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream) {
    visit_numeric_type(x.type,
                       [&]<class T>() { run_reduce<T>(s, out, x, ExtremeOf<T, false>{}, stream); });
}

void launch_logsumexp(const ReduceShape& s, const Operand& out, const Operand& x,
                      cudaStream_t stream) {
    if (s.kept.numel == 0) return;
    visit_floating_type(x.type, [&]<class T>() {
        with_group(threads_per_row(s.kept.numel, s.reduced.numel, reduced_contiguous(s)),
                   [&]<int G>() {
                       logsumexp_kernel<G, T>
                           <<<blocks_for(s.kept.numel * G), kThreads, 0, stream>>>(s, out, x);
                   });
    });
}

void launch_all(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream) {
    run_reduce<bool>(s, out, x, FlagOf<true>{}, stream);
}

void launch_any(const ReduceShape& s, const Operand& out, const Operand& x, cudaStream_t stream) {
    run_reduce<bool>(s, out, x, FlagOf<false>{}, stream);
}

void launch_argmax(const ReduceShape& s, const Operand& out, const Operand& x,
                   cudaStream_t stream) {
    visit_numeric_type(x.type,
                       [&]<class T>() { run_reduce<T>(s, out, x, ArgOf<T, true>{}, stream); });
}

void launch_argmin(const ReduceShape& s, const Operand& out, const Operand& x,
                   cudaStream_t stream) {
    visit_numeric_type(x.type,
                       [&]<class T>() { run_reduce<T>(s, out, x, ArgOf<T, false>{}, stream); });
}

void launch_cumsum(const IterShape& rows, const Operand& out, const Operand& x, int64_t n,
                   bool reverse, cudaStream_t stream) {
    if (rows.numel == 0 || n == 0) return;
    const bool contiguous = x.step == 1 && out.step == 1;
    visit_scalar_type(x.type, [&]<class T>() {
        using Out = std::conditional_t<std::is_same_v<T, bool>, int64_t, T>;
        using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
        with_group(threads_per_row(rows.numel, n, contiguous), [&]<int G>() {
            cumsum_kernel<G, T, Out, Acc>
                <<<blocks_for(rows.numel * G), kThreads, 0, stream>>>(rows, out, x, n, reverse);
        });
    });
}

}  // namespace gradstack::cuda
