// Losses. cross_entropy (with ignore_index and label smoothing) is the fused op from
// autograd/ops/nn.h, re-exported here; the others are short compositions whose gradients come
// from their parts.
#pragma once

#include "autograd/ops/nn.h"

namespace gradstack::nn {

using gradstack::cross_entropy;
using gradstack::Reduction;

// mean/sum/none of (input - target)^2.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

// Binary cross-entropy on logits, computed stably:  max(x, 0) - x y + log(1 + exp(-|x|)).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::mean);

// KL(p || q) = sum_c p_c (log p_c - log q_c) over `dim`, averaged over the other positions
// (PyTorch's reduction="batchmean" for 2-d inputs). p and q are given as logits, or as
// log-probabilities when `log_probs` is true.
Tensor kl_divergence(const Tensor& p, const Tensor& q, int64_t dim = -1, bool log_probs = false);

}  // namespace gradstack::nn
