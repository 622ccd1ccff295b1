// Raw matrix multiplication. kernels::matmul is the GEMM every linear layer, attention score and
// gradient goes through: out = a @ b (+ out) over the last two dims, batch dims broadcast.
// matmul_fresh adds torch.matmul's handling of 1-d operands and allocates the result.
// Read next: cpu/matmul.cpp (the OpenBLAS calls), reference/matmul.cpp (the three loops it
// replaces), autograd/ops/linalg.cpp (the gradients).
#pragma once

#include <string_view>

#include "tensor/dispatch.h"

namespace gradstack::kernels {

// out = a @ b, or out += a @ b when `accumulate`, for a [..., M, K] and b [..., K, N], both at
// least 2-d and of the same float dtype (float32 or float64; int64 throws). The batch dims (all
// but the last two) broadcast by NumPy rules; out has shape [batch..., M, N]. Any strides work:
// operands whose last two dims are row- or column-major are read in place (also stride-0
// broadcast batch dims), others are copied first.
inline constinit Dispatcher<void(const Tensor& out, const Tensor& a, const Tensor& b,
                                 bool accumulate)>
    matmul{"matmul"};

// The precision float32 matmuls against a weight multiply in. `f32` (the default) is float32
// throughout, what Hugging Face computes. `bf16` (`--dtype bf16`, inference only) rounds both
// operands to bfloat16 (8 significant bits), multiplies them exactly and sums in float32, as
// inference engines do: the weight is packed once into bfloat16 and kept, so every later product
// reads half the bytes (tensor/cpu/bf16_gemm.h). It applies to the products whose b is one 2-d
// matrix (x @ W, x @ wte^T: every weight GEMM of GPT-2); batched products of activations stay
// float32, and so does everything that is not a matmul (layer norm, softmax, attention). The
// reference kernel set follows the same rule in float64 on the rounded values. Process-wide.
enum class MatmulPrecision : int { f32 = 0, bf16 = 1 };
MatmulPrecision matmul_precision();
void set_matmul_precision(MatmulPrecision precision);
// "float32" -> f32, "bf16" -> bf16; anything else throws naming `where` (a flag) and the choices.
MatmulPrecision parse_matmul_precision(std::string_view value, std::string_view where);
const char* matmul_precision_name(MatmulPrecision precision);  // "float32", "bf16"

// Sets the precision for a scope and restores the previous one.
class MatmulPrecisionGuard {
  public:
    explicit MatmulPrecisionGuard(MatmulPrecision precision) : saved_(matmul_precision()) {
        set_matmul_precision(precision);
    }
    ~MatmulPrecisionGuard() { set_matmul_precision(saved_); }
    MatmulPrecisionGuard(const MatmulPrecisionGuard&) = delete;
    MatmulPrecisionGuard& operator=(const MatmulPrecisionGuard&) = delete;

  private:
    MatmulPrecision saved_;
};

// TF32 tensor-core maths for float32 GEMMs on a GPU: off by default, for exact parity with the
// CPU; on, float32 products round their inputs to 10 mantissa bits and sum in float32, as
// torch.backends.cuda.matmul.allow_tf32 does (`bench gpt|train --device cuda` measure both).
// The CPU ignores it. Process-wide.
bool allow_tf32();
void set_allow_tf32(bool allow);

// The shape of torch.matmul(a, b) for a and b of at least 1 dim (see matmul_fresh): for 2-d and
// more, the broadcast batch dims, then M, N. Checks dtypes and devices, and throws
// "[matmul] last dim of a (2, 3) must match dim -2 of b (4, 5)" or
// "[matmul] batch dims of a (2, 3, 4) and b (5, 4, 6) do not broadcast".
Shape matmul_shape(const Tensor& a, const Tensor& b);

// a @ b into a fresh tensor, with torch.matmul's rules for any a and b of at least 1 dim:
// 1-d @ 1-d is a dot product (0-d result); a 1-d a is read as [1, K] and a 1-d b as [K, 1], and
// the added dim is removed from the result. Not differentiable (see autograd/ops/linalg.h).
Tensor matmul_fresh(const Tensor& a, const Tensor& b);

}  // namespace gradstack::kernels
