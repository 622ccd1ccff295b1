// Device-independent parts of matmul (see linalg.h): the shape rules of torch.matmul, with error
// messages that name both operands as the user passed them, and the 1-d promotions.
#include "tensor/kernels/linalg.h"

#include <atomic>

#include "tensor/view.h"

namespace gradstack::kernels {

namespace {
std::atomic<int> current_precision{0};
}

namespace {
constinit std::atomic<bool> tf32_allowed{false};
}  // namespace

bool allow_tf32() { return tf32_allowed.load(std::memory_order_relaxed); }
void set_allow_tf32(bool allow) { tf32_allowed.store(allow, std::memory_order_relaxed); }

MatmulPrecision matmul_precision() {
    return static_cast<MatmulPrecision>(current_precision.load(std::memory_order_relaxed));
}

void set_matmul_precision(MatmulPrecision precision) {
    current_precision.store(static_cast<int>(precision), std::memory_order_relaxed);
}

MatmulPrecision parse_matmul_precision(std::string_view value, std::string_view where) {
    if (value == "float32") return MatmulPrecision::f32;
    if (value == "bf16") return MatmulPrecision::bf16;
    fail("{}: '{}' is not a matmul precision; use float32 (exact, the default) or bf16 (weights "
         "rounded to bfloat16, faster, inference only)",
         where, value);
}

const char* matmul_precision_name(MatmulPrecision precision) {
    return precision == MatmulPrecision::bf16 ? "bf16" : "float32";
}

Shape matmul_shape(const Tensor& a, const Tensor& b) {
    check(a.dim() >= 1 && b.dim() >= 1,
          "[matmul] both operands need at least 1 dim, got a {} and b {}", shape_str(a.shape()),
          shape_str(b.shape()));
    check(a.dtype() == b.dtype(), "[matmul] dtype mismatch: a {} {} and b {} {}", a.dtype(),
          shape_str(a.shape()), b.dtype(), shape_str(b.shape()));
    check(is_floating(a.dtype()),
          "[matmul] supports float32 and float64, got {} (a {}, b {}); convert with to_dtype",
          a.dtype(), shape_str(a.shape()), shape_str(b.shape()));
    check(a.device() == b.device(), "[matmul] device mismatch: a on {} and b on {}", a.device(),
          b.device());
    const int64_t k_b = b.dim() == 1 ? b.size(0) : b.size(-2);
    check(a.size(-1) == k_b, "[matmul] last dim of a {} must match dim {} of b {}",
          shape_str(a.shape()), b.dim() == 1 ? "0" : "-2", shape_str(b.shape()));
    // Batch dims: everything before the matrix dims (none for a 1-d or 2-d operand).
    Shape batch_a(a.shape().begin(), a.shape().end() - std::min<int64_t>(a.dim(), 2));
    Shape batch_b(b.shape().begin(), b.shape().end() - std::min<int64_t>(b.dim(), 2));
    Shape out;
    try {
        out = broadcast_shapes(batch_a, batch_b, "matmul");
    } catch (const Error&) {
        fail("[matmul] batch dims of a {} and b {} do not broadcast", shape_str(a.shape()),
             shape_str(b.shape()));
    }
    if (a.dim() >= 2) out.push_back(a.size(-2));
    if (b.dim() >= 2) out.push_back(b.size(-1));
    return out;
}

Tensor matmul_fresh(const Tensor& a, const Tensor& b) {
    Shape shape = matmul_shape(a, b);
    // Promote 1-d operands to matrices: a [K] -> [1, K], b [K] -> [K, 1] (views, no copy).
    Tensor a2 = a.dim() == 1 ? views::unsqueeze(a, 0) : a;
    Tensor b2 = b.dim() == 1 ? views::unsqueeze(b, 1) : b;
    Shape full = shape;  // the result shape with the promoted dims kept
    if (a.dim() == 1) full.insert(full.end() - (b.dim() >= 2 ? 1 : 0), 1);
    if (b.dim() == 1) full.push_back(1);
    Tensor out = empty(full, a.dtype(), a.device());
    matmul(out, a2, b2, false);
    return full == shape ? out : *views::try_view(out, shape);
}

}  // namespace gradstack::kernels
