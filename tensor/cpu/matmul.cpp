// CPU matmul: every product is handed to OpenBLAS (its OpenMP build, which shares gradstack's
// thread pool). The work here is describing strided operands to BLAS without copying them: a
// matrix whose rows are contiguous is passed as is (ld = its row stride), one whose columns are
// contiguous (a transposed view) as its transpose with CblasTrans; only other layouts are copied.
// Batch dims become a loop over BLAS calls, or one call when the batch folds into the rows.
// Read next, the reference twin: reference/matmul.cpp (matmul), the same math as plain float64
// loops; GRADSTACK_KERNELS=reference runs it instead (tensor/dispatch.h).
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>

#include "tensor/cpu/bf16_gemm.h"
#include "tensor/cpu/blocked_gemm.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/small_gemm.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/linalg.h"

namespace gradstack::cpu {
namespace {

// How a [rows, cols] matrix with strides (rs, cs) is read by BLAS (row-major API): either as it
// is (rows contiguous, ld = rs) or, when its columns are contiguous, as the transpose of a
// row-major [cols, rows] matrix (ld = cs). `ok` is false when neither holds (then we copy).
struct Layout {
    bool ok = false;
    bool transposed = false;
    int64_t ld = 0;
};

Layout layout_of(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
    // A size-1 dim never moves the pointer, so its stride does not matter; BLAS still wants
    // ld >= the contiguous extent, so we pass the smallest legal value then.
    if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(cols, 1)))
        return {true, false, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
    if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(rows, 1)))
        return {true, true, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
    return {};
}

Layout layout_of(const Tensor& t) {
    return layout_of(t.size(-2), t.size(-1), t.strides()[t.dim() - 2], t.strides()[t.dim() - 1]);
}

CBLAS_TRANSPOSE trans(bool transposed) {
    return transposed ? CblasTrans : CblasNoTrans;
}

// One product c[M, N] = op(a)[M, K] @ op(b)[K, N] (+ c when beta = 1). A single row or column of
// output is a matrix-vector product, which gemv does without gemm's packing.
template <class T>
void gemm(const Layout& la, const Layout& lb, int64_t M, int64_t N, int64_t K, const T* a,
          const T* b, T* c, int64_t ldc, T beta) {
    const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
    const int lda = static_cast<int>(la.ld), ldb = static_cast<int>(lb.ld);
    const int inc_a = la.transposed ? lda : 1;
    if constexpr (std::is_same_v<T, float>) {
        // 2..16 rows against a weight (batched decoding, beams): our kernel reads b once for all
        // rows instead of packing it (small_gemm.h).
        if (M >= 2 && M <= kSmallGemmMaxRows &&
            small_gemm_f32(M, N, K, a, la.transposed ? 1 : la.ld, la.transposed ? la.ld : 1, b,
                           lb.ld, lb.transposed, c, ldc, beta != 0.0f))
            return;
        // More rows, where OpenBLAS is not running AVX-512 kernels: the blocked GEMM
        // (blocked_gemm.h).
        if (M > kSmallGemmMaxRows && N > 1 && blocked_gemm_wins() &&
            blocked_gemm_f32(M, N, K, a, la.transposed ? 1 : la.ld, la.transposed ? la.ld : 1, b,
                             lb.ld, lb.transposed, c, ldc, beta != 0.0f))
            return;
        if (M == 1) {
            // c[1, N] = a[1, K] @ b: b^T a, with b stored [K, N] (use Trans) or [N, K] (NoTrans).
            // a's one row has stride 1, or stride lda when a came as a transposed view.
            cblas_sgemv(CblasRowMajor, lb.transposed ? CblasNoTrans : CblasTrans,
                        lb.transposed ? n : k, lb.transposed ? k : n, 1.0f, b, ldb, a, inc_a, beta,
                        c, 1);
        } else if (N == 1) {
            // c[M, 1] = a @ b[K, 1]: b's column has stride ldb (a 1-column matrix with a BLAS
            // layout is always row-major), c's column has stride ldc.
            cblas_sgemv(CblasRowMajor, trans(la.transposed), la.transposed ? k : m,
                        la.transposed ? m : k, 1.0f, a, lda, b, ldb, beta, c,
                        static_cast<int>(ldc));
        } else {
            cblas_sgemm(CblasRowMajor, trans(la.transposed), trans(lb.transposed), m, n, k, 1.0f, a,
                        lda, b, ldb, beta, c, static_cast<int>(ldc));
        }
    } else {
        if (M == 1) {
            cblas_dgemv(CblasRowMajor, lb.transposed ? CblasNoTrans : CblasTrans,
                        lb.transposed ? n : k, lb.transposed ? k : n, 1.0, b, ldb, a, inc_a, beta,
                        c, 1);
        } else if (N == 1) {
            cblas_dgemv(CblasRowMajor, trans(la.transposed), la.transposed ? k : m,
                        la.transposed ? m : k, 1.0, a, lda, b, ldb, beta, c, static_cast<int>(ldc));
        } else {
            cblas_dgemm(CblasRowMajor, trans(la.transposed), trans(lb.transposed), m, n, k, 1.0, a,
                        lda, b, ldb, beta, c, static_cast<int>(ldc));
        }
    }
}

