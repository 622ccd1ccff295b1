// Layer norm on the GPU with tensor/cpu/layer_norm.cpp's formulas and float types: one block per
// row for y and dx (row sums in double via block_sum); dweight / dbias without atomics: blocks sum
// fixed row chunks per column into double partials, then each column adds its chunks in order,
// so every run gives the same bits. Read next: ../layer_norm.cpp, cross_entropy.cu.
#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/layer_norm.h"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

// Element j of a per-channel vector (weight, bias), or `missing` when it is absent: the CPU
// multiplies by a vector of ones and adds a vector of zeros, and so does this.
template <class T>
__device__ inline T channel(const Operand& v, int64_t j, T missing) {
    return v.data == nullptr ? missing : static_cast<const T*>(v.data)[j * v.step];
}

// One block per row (grid-stride over rows). Per row r with elements x_j, j < C:
//   mu   = (1/C) sum_j x_j                       (double)
//   var  = (1/C) sum_j (x_j - mu)^2              (double, two passes as the CPU: the mean of
//                                                 squared deviations, not E[x^2] - mu^2)
//   m    = T(mu), m_lo = T(mu - m)               (the mean as hi + lo in two T's)
//   rs   = T(1 / sqrt(var + eps))
//   y_j  = ((x_j - m) - m_lo) rs w_j + b_j       (in T; x - m is exact for x near the mean)
template <class T>
__global__ void layer_norm_kernel(IterShape rows, int64_t C, Operand y, Operand mean, Operand rstd,
                                  Operand x, Operand weight, Operand bias, double eps) {
    __shared__ double shared[32];
    for (int64_t r = blockIdx.x; r < rows.numel; r += gridDim.x) {
        const T* xr = static_cast<const T*>(x.data) + offset_of(rows, x.strides, r);
        T* yr = static_cast<T*>(y.data) + offset_of(rows, y.strides, r);
        double s = 0;
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x)
            s += static_cast<double>(xr[j * x.step]);
        const double mu = block_sum(s, shared) / static_cast<double>(C);
        double q = 0;
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
            const double d = static_cast<double>(xr[j * x.step]) - mu;
            q += d * d;
        }
        const double var = block_sum(q, shared) / static_cast<double>(C);
        const T m = static_cast<T>(mu);
        const T m_lo = static_cast<T>(mu - static_cast<double>(m));
        const T rs = static_cast<T>(1.0 / ::sqrt(var + eps));
        if (threadIdx.x == 0) {
            static_cast<T*>(mean.data)[r * mean.step] = m;
            static_cast<T*>(rstd.data)[r * rstd.step] = rs;
        }
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
            const T w = channel(weight, j, T(1)), b = channel(bias, j, T(0));
            yr[j * y.step] = ((xr[j * x.step] - m) - m_lo) * rs * w + b;
        }
    }
}

// dx, one block per row. With xhat_j = (x_j - m) rs and g_j = gy_j w_j (both in T, as the CPU):
//   mean_g  = T((1/C) sum_j g_j)                 (sum in double)
//   mean_gx = T((1/C) sum_j g_j xhat_j)          (each product in T, summed in double)
//   dx_j    = rs (g_j - mean_g - xhat_j mean_gx)
// xhat depends on x_j directly (rs), through the mean (-rs / C for every element) and through
// rstd (-xhat rs xhat_j / C): the three terms. xhat and g are recomputed in the second pass
// rather than stored; the same T operations give the same values.
template <class T>
__global__ void layer_norm_backward_rows_kernel(IterShape rows, int64_t C, Operand gy, Operand x,
                                                Operand weight, Operand mean, Operand rstd,
                                                Operand gx) {
    __shared__ double shared[32];
    for (int64_t r = blockIdx.x; r < rows.numel; r += gridDim.x) {
        const T* gyr = static_cast<const T*>(gy.data) + offset_of(rows, gy.strides, r);
        const T* xr = static_cast<const T*>(x.data) + offset_of(rows, x.strides, r);
        T* gxr = static_cast<T*>(gx.data) + offset_of(rows, gx.strides, r);
        const T m = static_cast<const T*>(mean.data)[r * mean.step];
        const T rs = static_cast<const T*>(rstd.data)[r * rstd.step];
        double sum_g = 0, sum_gx = 0;
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
            const T xhat = (xr[j * x.step] - m) * rs;
            const T g = gyr[j * gy.step] * channel(weight, j, T(1));
            sum_g += static_cast<double>(g);
            sum_gx += static_cast<double>(g * xhat);
        }
        const T mean_g = static_cast<T>(block_sum(sum_g, shared) / static_cast<double>(C));
        const T mean_gx = static_cast<T>(block_sum(sum_gx, shared) / static_cast<double>(C));
        for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
            const T xhat = (xr[j * x.step] - m) * rs;
            const T g = gyr[j * gy.step] * channel(weight, j, T(1));
            gxr[j * gx.step] = rs * (g - mean_g - xhat * mean_gx);
        }
    }
}

