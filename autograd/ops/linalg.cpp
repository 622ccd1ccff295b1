// Differentiable matmul and linear. For Y = A B the gradients are dA = dY B^T and dB = A^T dY;
// both are matmuls of transposed *views*, which the kernel reads in place (CblasTrans), so no
// transposed copy is ever made. Batch dims that were broadcast in the forward are summed back by
// the engine; a weight shared by a whole batch gets its gradient from one GEMM over the batch.
#include "autograd/ops/linalg.h"

#include "autograd/node.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/linalg.h"
#include "tensor/view.h"

namespace gradstack {

namespace {

// Whether w is the transposed view of a contiguous matrix: [K, N] with strides [1, K].
bool is_transposed_matrix(const Tensor& w) {
    return w.dim() == 2 && w.strides()[0] == 1 && w.strides()[1] == w.size(0) && w.size(1) > 1;
}

// The gradient of a 2-d weight w used by every row of a batched x: dW = sum_i x_i^T g_i over the
// batch, done as one [K, B*M] @ [B*M, N] product instead of B products and a sum.
// x [..., M, K], g [..., M, N] -> [K, N], laid out as w is. When w is a transposed view (GPT-2's
// tied head, x @ wte^T), the GEMM writes g^T x as [N, K] and the result is its transposed view, so
// the gradient reaching wte is contiguous; otherwise wte would get a transposed [50257, 768]
// gradient, and adding the embedding's gradient to it would walk 154 MB against the grain.
Tensor batch_shared_grad(const Tensor& x, const Tensor& g, bool w_transposed) {
    Tensor x2 = reshape(x, {-1, x.size(-1)});  // (B*M, K); a view unless x's layout forbids one
    Tensor g2 = reshape(g, {-1, g.size(-1)});  // (B*M, N)
    if (w_transposed) return transpose(matmul(transpose(g2, 0, 1), x2), 0, 1);
    return matmul(transpose(x2, 0, 1), g2);
}

}  // namespace

// y = a @ b; for matrices dL/da = gy @ b^T and dL/db = a^T @ gy.
const Op op_matmul{"matmul"};
Tensor matmul(const Tensor& a, const Tensor& b) {
    Shape shape = kernels::matmul_shape(a, b);  // checks, with both shapes in the message
    if (a.dim() == 1 || b.dim() == 1) {
        // Promote through differentiable views, so the gradient flows back through them:
        // a [K] -> [1, K], b [K] -> [K, 1]; the product's extra dim is then dropped.
        Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
        Tensor b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;
        return reshape(matmul(a2, b2), shape);
    }
    Tensor y = kernels::matmul_fresh(a, b);
    const bool need_a = a.requires_grad(), need_b = b.requires_grad();
    // Keep only what the needed gradients read: dA reads B, dB reads A.
    Tensor saved_a = need_b ? a : Tensor(), saved_b = need_a ? b : Tensor();
    const bool b_shared = b.dim() == 2 && a.dim() > 2;  // one weight for the whole batch of a
    const bool b_transposed = b_shared && is_transposed_matrix(b);
    return record(op_matmul, {a, b}, y, [a = saved_a, b = saved_b, b_shared, b_transposed](const Tensor& gy) {
        Tensor ga, gb;
        if (b.defined()) ga = matmul(gy, transpose(b, -1, -2));  // (..., M, N) @ (..., N, K)
        if (a.defined()) {
            gb = b_shared ? batch_shared_grad(a, gy, b_transposed)
                          : matmul(transpose(a, -1, -2), gy);  // (..., K, M) @ (..., M, N)
        }
        return grads{ga, gb};
    });
}

// y = x @ W^T + bias. The output starts as the bias broadcast over the rows and the GEMM adds
// x W^T onto it (BLAS's beta = 1), which saves the separate pass over y that `x @ W^T + b` makes
// (measured at [4096, 768] @ W^T, 1 thread: 47 ms fused vs 56 ms for matmul then add, N = 768;
// 276 vs 331 ms, N = 3072).
// dL/dx = gy @ W, dL/dW = gy^T @ x (summed over all rows), dL/dbias = gy summed over all rows.
const Op op_linear{"linear"};
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    check(weight.dim() == 2, "[linear] weight must be 2-d [out, in], got {}",
          shape_str(weight.shape()));
    check(x.dim() >= 1 && x.size(-1) == weight.size(1),
          "[linear] last dim of x {} must match dim 1 (in) of weight {}", shape_str(x.shape()),
          shape_str(weight.shape()));
    const int64_t out_features = weight.size(0);
    check(!bias.defined() || bias.shape() == Shape{out_features},
          "[linear] bias must be ({},) for weight {}, got {}", out_features,
          shape_str(weight.shape()), bias.defined() ? shape_str(bias.shape()) : "none");
    Tensor wt = views::transpose(weight, 0, 1);  // (in, out), read in place with CblasTrans
    Tensor x2 = x.dim() == 1 ? views::unsqueeze(x, 0) : x;
    Shape shape = kernels::matmul_shape(x2, wt);  // checks dtypes: (..., out)
    Tensor y = empty(shape, x.dtype(), x.device());
    if (bias.defined()) {
        check(bias.dtype() == x.dtype(), "[linear] bias is {} but x is {}", bias.dtype(),
              x.dtype());
        kernels::copy(y, bias);  // every row starts as the bias
    }
    kernels::matmul(y, x2, wt, bias.defined());
    if (x.dim() == 1) y = views::squeeze(y, 0);

    const bool need_x = x.requires_grad(), need_w = weight.requires_grad();
    const bool has_bias = bias.defined(), need_b = has_bias && bias.requires_grad();
    Tensor saved_x = need_w ? x : Tensor(), saved_w = need_x ? weight : Tensor();
    // GPT-2's Conv1D passes the transposed view of an [in, out] weight: its gradient is then
    // computed as [in, out] too, so that the weight's .grad is contiguous (see batch_shared_grad).
    const bool w_transposed = need_w && is_transposed_matrix(weight);
    std::vector<Tensor> inputs{x, weight};
    if (bias.defined()) inputs.push_back(bias);
    auto backward = [x = saved_x, w = saved_w, has_bias, need_b, w_transposed](const Tensor& gy) {
        grads g(has_bias ? 3 : 2);
        Tensor gy2 = reshape(gy, {-1, gy.size(-1)});  // (rows, out)
        if (w.defined()) g[0] = matmul(gy, w);        // (..., out) @ (out, in)
        if (x.defined()) {
            Tensor x2 = reshape(x, {-1, x.size(-1)});  // (rows, in)
            g[1] = w_transposed ? transpose(matmul(transpose(x2, 0, 1), gy2), 0, 1)
                                : matmul(transpose(gy2, 0, 1), x2);  // (out, rows) @ (rows, in)
        }
        if (need_b) g[2] = sum(gy2, {0});  // (out,)
        return g;
    };
    return record(op_linear, inputs, y, backward);
}

}  // namespace gradstack