// When a batch of products runs as a parallel loop of single-threaded BLAS calls (OpenBLAS does
// not spawn threads inside a parallel region) instead of one multi-threaded call after another.
// Measured on attention shapes, 12 products of [T, 64] @ [64, T] and [T, T] @ [T, 64] (2 threads,
// a loaded 2-core machine): the parallel loop was 2-30x faster for T = 64..1024, because it syncs
// the threads once per batch rather than once per product; on 1 thread both are the same. Where
// it should lose (by reasoning, not measured) is a few large products that do not split evenly
// over the threads (3 on 2 threads idles one a third of the time): those keep BLAS's threading.
bool parallel_over_batch(int64_t count, int64_t M, int64_t N, int64_t K) {
    const int64_t threads = omp_get_max_threads();
    if (count < 2 || threads < 2 || omp_in_parallel()) return false;
    constexpr int64_t kSmallProduct = int64_t{1} << 22;  // multiply-adds; ~20 us on one core
    const int64_t rounds = (count + threads - 1) / threads;
    const bool balanced = rounds * threads * 4 <= count * 5;  // at most 20% of thread time idle
    return balanced || M * N * K < kSmallProduct;
}

// MatmulPrecision::bf16 (linalg.h): a [..., M, K] @ a 2-d weight b, with b's bfloat16 packing
// found in (or added to) the pack cache. The batch folds into the rows, so the weight is read
// once per call whatever the batch: a and the result are made C-order first if they are not.
void matmul_bf16(const Tensor& out, Tensor a, const Tensor& b, bool accumulate) {
    const int64_t K = a.size(-1), N = b.size(-1);
    const std::shared_ptr<const PackedBf16> packed = packed_bf16(b);
    if (!a.is_contiguous()) a = kernels::clone(a);
    Tensor c = out;
    if (!out.is_contiguous())
        c = accumulate ? kernels::clone(out) : empty(out.shape(), out.dtype(), out.device());
    const int64_t rows = K == 0 ? c.numel() / std::max<int64_t>(N, 1) : a.numel() / K;
    bf16_gemm(rows, a.data<float>(), K, 1, *packed, c.data<float>(), N, accumulate);
    if (!c.is_same(out)) kernels::copy(out, c);
}

// 2..16 rows against a large transposed weight (the tied head at batched decoding and beams):
// from its packed panels (small_gemm.h, small_gemm_f32_packed). Returns false when this is not
// that case (or the build has no AVX-512); the caller then goes on as usual.
bool matmul_packed_transposed(const Tensor& out, const Tensor& a, const Tensor& b, bool accumulate) {
    const int64_t K = a.size(-1);
    const bool transposed_weight = b.dim() == 2 && b.strides()[0] == 1 && b.size(0) > 1 &&
                                   b.numel() >= kPackedMinElements;
    if (!transposed_weight || !a.is_contiguous() || !out.is_contiguous() || K == 0) return false;
    const int64_t rows = a.numel() / K;
    if (rows < 2 || rows > kSmallGemmMaxRows) return false;
    return small_gemm_f32_packed(rows, a.data<float>(), K, 1, b, out.data<float>(), b.size(1),
                                 accumulate);
}

