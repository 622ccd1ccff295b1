// Raw fused kernels for the neural-net primitives that GPT-2 spends its time in: softmax and
// log_softmax, layer norm, cross-entropy, dropout and causal attention, each with a fused
// backward. Outputs are fresh tensors made by the caller (autograd/ops/nn.cpp, which also checks
// shapes and dtypes); inputs may have any layout. Float32 and float64.
// Read next: cpu/softmax.cpp, cpu/layer_norm.cpp, cpu/cross_entropy.cpp, cpu/dropout.cpp,
// cpu/attention.cpp; their plain float64 twins: reference/softmax.cpp, layer_norm.cpp,
// cross_entropy.cpp, dropout.cpp, attention.cpp (GRADSTACK_KERNELS=reference runs those).
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"

namespace gradstack::kernels {

// --- softmax over dim `dim` (normalised), out of x's shape.
//   softmax:     out = exp(x - max) / sum(exp(x - max))
//   log_softmax: out = (x - max) - log(sum(exp(x - max)))
// A row that is all -inf gives NaN, like PyTorch.
using SoftmaxKernel = Dispatcher<void(const Tensor& out, const Tensor& x, int64_t dim)>;
inline constinit SoftmaxKernel softmax{"softmax"};
inline constinit SoftmaxKernel log_softmax{"log_softmax"};

// Backward from the forward output y:
//   softmax_backward:     gx = y * (gy - sum(gy * y, dim))
//   log_softmax_backward: gx = gy - exp(y) * sum(gy, dim)
using SoftmaxBackwardKernel =
    Dispatcher<void(const Tensor& gx, const Tensor& gy, const Tensor& y, int64_t dim)>;
inline constinit SoftmaxBackwardKernel softmax_backward{"softmax_backward"};
inline constinit SoftmaxBackwardKernel log_softmax_backward{"log_softmax_backward"};

// --- layer norm over the last dim C of x (rows = numel / C).
// y = (x - mean) * rstd * weight + bias, with mean and rstd = 1 / sqrt(var + eps) (biased
// variance) written per row into `mean` and `rstd` (shape [rows], x's dtype). weight and bias
// ([C]) may be undefined: no scale, no shift.
inline constinit Dispatcher<void(const Tensor& y, const Tensor& mean, const Tensor& rstd,
                                 const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 double eps)>
    layer_norm{"layer_norm"};
// Inputs first (gy and x of x's shape, weight [C] or undefined, mean and rstd from the forward),
// then the outputs gx (x's shape), gweight and gbias ([C]); an undefined output is skipped.
inline constinit Dispatcher<void(const Tensor& gy, const Tensor& x, const Tensor& weight,
                                 const Tensor& mean, const Tensor& rstd, const Tensor& gx,
                                 const Tensor& gweight, const Tensor& gbias)>
    layer_norm_backward{"layer_norm_backward"};

// --- cross-entropy with the class dim last: logits [..., C] viewed as [N, C], target int64 with
// N elements. For each row r with target t != ignore_index:
//   lse[r]  = log(sum_c exp(logits[r, c]))                  (float64, saved for the backward)
//   loss[r] = (1 - ls) * (lse - logits[r, t]) + ls * (lse - mean_c logits[r, c])
// with ls = label_smoothing; rows with t == ignore_index get loss 0 (and lse 0). loss has N
// elements in logits' dtype. Throws "[cross_entropy] target 7 at position (1, 2) is out of range
// for 5 classes" for a target outside [0, C) that is not ignore_index.
inline constinit Dispatcher<void(const Tensor& loss, const Tensor& lse, const Tensor& logits,
                                 const Tensor& target, int64_t ignore_index,
                                 double label_smoothing)>
    cross_entropy{"cross_entropy"};
// gx[r, c] = gloss[r] * (softmax(logits)[r, c] - (1 - ls) [c == t] - ls / C), 0 on ignored rows.
// gloss has N elements (the upstream gradient of each row's loss).
inline constinit Dispatcher<void(const Tensor& gx, const Tensor& gloss, const Tensor& logits,
                                 const Tensor& lse, const Tensor& target, int64_t ignore_index,
                                 double label_smoothing)>
    cross_entropy_backward{"cross_entropy_backward"};

// --- dropout: out = x * keep / (1 - p), elementwise over x in C order. Element i is kept when
// word i % 4 of Philox block (counter + i / 4) of `seed`, as a uniform in [0, 1), is >= p; so the
// mask depends only on (seed, counter, i), never on threads or layout, and the backward is the
// same kernel applied to gy. The caller reserves ceil(numel / 4) blocks (dropout_blocks).
inline constinit Dispatcher<void(const Tensor& out, const Tensor& x, double p, uint64_t seed,
                                 uint64_t counter)>
    dropout{"dropout"};
inline uint64_t dropout_blocks(int64_t numel) {
    return static_cast<uint64_t>(numel + 3) / 4;
}

// --- causal scaled-dot-product attention, fused: the (B, nh, T, S) scores and probabilities are
// never stored. q is (B, nh, T, hs); k and v are (B, nh, S, hs) with S >= T (keys 0..S-1 cover a
// cache of S - T earlier positions): query i sits at position S - T + i and sees keys
// j <= S - T + i. For each query row, in the dtype of q (Hugging Face's GPT-2 composition):
//   s_ij  = q_i . k_j / sqrt(hs) where key j is visible, else lowest (the dtype's lowest finite)
//   s_ij += mask_ij                      (mask: additive, broadcastable to (B, nh, T, S), q's
//                                         dtype, or undefined: then only visible keys are read)
//   P_ij  = softmax_j(s_ij) over all S keys
//   P'_ij = P_ij * keep_ij / (1 - p)     (attention dropout; keep_ij = 1 when p = 0)
//   out_i = sum_j P'_ij v_j
// keep_ij is dropout's mask (above) for element ((b nh + h) T + i) S + j of a (B, nh, T, S)
// tensor, so the result equals dropout(softmax(s)) @ v with the same (seed, counter); the caller
// reserves dropout_blocks(B nh T S) blocks. q, k, v and the mask may have any strides.
// Outputs (contiguous, made by the caller): out (B, nh, T, hs), and lse (B, nh, T) in q's dtype:
// log sum_j exp(s_ij - m_i) with m_i = max_j s_ij, the row's log-sum-exp minus its max. The
// backward recomputes m_i with the scores; keeping it apart keeps exact the rows whose scores all
// sit near `lowest` (a padded query: lowest + log(S) would round back to lowest).
inline constinit Dispatcher<void(const Tensor& out, const Tensor& lse, const Tensor& q,
                                 const Tensor& k, const Tensor& v, const Tensor& mask, double p,
                                 uint64_t seed, uint64_t counter)>
    attention_forward{"attention_forward"};

// The sizes of an attention problem, and the checks every backend runs on its inputs (shared by
// the fast and the reference kernels, in kernels/nn.cpp): q, k, v 4-d of one dtype, k and v
// (B, nh, S, hs) with S >= T and hs > 0, p in [0, 1), a mask of q's dtype broadcastable to
// (B, nh, T, S). Throws naming the shapes.
struct AttentionShape {
    int64_t B, H, T, S, hs;
    bool masked;
};
AttentionShape check_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& mask, double p);
// Gradients of the forward above. Inputs first (they decide the device): gout = dL/dout
// (B, nh, T, hs, any strides), the forward's inputs and its lse; then the outputs dq
// (B, nh, T, hs), dk and dv (B, nh, S, hs), contiguous; an undefined output is not computed. The
// mask gets no gradient.
inline constinit Dispatcher<void(const Tensor& gout, const Tensor& q, const Tensor& k,
                                 const Tensor& v, const Tensor& mask, const Tensor& lse, double p,
                                 uint64_t seed, uint64_t counter, const Tensor& dq,
                                 const Tensor& dk, const Tensor& dv)>
    attention_backward{"attention_backward"};

}  // namespace gradstack::kernels