// Step 1 of dweight / dbias: block (column tile, chunk k) gives each of its threads one column c
// and sums rows [rows k / chunks, rows (k + 1) / chunks) of that column in double:
//   part_w[k, c] = sum_r T(gy_rc xhat_rc),   part_b[k, c] = sum_r gy_rc
// A warp reads 32 neighbouring columns of one row: coalesced for a contiguous x.
template <class T>
__global__ void layer_norm_partials_kernel(IterShape rows, int64_t C, int64_t chunks, Operand gy,
                                           Operand x, Operand mean, Operand rstd, double* part_w,
                                           double* part_b) {
    const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t k = blockIdx.y;
    if (c >= C) return;
    const int64_t r0 = rows.numel * k / chunks, r1 = rows.numel * (k + 1) / chunks;
    double acc_w = 0, acc_b = 0;
    for (int64_t r = r0; r < r1; ++r) {
        const T gyv = static_cast<const T*>(gy.data)[offset_of(rows, gy.strides, r) + c * gy.step];
        const T xv = static_cast<const T*>(x.data)[offset_of(rows, x.strides, r) + c * x.step];
        const T m = static_cast<const T*>(mean.data)[r * mean.step];
        const T rs = static_cast<const T*>(rstd.data)[r * rstd.step];
        const T xhat = (xv - m) * rs;
        acc_w += static_cast<double>(gyv * xhat);
        acc_b += static_cast<double>(gyv);
    }
    part_w[k * C + c] = acc_w;
    part_b[k * C + c] = acc_b;
}

// Step 2: out_c = T(sum over k in order of part[k, c]) for gweight and gbias (each skipped when
// not wanted). Zero chunks (no rows) give zeros.
template <class T>
__global__ void layer_norm_reduce_kernel(int64_t C, int64_t chunks, const double* part_w,
                                         const double* part_b, Operand gweight, Operand gbias) {
    for (int64_t c = thread_index(); c < C; c += thread_count()) {
        if (gweight.data != nullptr) {
            double s = 0;
            for (int64_t k = 0; k < chunks; ++k) s += part_w[k * C + c];
            static_cast<T*>(gweight.data)[c * gweight.step] = static_cast<T>(s);
        }
        if (gbias.data != nullptr) {
            double s = 0;
            for (int64_t k = 0; k < chunks; ++k) s += part_b[k * C + c];
            static_cast<T*>(gbias.data)[c * gbias.step] = static_cast<T>(s);
        }
    }
}

}  // namespace

void launch_layer_norm(const IterShape& rows, int64_t C, const Operand& y, const Operand& mean,
                       const Operand& rstd, const Operand& x, const Operand& weight,
                       const Operand& bias, double eps, cudaStream_t stream) {
    if (rows.numel == 0 || C == 0) return;
    visit_floating_type(x.type, [&]<class T>() {
        layer_norm_kernel<T><<<row_blocks(rows.numel), row_threads(C), 0, stream>>>(
            rows, C, y, mean, rstd, x, weight, bias, eps);
    });
}

void launch_layer_norm_backward(const IterShape& rows, int64_t C, const Operand& gy,
                                const Operand& x, const Operand& weight, const Operand& mean,
                                const Operand& rstd, const Operand& gx, const Operand& gweight,
                                const Operand& gbias, double* partials, cudaStream_t stream) {
    if (C == 0) return;
    visit_floating_type(x.type, [&]<class T>() {
        if (gx.data != nullptr && rows.numel > 0)
            layer_norm_backward_rows_kernel<T>
                <<<row_blocks(rows.numel), row_threads(C), 0, stream>>>(rows, C, gy, x, weight,
                                                                        mean, rstd, gx);
        if (gweight.data == nullptr && gbias.data == nullptr) return;
        const int64_t chunks = layer_norm_chunks(rows.numel);
        double* part_w = partials;
        double* part_b = partials + chunks * C;
        if (chunks > 0) {
            const dim3 grid(static_cast<unsigned>((C + kThreads - 1) / kThreads),
                            static_cast<unsigned>(chunks));
            layer_norm_partials_kernel<T>
                <<<grid, kThreads, 0, stream>>>(rows, C, chunks, gy, x, mean, rstd, part_w, part_b);
        }
        layer_norm_reduce_kernel<T>
            <<<blocks_for(C), kThreads, 0, stream>>>(C, chunks, part_w, part_b, gweight, gbias);
    });
}

}  // namespace gradstack::cuda
