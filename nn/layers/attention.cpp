// Causal self-attention (see attention.h). For each head:
//   scores = q k^T / sqrt(head_dim)                       (B, nh, T, T_past + T)
//   scores = lowest where key j is after query i (causal), + additive padding mask
//   y      = dropout(softmax(scores)) v                   (B, nh, T, hs)
// The masked value is the dtype's lowest finite number, not -inf, as in Hugging Face: a padding
// query whose every key is masked still gets a finite softmax, so no NaN leaks into later layers.
// All of it is one fused op, scaled_dot_product_attention (autograd/ops/nn.h): the scores are
// (B, nh, T, S) floats, 134 MB per layer at batch 32, 16 heads, context 256, and building them
// with matmul, where, add, softmax and dropout (and again in backward) cost far more than the
// arithmetic; the fused kernel keeps one row block of them in cache at a time. The plain version
// of the same math, loop by loop: tensor/reference/attention.cpp (see the call below).
#include "nn/layers/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/index.h"
#include "autograd/ops/linalg.h"
#include "autograd/ops/nn.h"
#include "tensor/kernels/copy.h"
#include "tensor/view.h"

namespace gradstack::nn {

namespace {
double lowest(DType dtype) {
    return dtype == DType::f32 ? static_cast<double>(std::numeric_limits<float>::lowest())
                               : std::numeric_limits<double>::lowest();
}
// Decoding appends one token to a cache of P; torch.cat-ing it onto the cache (what the graph
// path does, and Hugging Face) copies all P positions every step, 12 layers x 2 x B*nh*P*hs
// floats, 38 MB per step at B = 8, P = 64. Here the cache lives in a KVBuffer with spare
// capacity, and the new positions are written into it; the returned key/value are views of its
// first P + T positions. Safe because a position is written only by the first call that extends
// a cache of exactly `used` positions: any earlier view covers [0, used) and never changes, and a
// second continuation of the same cache (beam search, a retried step) finds used != P and gets a
// fresh buffer. Only under no-grad: the graph path must see the cat. The write does not bump the
// storage's version, since no existing view's elements change.
KVCache append_in_place(const KVCache& past, const Tensor& k_new, const Tensor& v_new) {
    const int64_t P = past.length(), T = k_new.size(2);
    std::shared_ptr<KVBuffer> buf = past.buffer;
    const bool ours = buf && buf->used == P && past.key.storage() == buf->key.storage() &&
                      past.value.storage() == buf->value.storage() &&
                      past.key.offset() == buf->key.offset() &&
                      past.value.offset() == buf->value.offset() &&
                      past.key.strides() == buf->key.strides() &&
                      past.value.strides() == buf->value.strides();
    if (!ours || P + T > buf->key.size(2)) {
        // A new buffer with room to double; the past is copied once into it.
        Shape shape = k_new.shape();  // (B, nh, T, hs)
        shape[2] = std::max<int64_t>(2 * (P + T), 64);
        auto fresh = std::make_shared<KVBuffer>();
        fresh->key = empty(shape, k_new.dtype(), k_new.device());
        fresh->value = empty(shape, v_new.dtype(), v_new.device());
        kernels::copy(views::slice(fresh->key, 2, 0, P), past.key);
        kernels::copy(views::slice(fresh->value, 2, 0, P), past.value);
        fresh->used = P;
        buf = std::move(fresh);
    }
    kernels::copy(views::slice(buf->key, 2, P, P + T), k_new);
    kernels::copy(views::slice(buf->value, 2, P, P + T), v_new);
    buf->used = P + T;
    return {views::slice(buf->key, 2, 0, P + T), views::slice(buf->value, 2, 0, P + T), buf};
}

}  // namespace

Tensor additive_attention_mask(const Tensor& attention_mask, DType dtype) {
    check(attention_mask.dim() == 2, "[attention] attention_mask must be (B, S), got {}",
          shape_str(attention_mask.shape()));
    Tensor m = to_dtype(attention_mask, dtype);  // on the caller's device
    Tensor additive = (1.0 - m) * lowest(dtype);
    return reshape(additive, {m.size(0), 1, 1, m.size(1)});  // (B, 1, 1, S)
}

CausalSelfAttention::CausalSelfAttention(AttentionConfig c, Generator* gen) : config_(c) {
    check(c.n_head > 0 && c.n_embd > 0 && c.n_embd % c.n_head == 0,
          "[attention] n_embd {} must be a positive multiple of n_head {}", c.n_embd, c.n_head);
    c_attn = register_module("c_attn", std::make_shared<Conv1D>(
                                           Conv1DConfig{c.n_embd, 3 * c.n_embd, c.init_std, c.dtype}, gen));
    c_proj = register_module("c_proj", std::make_shared<Conv1D>(
                                           Conv1DConfig{c.n_embd, c.n_embd, c.proj_init_std, c.dtype}, gen));
    attn_dropout_ = register_module("attn_dropout", std::make_shared<Dropout>(c.attn_pdrop, gen));
    resid_dropout_ = register_module("resid_dropout", std::make_shared<Dropout>(c.resid_pdrop, gen));
}

CausalSelfAttention::Output CausalSelfAttention::forward(const Tensor& x,
                                                         const Tensor& attention_mask,
                                                         const KVCache& past) {
    check(x.dim() == 3 && x.size(2) == config_.n_embd, "[attention] x must be (B, T, {}), got {}",
          config_.n_embd, shape_str(x.shape()));
    const int64_t B = x.size(0), T = x.size(1), C = config_.n_embd, nh = config_.n_head;
    const int64_t hs = C / nh, P = past.length();

    Tensor qkv = c_attn->forward(x);  // (B, T, 3C)
    auto heads = [&](int64_t i) {     // the i-th C-wide slice, split into heads
        Tensor part = slice(qkv, 2, i * C, (i + 1) * C);           // (B, T, C)
        return permute(reshape(part, {B, T, nh, hs}), {0, 2, 1, 3});  // (B, nh, T, hs)
    };
    Tensor q = heads(0), k = heads(1), v = heads(2);
    if (P > 0) {
        check(past.key.dim() == 4 && past.key.size(0) == B && past.key.size(1) == nh &&
                  past.key.size(3) == hs && past.value.shape() == past.key.shape(),
              "[attention] past key/value must be (B={}, nh={}, P, hs={}), got {} and {}", B, nh,
              hs, shape_str(past.key.shape()), shape_str(past.value.shape()));
    }
    KVCache present;
    if (P > 0 && !is_grad_enabled()) {
        present = append_in_place(past, k, v);
        k = present.key, v = present.value;  // (B, nh, P + T, hs), views of present.buffer
    } else if (P > 0) {
        k = cat({past.key, k}, 2);  // (B, nh, P + T, hs), differentiable
        v = cat({past.value, v}, 2);
        present = {k, v};
    } else {
        present = {k, v};  // views of qkv: no copy when the cache is not used
    }
    const int64_t S = P + T;

    Tensor mask;
    if (attention_mask.defined()) {
        check(attention_mask.dim() == 2 && attention_mask.size(0) == B &&
                  attention_mask.size(1) == S,
              "[attention] attention_mask must be (B={}, past + T={}), got {}", B, S,
              shape_str(attention_mask.shape()));
        mask = additive_attention_mask(kernels::to_device(attention_mask, q.device()),
                                       q.dtype());  // (B, 1, 1, S)
    }
    // Attention dropout as the Dropout module would apply it: in training mode, from its
    // generator (the default one when it has none).
    const bool drop = attn_dropout_->is_training() && attn_dropout_->p() > 0;
    Generator* gen = attn_dropout_->generator();
    if (!gen) gen = &default_generator();
    // The fused op computes, per (batch b, head h), with S = P + T keys and query i at position
    // P + i (the formula of kernels::attention_forward, tensor/kernels/nn.h):
    //   s_ij  = q_i . k_j / sqrt(hs)        if j <= P + i (causal), else lowest     (B, nh, T, S)
    //   s_ij += mask_bj                     (0 for real tokens, lowest for padding)  (B, 1, 1, S)
    //   P_ij  = exp(s_ij - max_l s_il) / sum_l exp(s_il - max_l s_il)               (B, nh, T, S)
    //   P'_ij = P_ij keep_ij / (1 - p)      (attention dropout, training only)
    //   y_i   = sum_j P'_ij v_j                                                     (B, nh, T, hs)
    // and its backward (dq, dk, dv) recomputes P from the saved log-sum-exp. Two kernels compute
    // it: tensor/cpu/attention.cpp (fast: tiled, packed, vectorised, no (B, nh, T, S) tensor) and
    // tensor/reference/attention.cpp (the formulas above as plain float64 loops; run it with
    // GRADSTACK_KERNELS=reference or --kernels reference).
    Tensor y = scaled_dot_product_attention(q, k, v, mask, drop ? attn_dropout_->p() : 0.0,
                                            drop ? gen : nullptr);  // (B, nh, T, hs)
    y = reshape(permute(y, {0, 2, 1, 3}), {B, T, C});  // (B, T, C)
    y = resid_dropout_->forward(c_proj->forward(y));
    return {y, present};
}

}  // namespace gradstack::nn
