// The bidirectional encoder (see encoder.h). The blocks reuse GPT-2's modules for their
// parameters (nn::Block's ln_1, attn.c_attn, attn.c_proj, ln_2, mlp) and only change the
// attention: the fused causal kernel cannot drop its mask, so the scores are built from matmul
// and softmax here, with the padding mask added.
#include "vae/encoder.h"

#include <cmath>

#include "autograd/ops.h"
#include "nn/layers/attention.h"

namespace gradstack::vae {

Tensor bidirectional_attention(nn::CausalSelfAttention& attn, const Tensor& x,
                               const Tensor& additive_mask) {
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
    const int64_t nh = attn.config().n_head, hs = C / nh;
    Tensor qkv = attn.c_attn->forward(x);  // (B, T, 3C)
    auto heads = [&](int64_t i) {
        Tensor part = slice(qkv, 2, i * C, (i + 1) * C);               // (B, T, C)
        return permute(reshape(part, {B, T, nh, hs}), {0, 2, 1, 3});  // (B, nh, T, hs)
    };
    Tensor q = heads(0), k = heads(1), v = heads(2);
    Tensor s = matmul(q, transpose(k, -2, -1)) * (1.0 / std::sqrt(static_cast<double>(hs)));
    if (additive_mask.defined()) s = s + additive_mask;          // (B, nh, T, T)
    Tensor y = matmul(softmax(s, -1), v);                         // (B, nh, T, hs)
    y = reshape(permute(y, {0, 2, 1, 3}), {B, T, C});             // (B, T, C)
    return attn.c_proj->forward(y);
}

Tensor masked_mean_pool(const Tensor& h, const Tensor& mask) {
    check(h.dim() == 3 && mask.dim() == 2 && mask.size(0) == h.size(0) && mask.size(1) == h.size(1),
          "[vae pool] needs h (B, T, C) and mask (B, T), got {} and {}", shape_str(h.shape()),
          shape_str(mask.shape()));
    Tensor m = to_dtype(mask, h.dtype());                          // (B, T)
    Tensor counts = sum(m, {1}, true);                             // (B, 1)
    check(min(counts).item() > 0, "[vae pool] a row of the mask has no real position");
    return sum(h * unsqueeze(m, -1), {1}) / counts;                // (B, C)
}

TextEncoder::TextEncoder(const gpt::GPT2Config& config, Generator* gen) : config_(config) {
    transformer = register_module("transformer", std::make_shared<gpt::GPT2Model>(config, gen));
}

Tensor TextEncoder::forward(const Tensor& ids, const Tensor& mask) {
    check(ids.defined() && ids.dim() == 2 && ids.dtype() == DType::i64,
          "[vae encoder] ids must be int64 (B, T), got {}", shape_str(ids.shape()));
    check(mask.defined() && mask.shape() == ids.shape(),
          "[vae encoder] mask {} must have the shape of ids {}", shape_str(mask.shape()),
          shape_str(ids.shape()));
    const int64_t T = ids.size(1);
    check(T <= config_.n_positions, "[vae encoder] {} tokens exceed n_positions = {}", T,
          config_.n_positions);
    gpt::GPT2Model& tr = *transformer;
    Tensor x = tr.drop->forward(tr.wte->forward(ids) + tr.wpe->forward(arange(0, T, 1)));
    Tensor additive = nn::additive_attention_mask(mask, x.dtype());  // (B, 1, 1, T)
    for (int64_t i = 0; i < config_.n_layer; ++i) {
        nn::Block& b = (*tr.h)[i];
        x = x + bidirectional_attention(*b.attn, b.ln_1->forward(x), additive);
        x = x + b.mlp->forward(b.ln_2->forward(x));
    }
    return tr.ln_f->forward(x);  // (B, T, C)
}

Tensor TextEncoder::encode(const Tensor& ids, const Tensor& mask) {
    return masked_mean_pool(forward(ids, mask), mask);
}

void TextEncoder::load_from_gpt2(const gpt::GPT2LMHeadModel& gpt2) {
    const gpt::GPT2Config& g = gpt2.config();
    check(g.n_embd == config_.n_embd && g.n_head == config_.n_head &&
              g.vocab_size == config_.vocab_size && g.n_positions == config_.n_positions &&
              g.n_layer >= config_.n_layer,
          "[vae encoder] cannot initialise a {}-layer encoder (n_embd {}, vocab {}) from a "
          "{}-layer GPT-2 (n_embd {}, vocab {})",
          config_.n_layer, config_.n_embd, config_.vocab_size, g.n_layer, g.n_embd, g.vocab_size);
    // Both name their tensors "transformer.*"; the GPT-2's extra blocks are left over.
    auto r = load_state_dict(gpt2.state_dict(), false, "GPT-2 checkpoint");
    check(r.missing.empty() && r.mismatched.empty(), "[vae encoder] from GPT-2: {}", r.describe());
}

}  // namespace gradstack::vae