template <class T>
void matmul_typed(const Tensor& out, Tensor a, Tensor b, bool accumulate) {
    const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    const int64_t nb = out.dim() - 2;  // batch dims of the result
    const Shape batch(out.shape().begin(), out.shape().begin() + nb);
    if (M == 0 || N == 0) return;
    if (K == 0) {  // an empty sum
        if (!accumulate) kernels::fill(out, 0);
        return;
    }
    check(std::max({M, N, K, a.strides()[a.dim() - 2], b.strides()[b.dim() - 2], a.strides().back(),
                    b.strides().back()}) < INT_MAX,
          "[matmul] sizes of a {} and b {} exceed what BLAS's 32-bit ints can index",
          shape_str(a.shape()), shape_str(b.shape()));

    // Operands BLAS cannot read in place are copied to C order (their batch dims too).
    Layout la = layout_of(a), lb = layout_of(b);
    // (A C-order matrix always has a BLAS layout, so the copies are never copied again.)
    if (!la.ok) {
        a = kernels::clone(a);
        la = layout_of(a);
    }
    if (!lb.ok) {
        b = kernels::clone(b);
        lb = layout_of(b);
    }
    // The result must have contiguous rows; otherwise compute into a C-order buffer.
    Layout lc = layout_of(out);
    Tensor c = out;
    if (!lc.ok || lc.transposed) {
        c = accumulate ? kernels::clone(out) : empty(out.shape(), out.dtype(), out.device());
        lc = layout_of(c);
    }

    Shape full_a = batch, full_b = batch;
    full_a.insert(full_a.end(), {M, K});
    full_b.insert(full_b.end(), {K, N});
    const Shape sa = broadcast_strides(a, full_a), sb = broadcast_strides(b, full_b);
    const Shape& sc = c.strides();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = c.data<T>();
    const T beta = accumulate ? T(1) : T(0);

    // b shared by the whole batch (x [B, T, C] @ w [C, N]) and a with contiguous rows: when the
    // batch dims and M of a and c fold into one dim, the whole batch is one [B*T, K] @ [K, N].
    bool b_shared = std::all_of(sb.begin(), sb.begin() + nb, [](int64_t s) { return s == 0; });
    if (nb > 0 && b_shared && !la.transposed) {
        Shape rows_shape = batch, rows_a(sa.begin(), sa.begin() + nb + 1),
              rows_c(sc.begin(), sc.begin() + nb + 1);
        rows_shape.push_back(M);
        LoopNest<2> rows = merge_dims<2>(rows_shape, {rows_a, rows_c});
        if (rows.shape.size() == 1 && rows.shape[0] < INT_MAX) {
            Layout la_all = layout_of(rows.shape[0], K, rows.strides[0][0], sa.back());
            Layout lc_all = layout_of(rows.shape[0], N, rows.strides[1][0], sc.back());
            if (la_all.ok && !la_all.transposed && lc_all.ok && !lc_all.transposed) {
                gemm<T>(la_all, lb, rows.shape[0], N, K, pa, pb, pc, lc_all.ld, beta);
                if (!c.is_same(out)) kernels::copy(out, c);
                return;
            }
        }
    }

    // One product per batch index; the element offsets of each operand's matrix.
    const int64_t count = numel(batch);
    std::vector<int64_t> oa(count), ob(count), oc(count);
    for (int64_t i = 0; i < count; ++i) {
        for (int64_t d = nb - 1, rem = i; d >= 0; --d) {
            int64_t idx = rem % batch[d];
            rem /= batch[d];
            oa[i] += idx * sa[d];
            ob[i] += idx * sb[d];
            oc[i] += idx * sc[d];
        }
    }
    // A batch of products (attention: [B*H, T, 64] @ [B*H, 64, T]) is spread over the threads
    // whole, one single-threaded BLAS call each (see parallel_over_batch).
    // (Not an `omp parallel for ... if (...)`: a region the `if` turns off still opens a level of
    // nesting, and each GEMM's own threads inside it were then created anew per call: ~17 thread
    // creations per step of the demo's training, its weight-gradient GEMMs 5-10x slower.)
    auto product = [&](int64_t i) {
        gemm<T>(la, lb, M, N, K, pa + oa[i], pb + ob[i], pc + oc[i], lc.ld, beta);
    };
    if (parallel_over_batch(count, M, N, K)) {
#pragma omp parallel for schedule(dynamic)
        for (int64_t i = 0; i < count; ++i) product(i);
    } else {
        for (int64_t i = 0; i < count; ++i) product(i);
    }
    if (!c.is_same(out)) kernels::copy(out, c);
}

void matmul_cpu(const Tensor& out, const Tensor& a, const Tensor& b, bool accumulate) {
    check(a.dim() >= 2 && b.dim() >= 2, "[matmul] kernel needs matrices, got a {} and b {}",
          shape_str(a.shape()), shape_str(b.shape()));
    Shape expected = kernels::matmul_shape(a, b);
    check(out.shape() == expected && out.dtype() == a.dtype(),
          "[matmul] output {} {} does not fit a {} @ b {} (expected {} {})", out.dtype(),
          shape_str(out.shape()), shape_str(a.shape()), shape_str(b.shape()), a.dtype(),
          shape_str(expected));
    // Products against a weight that read a packed copy of it (kept in the pack cache).
    if (a.dtype() == DType::f32 && out.numel() > 0) {
        if (b.dim() == 2 && kernels::matmul_precision() == kernels::MatmulPrecision::bf16)
            return matmul_bf16(out, a, b, accumulate);
        if (matmul_packed_transposed(out, a, b, accumulate)) return;
    }
    visit_floating(a.dtype(), "matmul", [&]<class T>() { matmul_typed<T>(out, a, b, accumulate); });
}

}  // namespace

const bool matmul_on_cpu = kernels::matmul.set(DeviceType::cpu, &matmul_cpu);

}  // namespace gradstack::cpu
