// matmul on CUDA tensors through cuBLAS (the contract is tensor/kernels/linalg.h; the CPU twin,
// cpu/matmul.cpp, has the same layout rules). The work is describing row-major, strided operands
// to a column-major library without copying them, and a broadcast batch as few calls as possible.
// The bf16 precision rounds both operands with kernels/matmul.cu and keeps each weight's rounded
// copy in a small cache. Read next: kernels/matmul.cu, tensor/reference/matmul.cpp.
#include "cuda/kernels/matmul.h"

#include <algorithm>
#include <climits>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "cuda/launch.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/linalg.h"
#include "tensor/view.h"

namespace gradstack::cuda {
namespace {

// --- Layouts. cuBLAS reads a matrix column by column: element (i, j) at p[i + j * ld]. A
// row-major [r, c] matrix with row stride ld (element (i, j) at p[i * ld + j]) is therefore, to
// cuBLAS, its transpose: a column-major [c, r] matrix with the same ld. So for a row-major result
// we ask cuBLAS for out^T = b^T a^T (m = N, n = M, k = K), and each operand's own layout says
// whether cuBLAS must transpose what it sees:
//   - a row-major operand X is seen as X^T, just what out^T = b^T a^T wants: CUBLAS_OP_N;
//   - a column-major one (a transposed view: its columns are contiguous) is seen as X: CUBLAS_OP_T.
// A column-major result (out itself a transposed view) is seen by cuBLAS as out, so then we ask
// for out = a b (m = M, n = N) and every choice flips.

// How a [rows, cols] matrix with strides (rs, cs) is read in place: rows contiguous (ld = rs) or,
// when its columns are contiguous, as its transpose (ld = cs). `ok` is false when neither holds,
// and the matrix is then copied to C order. The same rules as cpu/matmul.cpp's layout_of.
struct Layout {
    bool ok = false;
    bool transposed = false;  // columns contiguous
    int64_t ld = 0;
};

Layout layout_of(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
    // A size-1 dim never moves the pointer, so its stride does not matter; cuBLAS still wants
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

// The operation for an operand when cuBLAS computes out^T (a row-major result): see above.
cublasOperation_t op_for_row_major_out(const Layout& l) {
    return l.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
}
// ... and when it computes out itself (a column-major result).
cublasOperation_t op_for_column_major_out(const Layout& l) {
    return l.transposed ? CUBLAS_OP_N : CUBLAS_OP_T;
}

// --- Batches.

// t's strides over the result's batch dims `batch` (NumPy rules, right-aligned): 0 where t lacks
// the dim or has size 1 there (a broadcast dim, read again for every index).
std::vector<int64_t> batch_strides(const Tensor& t, const Shape& batch) {
    const int64_t nb = static_cast<int64_t>(batch.size());
    const int64_t lead = nb - (t.dim() - 2);  // batch dims t does not have
    std::vector<int64_t> strides(static_cast<size_t>(nb), 0);
    for (int64_t d = std::max<int64_t>(lead, 0); d < nb; ++d)
        if (t.size(d - lead) != 1) strides[d] = t.strides()[d - lead];
    return strides;
}

// The one stride s with offset(i) = i * s for every C-order linear index i over `sizes`, when
// there is one (size-1 dims are skipped; 0 when no dim has more than one index).
std::optional<int64_t> single_stride(const Shape& sizes, const std::vector<int64_t>& strides) {
    std::optional<int64_t> stride;
    int64_t inner = 1;  // indices covered by the dims merged so far
    for (size_t d = sizes.size(); d-- > 0;) {
        if (sizes[d] == 1) continue;
        if (!stride)
            stride = strides[d];
        else if (strides[d] != *stride * inner)
            return std::nullopt;
        inner *= sizes[d];
    }
    return stride.value_or(0);
}

// The batch as cuBLAS calls: each call is one strided batch of `count` products, product i of a
// call reading a at offset_a + i * stride_a (elements) and so on. The innermost batch dims go into
// the strided batch as long as every operand steps through them by one stride each (stride 0 for
// a broadcast a or b, which cuBLAS reads again for every product); the remaining outer dims become
// a loop of calls. Usually everything fits one call.
struct BatchPlan {
    int64_t count = 1;
    int64_t stride_a = 0, stride_b = 0, stride_c = 0;
    std::vector<int64_t> offset_a, offset_b, offset_c;  // one per call
};

BatchPlan plan_batch(const Shape& batch, const std::vector<int64_t>& sa,
                     const std::vector<int64_t>& sb, const std::vector<int64_t>& sc) {
    std::vector<size_t> dims;  // the batch dims with more than one index, innermost first
    for (size_t d = batch.size(); d-- > 0;)
        if (batch[d] != 1) dims.push_back(d);
    BatchPlan plan;
    size_t inner = 0;  // dims[0, inner) make up the strided batch
    for (; inner < dims.size(); ++inner) {
        const size_t d = dims[inner];
        if (inner == 0) {
            // The products of one call run concurrently, so they must write distinct outputs: a
            // result broadcast along the dim (stride 0) is instead written by one call after
            // another, in stream order, as the CPU's loop does.
            if (sc[d] == 0) break;
            plan.stride_a = sa[d];
            plan.stride_b = sb[d];
            plan.stride_c = sc[d];
        } else if (sa[d] != plan.stride_a * plan.count || sb[d] != plan.stride_b * plan.count ||
                   sc[d] != plan.stride_c * plan.count) {
            break;
        }
        plan.count *= batch[d];
    }
    int64_t calls = 1;
    for (size_t j = inner; j < dims.size(); ++j) calls *= batch[dims[j]];
    for (int64_t i = 0; i < calls; ++i) {
        int64_t oa = 0, ob = 0, oc = 0;
        for (size_t j = inner, rem = static_cast<size_t>(i); j < dims.size(); ++j) {
            const size_t d = dims[j];
            const int64_t idx = static_cast<int64_t>(rem % static_cast<size_t>(batch[d]));
            rem /= static_cast<size_t>(batch[d]);
            oa += idx * sa[d];
            ob += idx * sb[d];
            oc += idx * sc[d];
        }
        plan.offset_a.push_back(oa);
        plan.offset_b.push_back(ob);
        plan.offset_c.push_back(oc);
    }
    return plan;
}

// --- cuBLAS calls.

// The handle of the device with the modes these calls assume. The handle is shared by every
// family that calls cuBLAS, so the modes are set on each call rather than trusted (both are
// plain fields of the handle, no work on the device):
//   - scalars (alpha, beta) passed by host pointer;
//   - CUBLAS_DEFAULT_MATH: with CUBLAS_COMPUTE_32F it keeps float32 inputs and a float32 (or
//     wider) accumulator, never rounding to TF32, which needs CUBLAS_COMPUTE_32F_FAST_TF32 (asked
//     for explicitly below) or CUBLAS_TF32_TENSOR_OP_MATH. CUBLAS_PEDANTIC_MATH would forbid
//     the faster algorithms too, with no gain in accuracy we rely on.
cublasHandle_t gemm_handle(const Launch& launch) {
    cublasHandle_t handle = cublas_handle(launch.device());
    check_cublas(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
    check_cublas(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    return handle;
}

// Throws naming the cuBLAS call and the operands unless `status` is a success (the message is
// formatted only then: this runs on every product).
void check_gemm(cublasStatus_t status, std::string_view call, const Tensor& a, const Tensor& b,
                int64_t m, int64_t n, int64_t k, int64_t count) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    check_cublas(status, call,
                 fmt::format("matmul of a {} and b {}: m {}, n {}, k {}, {} products",
                             shape_str(a.shape()), shape_str(b.shape()), m, n, k, count));
}

// One cuBLAS call in its own column-major terms: `count` products c_i = op_x(x_i) op_y(y_i)
// (+ c_i when accumulating), [m, k] times [k, n], x_i at x + i * stride_x and so on.
template <class T>
struct GemmCall {
    cublasOperation_t op_x = CUBLAS_OP_N, op_y = CUBLAS_OP_N;
    int64_t m = 0, n = 0, k = 0;
    const T* x = nullptr;
    int64_t ldx = 0, stride_x = 0;
    const T* y = nullptr;
    int64_t ldy = 0, stride_y = 0;
    T* c = nullptr;
    int64_t ldc = 0, stride_c = 0;
    int64_t count = 1;
};

template <class T>
void run_gemm(cublasHandle_t handle, const GemmCall<T>& g, bool accumulate, const Tensor& a,
              const Tensor& b) {
    const T alpha = 1, beta = accumulate ? 1 : 0;
    const int m = static_cast<int>(g.m), n = static_cast<int>(g.n), k = static_cast<int>(g.k);
    const int ldx = static_cast<int>(g.ldx), ldy = static_cast<int>(g.ldy);
    const int ldc = static_cast<int>(g.ldc), count = static_cast<int>(g.count);
    if constexpr (std::is_same_v<T, float>) {
        // float32: exact float32 products and sums unless TF32 is allowed (cuda/runtime.h), when
        // the tensor cores round the inputs to 10 mantissa bits and accumulate in float32.
        const cublasComputeType_t compute =
            kernels::allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        check_gemm(cublasGemmStridedBatchedEx(handle, g.op_x, g.op_y, m, n, k, &alpha, g.x,
                                              CUDA_R_32F, ldx, g.stride_x, g.y, CUDA_R_32F, ldy,
                                              g.stride_y, &beta, g.c, CUDA_R_32F, ldc, g.stride_c,
                                              count, compute, CUBLAS_GEMM_DEFAULT),
                   "cublasGemmStridedBatchedEx", a, b, g.m, g.n, g.k, g.count);
    } else {
        check_gemm(
            cublasDgemmStridedBatched(handle, g.op_x, g.op_y, m, n, k, &alpha, g.x, ldx, g.stride_x,
                                      g.y, ldy, g.stride_y, &beta, g.c, ldc, g.stride_c, count),
            "cublasDgemmStridedBatched", a, b, g.m, g.n, g.k, g.count);
    }
}

template <class T>
void matmul_typed(const Launch& launch, const Tensor& out, Tensor a, Tensor b, bool accumulate) {
    const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    const int64_t nb = out.dim() - 2;  // batch dims of the result
    const Shape batch(out.shape().begin(), out.shape().begin() + nb);

    // Operands cuBLAS cannot read in place are copied to C order (their batch dims too); a
    // C-order matrix always has a layout, so the copies are read as they are.
    Layout la = layout_of(a), lb = layout_of(b);
    if (!la.ok) {
        a = kernels::clone(a);
        la = layout_of(a);
    }
    if (!lb.ok) {
        b = kernels::clone(b);
        lb = layout_of(b);
    }
    // The result may be row- or column-major (see the top of the file); otherwise we compute
    // into a C-order buffer (holding out's values when accumulating) and copy it back.
    Tensor c = out;
    Layout lc = layout_of(out);
    if (!lc.ok) {
        c = accumulate ? kernels::clone(out) : empty(out.shape(), out.dtype(), out.device());
        lc = layout_of(c);
    }
    const std::vector<int64_t> sa = batch_strides(a, batch), sb = batch_strides(b, batch),
                               sc = batch_strides(c, batch);
    const BatchPlan plan = plan_batch(batch, sa, sb, sc);
    check(std::max({M, N, K, la.ld, lb.ld, lc.ld, plan.count}) < INT_MAX,
          "[matmul] sizes of a {} and b {} exceed what cuBLAS's 32-bit ints can index",
          shape_str(a.shape()), shape_str(b.shape()));

    const cublasHandle_t handle = gemm_handle(launch);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = c.data<T>();
    const auto finish = [&] {
        if (!c.is_same(out)) kernels::copy(out, c);
    };

    if (!lc.transposed) {
        // A row-major result: cuBLAS computes out^T = b^T a^T, so x is b and y is a.
        GemmCall<T> g{op_for_row_major_out(lb),
                      op_for_row_major_out(la),
                      N,
                      M,
                      K,
                      pb,
                      lb.ld,
                      0,
                      pa,
                      la.ld,
                      0,
                      pc,
                      lc.ld,
                      0,
                      1};
        // b shared by the whole batch (x [B, T, C] @ w [C, N]) and a with contiguous rows: when
        // the batch dims and M of a and of the result fold into one dim of rows, the whole batch
        // is one [B*T, K] @ [K, N], which reads w once.
        const bool b_shared = std::all_of(sb.begin(), sb.end(), [](int64_t s) { return s == 0; });
        if (nb > 0 && b_shared && !la.transposed) {
            Shape rows_shape = batch;
            rows_shape.push_back(M);
            std::vector<int64_t> rows_a = sa, rows_c = sc;
            rows_a.push_back(a.strides()[a.dim() - 2]);
            rows_c.push_back(c.strides()[c.dim() - 2]);
            const std::optional<int64_t> ra = single_stride(rows_shape, rows_a);
            const std::optional<int64_t> rc = single_stride(rows_shape, rows_c);
            const int64_t rows = numel(rows_shape);
            if (ra && rc && rows < INT_MAX) {
                const Layout la_all = layout_of(rows, K, *ra, a.strides().back());
                const Layout lc_all = layout_of(rows, N, *rc, c.strides().back());
                if (la_all.ok && !la_all.transposed && lc_all.ok && !lc_all.transposed &&
                    std::max(la_all.ld, lc_all.ld) < INT_MAX) {
                    g.n = rows;
                    g.ldy = la_all.ld;
                    g.ldc = lc_all.ld;
                    run_gemm<T>(handle, g, accumulate, a, b);
                    return finish();
                }
            }
        }
        for (size_t i = 0; i < plan.offset_a.size(); ++i) {
            GemmCall<T> gi = g;
            gi.x = pb + plan.offset_b[i];
            gi.stride_x = plan.stride_b;
            gi.y = pa + plan.offset_a[i];
            gi.stride_y = plan.stride_a;
            gi.c = pc + plan.offset_c[i];
            gi.stride_c = plan.stride_c;
            gi.count = plan.count;
            run_gemm<T>(handle, gi, accumulate, a, b);
        }
    } else {
        // A column-major result: cuBLAS computes out = a b, so x is a and y is b.
        const GemmCall<T> g{op_for_column_major_out(la),
                            op_for_column_major_out(lb),
                            M,
                            N,
                            K,
                            pa,
                            la.ld,
                            0,
                            pb,
                            lb.ld,
                            0,
                            pc,
                            lc.ld,
                            0,
                            1};
        for (size_t i = 0; i < plan.offset_a.size(); ++i) {
            GemmCall<T> gi = g;
            gi.x = pa + plan.offset_a[i];
            gi.stride_x = plan.stride_a;
            gi.y = pb + plan.offset_b[i];
            gi.stride_y = plan.stride_b;
            gi.c = pc + plan.offset_c[i];
            gi.stride_c = plan.stride_c;
            gi.count = plan.count;
            run_gemm<T>(handle, gi, accumulate, a, b);
        }
    }
    finish();
}

// --- MatmulPrecision::bf16 (linalg.h): products against a 2-d weight with both operands rounded
// to bfloat16. The products of two bfloat16 values are exact in float32 (8 + 8 significant bits
// fit in 24), and cuBLAS sums them in float32 (CUBLAS_COMPUTE_32F), as cpu/bf16_gemm.h does.

// A weight rounded to bfloat16, dense on its device: b [K, N] in C order, or b^T [N, K] in C order
// when b is a transposed view (wte^T), so that making it reads b's memory in order.
struct Bf16Weight {
    std::shared_ptr<Storage> bits;  // K * N uint16_t
    bool transposed = false;
};

// The rounded weights, kept between calls like the CPU's pack cache (cpu/pack_cache.h): an entry
// belongs to one view (offset, shape, strides) of one storage, holds the storage weakly (it never
// keeps a weight alive) and is valid only at the storage's version, so an in-place write (an
// optimizer step, a load) makes the next call round the weight again. Entries of freed or
// rewritten storages are dropped whenever one is added, and beyond kMaxBf16Weights the least
// recently used goes, so the cache stays bounded even when b is not a weight. A process holds a
// few hundred weights at most, so a linear scan is enough.
constexpr size_t kMaxBf16Weights = 512;  // GPT-2 XL has 193 weight matrices

struct Bf16Entry {
    std::weak_ptr<Storage> storage;
    const Storage* address = nullptr;
    uint64_t version = 0;
    int64_t offset = 0, rows = 0, cols = 0, rs = 0, cs = 0;
    uint64_t last_use = 0;
    std::shared_ptr<const Bf16Weight> weight;
};

struct Bf16Cache {
    std::mutex mutex;
    std::vector<Bf16Entry> entries;
    uint64_t clock = 0;  // counts lookups, for least-recently-used eviction
};

Bf16Cache& bf16_cache() {
    static Bf16Cache* cache = new Bf16Cache;  // never destroyed: no device frees at exit
    return *cache;
}

// b's bfloat16 copy: found in the cache, or made now (queued on the device's stream, where every
// later product that reads it is queued too) and stored.
std::shared_ptr<const Bf16Weight> bf16_weight(const Launch& launch, const Tensor& b) {
    const std::shared_ptr<Storage>& storage = b.storage();
    const int64_t rows = b.size(0), cols = b.size(1), rs = b.strides()[0], cs = b.strides()[1];
    Bf16Cache& cache = bf16_cache();
    // The conversion is only queued, so it is cheap enough to do under the lock.
    std::lock_guard<std::mutex> lock(cache.mutex);
    ++cache.clock;
    for (Bf16Entry& e : cache.entries) {
        // This very storage (its address, and still alive: a freed storage's address may be
        // reused) at its present version, viewed the same way.
        if (e.address == storage.get() && e.version == storage->version() &&
            e.offset == b.offset() && e.rows == rows && e.cols == cols && e.rs == rs &&
            e.cs == cs && e.storage.lock() == storage) {
            e.last_use = cache.clock;
            return e.weight;
        }
    }
    auto weight = std::make_shared<Bf16Weight>();
    const Layout lb = layout_of(b);
    weight->transposed = lb.ok && lb.transposed;
    const Tensor src = weight->transposed ? views::transpose(b, 0, 1) : b;
    weight->bits =
        std::make_shared<Storage>(static_cast<size_t>(b.numel()) * sizeof(uint16_t), b.device());
    const Iteration it = iteration(src.shape(), {src});
    launch_to_bf16(it.shape, it.operands[0], static_cast<uint16_t*>(weight->bits->data()),
                   launch.stream());
    launch.check("to_bf16_kernel");

    std::erase_if(cache.entries, [](const Bf16Entry& e) {
        const std::shared_ptr<Storage> s = e.storage.lock();
        return !s || s->version() != e.version;
    });
    if (cache.entries.size() >= kMaxBf16Weights)
        cache.entries.erase(std::min_element(
            cache.entries.begin(), cache.entries.end(),
            [](const Bf16Entry& x, const Bf16Entry& y) { return x.last_use < y.last_use; }));
    cache.entries.push_back({storage, storage.get(), storage->version(), b.offset(), rows, cols, rs,
                             cs, cache.clock, weight});
    return weight;
}

// out [..., M, N] = round(a) [..., M, K] @ round(b) [K, N] (+ out), K > 0. The batch folds into
// the rows: a is rounded into a C-order [rows, K] buffer (from any strides), so one GEMM reads
// the weight once whatever the batch.
void matmul_bf16(const Launch& launch, const Tensor& out, const Tensor& a, const Tensor& b,
                 bool accumulate) {
    const int64_t K = a.size(-1), N = b.size(-1), rows = a.numel() / K;
    check(std::max({rows, N, K}) < INT_MAX,
          "[matmul] sizes of a {} and b {} exceed what cuBLAS's 32-bit ints can index",
          shape_str(a.shape()), shape_str(b.shape()));
    const std::shared_ptr<const Bf16Weight> w = bf16_weight(launch, b);

    // a's bits live until the end of this function; freeing them while the GEMM is still queued
    // is safe, since the allocator hands the block only to later work on the same stream.
    Storage a_bits(static_cast<size_t>(a.numel()) * sizeof(uint16_t), a.device());
    const Iteration it = iteration(a.shape(), {a});
    launch_to_bf16(it.shape, it.operands[0], static_cast<uint16_t*>(a_bits.data()),
                   launch.stream());
    launch.check("to_bf16_kernel");

    Tensor c = out;
    if (!out.is_contiguous())
        c = accumulate ? kernels::clone(out) : empty(out.shape(), out.dtype(), out.device());

    // out^T [N, rows] = b^T a^T in cuBLAS's terms (see the top of the file): a's bits, row-major
    // [rows, K], are a^T to cuBLAS (CUBLAS_OP_N, ld K); the weight's bits are b^T as they are
    // (CUBLAS_OP_N, ld N), or b stored as b^T [N, K] row-major, which cuBLAS sees as b and
    // transposes (CUBLAS_OP_T, ld K).
    const cublasHandle_t handle = gemm_handle(launch);
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    const int m = static_cast<int>(N), n = static_cast<int>(rows), k = static_cast<int>(K);
    check_gemm(cublasGemmEx(handle, w->transposed ? CUBLAS_OP_T : CUBLAS_OP_N, CUBLAS_OP_N, m, n, k,
                            &alpha, w->bits->data(), CUDA_R_16BF, w->transposed ? k : m,
                            a_bits.data(), CUDA_R_16BF, k, &beta, c.data<float>(), CUDA_R_32F, m,
                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx", a, b, N, rows, K, 1);
    if (!c.is_same(out)) kernels::copy(out, c);
}

void matmul_cuda(const Tensor& out, const Tensor& a, const Tensor& b, bool accumulate) {
    check(a.dim() >= 2 && b.dim() >= 2, "[matmul] kernel needs matrices, got a {} and b {}",
          shape_str(a.shape()), shape_str(b.shape()));
    const Shape expected = kernels::matmul_shape(a, b);
    check(out.shape() == expected && out.dtype() == a.dtype(),
          "[matmul] output {} {} does not fit a {} @ b {} (expected {} {})", out.dtype(),
          shape_str(out.shape()), shape_str(a.shape()), shape_str(b.shape()), a.dtype(),
          shape_str(expected));
    Launch launch("matmul", {out, a, b});
    if (out.numel() == 0) return;
    if (a.size(-1) == 0) {  // an empty sum
        if (!accumulate) kernels::fill(out, 0);
        return;
    }
    if (a.dtype() == DType::f32 && b.dim() == 2 &&
        kernels::matmul_precision() == kernels::MatmulPrecision::bf16)
        return matmul_bf16(launch, out, a, b, accumulate);
    visit_floating(a.dtype(), "matmul",
                   [&]<class T>() { matmul_typed<T>(launch, out, a, b, accumulate); });
}

[[maybe_unused]] const bool matmul_on_cuda = kernels::matmul.set(DeviceType::cuda, &matmul_cuda);

}  // namespace

}  // namespace gradstack::cuda
