// Softmax and log_softmax, forward and backward, along rows. One group of G threads per row (one
// thread, a warp or the block: threads_per_row in reduce.h) makes the passes of
// tensor/cpu/softmax.cpp: the max (forward only), a row sum in double, then the outputs. Each
// thread takes the elements lane, lane + G, ... of the row, so a warp's loads coalesce when the
// row is contiguous; when it is not (softmax over a leading dim), one thread per row lets the
// warp's loads coalesce across neighbouring rows instead.
// Read next: ../softmax.cpp.
#include <cmath>
#include <limits>

#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/reduce.h"
#include "cuda/kernels/softmax.h"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

__device__ inline float exp_of(float x) {
    return expf(x);
}
__device__ inline double exp_of(double x) {
    return exp(x);
}

// Max and sum over the G threads of a row's group; every thread of the group gets the result.
// `shared` holds 32 values (used when the group is the block).
template <int G, class T>
__device__ inline T group_max(T v, T* shared) {
    if constexpr (G == 32) return warp_max(v);
    if constexpr (G == kThreads) return block_max(v, shared, -std::numeric_limits<T>::infinity());
    return v;
}
template <int G, class T>
__device__ inline T group_sum(T v, T* shared) {
    if constexpr (G == 32) return warp_sum(v);
    if constexpr (G == kThreads) return block_sum(v, shared);
    return v;
}

// Forward over each row x_0 .. x_{n-1}:
//   m = max_j x_j       NaN skipped, as cpu/row_math.h's row_max does; a NaN still reaches every
//                       output through the sum. All -inf: m = -inf and x - m = NaN everywhere.
//   s = sum_j exp(x_j - m)      exp in T, the sum in double; each term <= 1, so no overflow
//   softmax:     y_j = exp(x_j - m) * (1 / s)
//   log_softmax: y_j = (x_j - m) - log(s)    (two subtractions: x - (m + log s) would round the
//                                             sum to T first and lose digits for large logits)
template <int G, class T, bool is_log>
__global__ void softmax_kernel(IterShape rows, Operand out, Operand x, int64_t n) {
    __shared__ T shared_max[32];
    __shared__ double shared_sum[32];
    const int lane = static_cast<int>(threadIdx.x % G);
    for (int64_t r = thread_index() / G; r < rows.numel; r += thread_count() / G) {
        const T* px = static_cast<const T*>(x.data) + offset_of(rows, x.strides, r);
        T* py = static_cast<T*>(out.data) + offset_of(rows, out.strides, r);
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t j = lane; j < n; j += G) {
            const T v = px[j * x.step];
            m = v > m ? v : m;
        }
        m = group_max<G>(m, shared_max);
        double s = 0;
        for (int64_t j = lane; j < n; j += G) s += static_cast<double>(exp_of(px[j * x.step] - m));
        s = group_sum<G>(s, shared_sum);
        if constexpr (is_log) {
            const T log_s = static_cast<T>(log(s));
            for (int64_t j = lane; j < n; j += G) py[j * out.step] = (px[j * x.step] - m) - log_s;
        } else {
            const T inv = static_cast<T>(1.0 / s);
            for (int64_t j = lane; j < n; j += G)
                py[j * out.step] = exp_of(px[j * x.step] - m) * inv;
        }
    }
}

// Backward over each row, from the forward output y:
//   softmax:     dy_i/dx_j = y_i (delta_ij - y_j), so gx_j = y_j (gy_j - d), d = sum_i gy_i y_i
//   log_softmax: dy_i/dx_j = delta_ij - exp(y_j), so gx_j = gy_j - exp(y_j) d, d = sum_i gy_i
// The products gy_i y_i are taken in T and summed in double, then d is rounded to T, as the CPU
// does.
template <int G, class T, bool is_log>
__global__ void softmax_backward_kernel(IterShape rows, Operand gx, Operand gy, Operand y,
                                        int64_t n) {
    __shared__ double shared_sum[32];
    const int lane = static_cast<int>(threadIdx.x % G);
    for (int64_t r = thread_index() / G; r < rows.numel; r += thread_count() / G) {
        const T* pgy = static_cast<const T*>(gy.data) + offset_of(rows, gy.strides, r);
        const T* py = static_cast<const T*>(y.data) + offset_of(rows, y.strides, r);
        T* pgx = static_cast<T*>(gx.data) + offset_of(rows, gx.strides, r);
        double acc = 0;
        for (int64_t j = lane; j < n; j += G) {
            const T g = pgy[j * gy.step];
            acc += static_cast<double>(is_log ? g : g * py[j * y.step]);
        }
        const T d = static_cast<T>(group_sum<G>(acc, shared_sum));
        for (int64_t j = lane; j < n; j += G) {
            const T g = pgy[j * gy.step], yj = py[j * y.step];
            pgx[j * gx.step] = is_log ? g - exp_of(yj) * d : yj * (g - d);
        }
    }
}

}  // namespace

void launch_softmax(const IterShape& rows, const Operand& out, const Operand& x, int64_t n,
                    bool log, cudaStream_t stream) {
    if (rows.numel == 0 || n == 0) return;
    const bool contiguous = x.step == 1 && out.step == 1;
    visit_floating_type(x.type, [&]<class T>() {
        with_group(threads_per_row(rows.numel, n, contiguous), [&]<int G>() {
            const unsigned blocks = blocks_for(rows.numel * G);
            if (log)
                softmax_kernel<G, T, true><<<blocks, kThreads, 0, stream>>>(rows, out, x, n);
            else
                softmax_kernel<G, T, false><<<blocks, kThreads, 0, stream>>>(rows, out, x, n);
        });
    });
}

void launch_softmax_backward(const IterShape& rows, const Operand& gx, const Operand& gy,
                             const Operand& y, int64_t n, bool log, cudaStream_t stream) {
    if (rows.numel == 0 || n == 0) return;
    const bool contiguous = gx.step == 1 && gy.step == 1 && y.step == 1;
    visit_floating_type(y.type, [&]<class T>() {
        with_group(threads_per_row(rows.numel, n, contiguous), [&]<int G>() {
            const unsigned blocks = blocks_for(rows.numel * G);
            if (log)
                softmax_backward_kernel<G, T, true>
                    <<<blocks, kThreads, 0, stream>>>(rows, gx, gy, y, n);
            else
                softmax_backward_kernel<G, T, false>
                    <<<blocks, kThreads, 0, stream>>>(rows, gx, gy, y, n);
        });
    });
}

}  // namespace gradstack::cuda
