// Differentiable neural-net primitives with fused kernels: softmax, log_softmax, layer_norm,
// cross_entropy, dropout and causal scaled-dot-product attention. These are where GPT-2 spends
// its non-matmul time, so each has a hand-written backward (tensor/kernels/nn.h) instead of a
// composition of elementwise ops.
// Their backwards are not themselves differentiable (no second derivatives).
#pragma once

#include <cstdint>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace gradstack {

// softmax(x)_i = exp(x_i) / sum_j exp(x_j) along `dim` (negative counts from the end), computed
// stably (max subtracted). A row of all -inf gives NaN, like PyTorch. Float32 or float64; the
// output is contiguous, of x's shape. Throws for a bad dim or an integer tensor.
Tensor softmax(const Tensor& x, int64_t dim);
// log(softmax(x)) along `dim`, without forming softmax (exact for large logits).
Tensor log_softmax(const Tensor& x, int64_t dim);

// Layer norm over the last dim C, like torch.nn.functional.layer_norm(x, [C], weight, bias, eps):
// y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance of each row.
// weight and bias have shape [C] and x's dtype; either may be an undefined Tensor() (no scale /
// no shift). Throws for a 0-d x or a weight/bias of the wrong shape or dtype.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

enum class Reduction { none, mean, sum };

// Cross-entropy of `logits` [..., C] (classes in the last dim) against int64 class indices
// `target` of logits' shape without the last dim, like torch.nn.functional.cross_entropy with the
// class dim moved last. Per element: (1 - ls) (-log p_t) + ls mean_c(-log p_c), p = softmax of the
// row, ls = label_smoothing in [0, 1]; elements whose target is ignore_index give 0.
// Reduction::none returns target's shape; sum adds them up; mean divides the sum by the number of
// non-ignored targets (NaN when every target is ignored, as in PyTorch). The gradient flows to
// logits only. Throws "[cross_entropy] target 7 at position (1, 2) is out of range for 5 classes"
// for a target outside [0, C) that is not ignore_index, and for shape or dtype mismatches.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::mean, double label_smoothing = 0.0);

// Inverted dropout: when training with p > 0, each element is zeroed with probability p and the
// rest scaled by 1 / (1 - p); otherwise x itself is returned. The mask comes from `gen` (default:
// the process-wide generator), which it advances, and is the same for a given seed and counter
// whatever the thread count; the backward applies the same mask. Throws unless 0 <= p < 1.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// Causal multi-head attention in one op, GPT-2's (Hugging Face's) composition without its
// (B, nh, T, S) score tensors: q (B, nh, T, hs); k and v (B, nh, S, hs) with S >= T, the last T
// keys being the queries' own positions (S > T: a cache of S - T earlier ones), so query i sees
// keys j <= S - T + i. Returns (B, nh, T, hs):
//   s = q k^T / sqrt(hs), the dtype's lowest finite value where key j is after query i
//   s = s + additive_mask        (optional, broadcastable to (B, nh, T, S), e.g. the (B, 1, 1, S)
//                                 of nn::additive_attention_mask; it gets no gradient)
//   out = dropout(softmax(s, -1), dropout_p) v
// Dropout runs only when dropout_p > 0 and `gen` is given; it reserves the generator's counters
// that dropout(softmax(s)) would, and draws the same mask. Float32 or float64, any strides.
// Throws for shapes, dtypes or devices that do not fit, or dropout_p outside [0, 1).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& additive_mask = Tensor(),
                                    double dropout_p = 0, Generator* gen = nullptr);

}  // namespace gradstack
