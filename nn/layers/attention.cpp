// Causal self-attention (see attention.h). For each head:
//   scores = q k^T / sqrt(head_dim)                       (B, nh, T, T_past + T)
//   scores = lowest where key j is after query i (causal), + additive padding mask
//   y      = softmax(scores) v                            (B, nh, T, hs)
// The masked value is the dtype's lowest finite number, not -inf, as in Hugging Face: a padding
// query whose every key is masked still gets a finite softmax, so no NaN leaks into later layers.
#include "nn/layers/attention.h"

#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "autograd/ops/index.h"
#include "autograd/ops/linalg.h"
#include "autograd/ops/nn.h"

namespace gradstack::nn {

namespace {
double lowest(DType dtype) {
    return dtype == DType::f32 ? static_cast<double>(std::numeric_limits<float>::lowest())
                               : std::numeric_limits<double>::lowest();
}
}  // namespace

Tensor additive_attention_mask(const Tensor& attention_mask, DType dtype) {
    check(attention_mask.dim() == 2, "[attention] attention_mask must be (B, S), got {}",
          shape_str(attention_mask.shape()));
    Tensor m = to_dtype(attention_mask, dtype);
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
        k = cat({past.key, k}, 2);  // (B, nh, P + T, hs)
        v = cat({past.value, v}, 2);
    }
    const int64_t S = P + T;

    Tensor scores = matmul(q, transpose(k, -2, -1)) / std::sqrt(static_cast<double>(hs));  // (B, nh, T, S)
    // Query i sits at absolute position P + i and may see keys 0..P + i.
    Tensor key_pos = reshape(arange(S), {1, S});
    Tensor query_pos = reshape(arange(P, P + T, 1), {T, 1});
    Tensor causal = le(key_pos, query_pos);  // (T, S) bool
    scores = where(causal, scores, scalar_like(scores, lowest(scores.dtype())));
    if (attention_mask.defined()) {
        check(attention_mask.dim() == 2 && attention_mask.size(0) == B && attention_mask.size(1) == S,
              "[attention] attention_mask must be (B={}, past + T={}), got {}", B, S,
              shape_str(attention_mask.shape()));
        scores = scores + additive_attention_mask(attention_mask, scores.dtype());
    }
    Tensor att = attn_dropout_->forward(softmax(scores, -1));
    Tensor y = matmul(att, v);                                     // (B, nh, T, hs)
    y = reshape(permute(y, {0, 2, 1, 3}), {B, T, C});              // (B, T, C)
    y = resid_dropout_->forward(c_proj->forward(y));
    return {y, {k, v}};
}

}  // namespace gradstack::nn
