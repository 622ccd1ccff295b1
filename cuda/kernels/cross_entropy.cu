// Cross-entropy on the GPU with tensor/cpu/cross_entropy.cpp's formulas and float types, one block
// per row: the forward reduces the row's max, then its sum of exps (and of logits, for label
// smoothing) in double and saves lse; the backward turns lse back into the softmax in one pass, so
// the [N, C] probabilities are never stored. Read next: ../cross_entropy.cpp, dropout.cu.
#include <algorithm>
#include <limits>

#include "cuda/kernels/cross_entropy.h"
#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

// exp in the kernel's type: full-precision expf for float (a few ulp, like the CPU's vectorised
// exp_f32), exp for double.
__device__ inline float exp_of(float x) {
    return expf(x);
}
__device__ inline double exp_of(double x) {
    return ::exp(x);
}

// Row r (x_c, c < C, target t; ls = label smoothing):
//   m     = max_c x_c                    (NaN skipped, -inf for no class; a NaN logit still
//                                         reaches the result through exp(NaN - m))
//   lse   = m + log(sum_c exp(x_c - m))  (exp in T, the sum in double)
//   loss  = lse - x_t                                     when ls == 0
//         = (1 - ls) (lse - x_t) + ls (lse - mean_c x_c)  else (the target mixed with a uniform)
// The branches on t are the same for every thread of the block, so all of them reach the
// block reductions.
template <class T>
__global__ void cross_entropy_kernel(IterShape rows, int64_t C, Operand logits, IterShape items,
                                     Operand loss, Operand lse, Operand target,
                                     int64_t ignore_index, double ls,
                                     unsigned long long* first_bad) {
    __shared__ T shared_max[32];
    __shared__ double shared_sum[32];
    constexpr T kInf = std::numeric_limits<T>::infinity();
    for (int64_t r = blockIdx.x; r < rows.numel; r += gridDim.x) {
        const int64_t t = *at<int64_t>(target, items, r);
        T* out = at<T>(loss, items, r);
        double* out_lse = at<double>(lse, items, r);
        if (t == ignore_index) {
            if (threadIdx.x == 0) {
                *out = T(0);
                *out_lse = 0;
            }
            continue;
        }
        if (t < 0 || t >= C) {
            if (threadIdx.x == 0) {
                atomicMin(first_bad, static_cast<unsigned long long>(r));
                *out = std::numeric_limits<T>::quiet_NaN();
                *out_lse = std::numeric_limits<double>::quiet_NaN();
            }
            continue;
        }
        const T* x = static_cast<const T*>(logits.data) + offset_of(rows, logits.strides, r);
        T m = -kInf;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            const T v = x[c * logits.step];
            m = v > m ? v : m;
        }
        // Every thread's partial is a number or -inf, never NaN, so block_max's NaN rule does
        // not apply and this is the CPU's NaN-skipping max.
        m = block_max(m, shared_max, -kInf);
        double sum_exp = 0;
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
            sum_exp += static_cast<double>(exp_of(x[c * logits.step] - m));
        const double l = static_cast<double>(m) + ::log(block_sum(sum_exp, shared_sum));
        double value = l - static_cast<double>(x[t * logits.step]);
        if (ls != 0) {
            double sum_x = 0;
            for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
                sum_x += static_cast<double>(x[c * logits.step]);
            const double smooth = l - block_sum(sum_x, shared_sum) / static_cast<double>(C);
            value = (1 - ls) * value + ls * smooth;
        }
        if (threadIdx.x == 0) {
            *out = static_cast<T>(value);
            *out_lse = l;
        }
    }
}

// d loss_r / d x_c = p_c - (1 - ls) [c == t] - ls / C with p_c = exp(x_c - lse) the softmax,
// times the row's upstream gradient. lse is split into hi + lo in two T's and x - lse computed as
// (x - hi) - lo: x - hi is exact for the logits that matter (those near lse), so the pass stays in
// T without losing the digits of large logits (the CPU's trick, kept for equal results).
template <class T>
__global__ void cross_entropy_backward_kernel(IterShape rows, int64_t C, Operand gx, Operand logits,
                                              IterShape items, Operand gloss, Operand lse,
                                              Operand target, int64_t ignore_index, T uniform,
                                              T on_target) {
    for (int64_t r = blockIdx.x; r < rows.numel; r += gridDim.x) {
        const int64_t t = *at<int64_t>(target, items, r);
        T* g = static_cast<T*>(gx.data) + offset_of(rows, gx.strides, r);
        if (t == ignore_index || t < 0 || t >= C) {
            const T fill = t == ignore_index ? T(0) : std::numeric_limits<T>::quiet_NaN();
            for (int64_t c = threadIdx.x; c < C; c += blockDim.x) g[c * gx.step] = fill;
            continue;
        }
        const T* x = static_cast<const T*>(logits.data) + offset_of(rows, logits.strides, r);
        const double l = *at<double>(lse, items, r);
        const T hi = static_cast<T>(l);
        const T lo = static_cast<T>(l - static_cast<double>(hi));
        const T scale = *at<T>(gloss, items, r);
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            const T p = exp_of((x[c * logits.step] - hi) - lo);
            g[c * gx.step] = c == t ? scale * ((p - on_target) - uniform) : scale * (p - uniform);
        }
    }
}

}  // namespace

void launch_cross_entropy(const IterShape& rows, int64_t C, const Operand& logits,
                          const IterShape& items, const Operand& loss, const Operand& lse,
                          const Operand& target, int64_t ignore_index, double label_smoothing,
                          unsigned long long* first_bad, cudaStream_t stream) {
    if (rows.numel == 0) return;
    visit_floating_type(logits.type, [&]<class T>() {
        cross_entropy_kernel<T><<<row_blocks(rows.numel), row_threads(C), 0, stream>>>(
            rows, C, logits, items, loss, lse, target, ignore_index, label_smoothing, first_bad);
    });
}

void launch_cross_entropy_backward(const IterShape& rows, int64_t C, const Operand& gx,
                                   const Operand& logits, const IterShape& items,
                                   const Operand& gloss, const Operand& lse, const Operand& target,
                                   int64_t ignore_index, double label_smoothing,
                                   cudaStream_t stream) {
    if (rows.numel == 0 || C == 0) return;
    visit_floating_type(logits.type, [&]<class T>() {
        // Rounded to T once, as the CPU does.
        const T uniform = static_cast<T>(label_smoothing / static_cast<double>(C));
        const T on_target = static_cast<T>(1 - label_smoothing);
        cross_entropy_backward_kernel<T><<<row_blocks(rows.numel), row_threads(C), 0, stream>>>(
            rows, C, gx, logits, items, gloss, lse, target, ignore_index, uniform, on_target);
    });
}

}  // namespace gradstack::cuda
