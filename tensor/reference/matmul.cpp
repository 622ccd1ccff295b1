// Reference matmul: out[batch, i, j] = sum_k a[batch, i, k] b[batch, k, j] (+ out), three nested
// loops per batch index with a float64 sum, operands read through their strides (a broadcast
// batch dim has stride 0). The fast twin is cpu/matmul.cpp (OpenBLAS gemm / gemv, layouts handed
// to BLAS without copies, batches folded or spread over threads). Read next: reference/index.cpp.
#include "tensor/bf16.h"
#include "tensor/kernels/linalg.h"
#include "tensor/reference/strided.h"
#include "tensor/view.h"

namespace gradstack::reference {
namespace {

// `round` rounds each operand before it is multiplied: bfloat16 for MatmulPrecision::bf16.
template <class T>
void matmul_loops(const Tensor& out_t, const Tensor& a_t, const Tensor& b_t, bool accumulate,
                  T (*round)(T) = [](T x) { return x; }) {
    const int64_t M = a_t.size(-2), K = a_t.size(-1), N = b_t.size(-1);
    const Shape batch(out_t.shape().begin(), out_t.shape().end() - 2);
    Shape full_a = batch, full_b = batch;
    full_a.insert(full_a.end(), {M, K});
    full_b.insert(full_b.end(), {K, N});
    // a and b broadcast to the batch: every matrix of the batch is then at C-order position
    // index * M K (a), index * K N (b), index * M N (out).
    const Strided<T> a(views::expand(a_t, full_a)), b(views::expand(b_t, full_b)), out(out_t);
    const int64_t nd = static_cast<int64_t>(full_a.size());
    const int64_t a_i = a.strides[nd - 2], a_k = a.strides[nd - 1];
    const int64_t b_k = b.strides[nd - 2], b_j = b.strides[nd - 1];
    const int64_t o_i = out.strides[nd - 2], o_j = out.strides[nd - 1];
    for (int64_t n = 0; n < numel(batch); ++n) {
        const T* pa = a.p + a.offset(n * M * K);
        const T* pb = b.p + b.offset(n * K * N);
        T* po = out.p + out.offset(n * M * N);
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                double sum = accumulate ? static_cast<double>(po[i * o_i + j * o_j]) : 0.0;
                for (int64_t k = 0; k < K; ++k)
                    sum += static_cast<double>(round(pa[i * a_i + k * a_k])) *
                           static_cast<double>(round(pb[k * b_k + j * b_j]));
                po[i * o_i + j * o_j] = static_cast<T>(sum);
            }
    }
}

void matmul_reference(const Tensor& out, const Tensor& a, const Tensor& b, bool accumulate) {
    check(a.dim() >= 2 && b.dim() >= 2, "[matmul] kernel needs matrices, got a {} and b {}",
          shape_str(a.shape()), shape_str(b.shape()));
    const Shape expected = kernels::matmul_shape(a, b);
    check(out.shape() == expected && out.dtype() == a.dtype(),
          "[matmul] output {} {} does not fit a {} @ b {} (expected {} {})", out.dtype(),
          shape_str(out.shape()), shape_str(a.shape()), shape_str(b.shape()), a.dtype(),
          shape_str(expected));
    if (out.numel() == 0) return;
    // bf16 precision: both operands of a product against a 2-d weight rounded to bfloat16 (the
    // fast twin is cpu/bf16_gemm.cpp; the rule is in kernels/linalg.h).
    if (a.dtype() == DType::f32 && b.dim() == 2 &&
        kernels::matmul_precision() == kernels::MatmulPrecision::bf16)
        return matmul_loops<float>(out, a, b, accumulate, &round_to_bf16);
    visit_floating(a.dtype(), "matmul",
                   [&]<class T>() { matmul_loops<T>(out, a, b, accumulate); });
}

}  // namespace

const bool matmul_reference_on_cpu = kernels::matmul.set_reference(&matmul_reference);

}  // namespace gradstack::reference
