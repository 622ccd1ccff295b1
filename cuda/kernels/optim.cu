// The fused Adam / AdamW update on the GPU: one thread per element, nn/optim/adam.cpp's CPU loop
// in the same order of operations. Each one is an explicitly rounded intrinsic (__fmul_rn, ...),
// which nvcc never contracts into a fused multiply-add, so each is rounded once, as in PyTorch's
// float maths. Read next: ../optim.cpp.
#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/optim.h"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

// IEEE-rounded arithmetic, never fused.
__device__ inline float add_rn(float a, float b) {
    return __fadd_rn(a, b);
}
__device__ inline double add_rn(double a, double b) {
    return __dadd_rn(a, b);
}
__device__ inline float mul_rn(float a, float b) {
    return __fmul_rn(a, b);
}
__device__ inline double mul_rn(double a, double b) {
    return __dmul_rn(a, b);
}
__device__ inline float div_rn(float a, float b) {
    return __fdiv_rn(a, b);
}
__device__ inline double div_rn(double a, double b) {
    return __ddiv_rn(a, b);
}
__device__ inline float sqrt_rn(float a) {
    return __fsqrt_rn(a);
}
__device__ inline double sqrt_rn(double a) {
    return __dsqrt_rn(a);
}

// The scalars, rounded to T once.
template <class T>
struct Scalars {
    bool l2;
    T wd, shrink, beta1, one_minus_beta1, beta2, one_minus_beta2, bc2_sqrt, eps, neg_step_size;
};

// Per element k, as the CPU loop:
//   g     = g + wd p                          (Adam with weight decay: it joins the gradient)
//   p'    = p shrink                          (AdamW: decay the weight; shrink is 1 for Adam)
//   m     = m beta1 + (1 - beta1) g
//   v     = v beta2 + ((1 - beta2) g) g
//   denom = sqrt(v) / sqrt(1 - beta2^t) + eps   (sqrt(v_hat) + eps, scaled)
//   p     = p' + ((-lr / (1 - beta1^t)) m) / denom
template <class T>
__global__ void adam_update_kernel(IterShape it, Operand param, Operand grad, Operand exp_avg,
                                   Operand exp_avg_sq, Scalars<T> s) {
    for (int64_t i = thread_index(); i < it.numel; i += thread_count()) {
        T* p = at<T>(param, it, i);
        T* m = at<T>(exp_avg, it, i);
        T* v = at<T>(exp_avg_sq, it, i);
        const T pk = *p;
        T gk = *at<T>(grad, it, i);
        if (s.l2) gk = add_rn(gk, mul_rn(s.wd, pk));
        const T shrunk = mul_rn(pk, s.shrink);
        const T mk = add_rn(mul_rn(*m, s.beta1), mul_rn(s.one_minus_beta1, gk));
        const T vk = add_rn(mul_rn(*v, s.beta2), mul_rn(mul_rn(s.one_minus_beta2, gk), gk));
        *m = mk;
        *v = vk;
        const T denom = add_rn(div_rn(sqrt_rn(vk), s.bc2_sqrt), s.eps);
        *p = add_rn(shrunk, div_rn(mul_rn(s.neg_step_size, mk), denom));
    }
}

}  // namespace

void launch_adam_update(const IterShape& it, const Operand& param, const Operand& grad,
                        const Operand& exp_avg, const Operand& exp_avg_sq, const AdamScalars& a,
                        cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_floating_type(param.type, [&]<class T>() {
        const Scalars<T> s{a.l2,
                           static_cast<T>(a.weight_decay),
                           static_cast<T>(a.shrink),
                           static_cast<T>(a.beta1),
                           static_cast<T>(a.one_minus_beta1),
                           static_cast<T>(a.beta2),
                           static_cast<T>(a.one_minus_beta2),
                           static_cast<T>(a.bias_correction2_sqrt),
                           static_cast<T>(a.eps),
                           static_cast<T>(a.neg_step_size)};
        adam_update_kernel<T><<<blocks_for(it.numel), kThreads, 0, stream>>>(
            it, param, grad, exp_avg, exp_avg_sq, s);
    });
}

}  // namespace gradstack::cuda
