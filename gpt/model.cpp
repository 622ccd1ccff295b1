// GPT-2 forward (see model.h).
#include "gpt/model.h"

#include "tensor/kernels/copy.h"

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "autograd/ops/index.h"
#include "autograd/ops/linalg.h"
#include "autograd/ops/nn.h"

namespace gradstack::gpt {

GPT2Model::GPT2Model(const GPT2Config& c, Generator* gen) {
    c.validate("GPT2Config");
    const double std = c.initializer_range;
    const double proj_std = std / std::sqrt(2.0 * static_cast<double>(c.n_layer));
    wte = register_module("wte", std::make_shared<nn::Embedding>(nn::EmbeddingConfig{c.vocab_size, c.n_embd, std, c.dtype}, gen));
    wpe = register_module("wpe", std::make_shared<nn::Embedding>(nn::EmbeddingConfig{c.n_positions, c.n_embd, std, c.dtype}, gen));
    drop = register_module("drop", std::make_shared<nn::Dropout>(c.embd_pdrop, gen));
    h = register_module("h", std::make_shared<nn::ModuleList<nn::Block>>());
    for (int64_t i = 0; i < c.n_layer; ++i)
        h->push_back(std::make_shared<nn::Block>(
            nn::BlockConfig{c.n_embd, c.n_head, c.inner(), c.layer_norm_epsilon, c.attn_pdrop,
                            c.resid_pdrop, std, proj_std, c.dtype},
            gen));
    ln_f = register_module("ln_f", std::make_shared<nn::LayerNorm>(nn::LayerNormConfig{c.n_embd, c.layer_norm_epsilon, c.dtype}));
}

GPT2LMHeadModel::GPT2LMHeadModel(const GPT2Config& c, Generator* gen) : config_(c) {
    transformer = register_module("transformer", std::make_shared<GPT2Model>(c, gen));
}

Tensor position_ids_from_mask(const Tensor& attention_mask, int64_t T) {
    Tensor m = to_dtype(attention_mask, DType::i64);
    Tensor pos = cumsum(m, -1) - scalar_like(m, 1);                          // (B, S)
    pos = where(eq(m, scalar_like(m, 0)), scalar_like(pos, 1), pos);
    return slice(pos, 1, m.size(1) - T, m.size(1));                         // (B, T)
}

ForwardOutput GPT2LMHeadModel::forward(const Tensor& ids, const ForwardOptions& o) {
    const bool embeds = o.inputs_embeds.defined();
    if (embeds)
        check(o.inputs_embeds.dim() == 3 && o.inputs_embeds.size(2) == config_.n_embd,
              "[gpt2] inputs_embeds must be (B, T, n_embd={}), got {}", config_.n_embd,
              shape_str(o.inputs_embeds.shape()));
    else
        check(ids.defined() && ids.dim() == 2 && ids.dtype() == DType::i64,
              "[gpt2] ids must be int64 (B, T), got {} {}", ids.defined() ? ids.dtype() : DType::i64,
              ids.defined() ? shape_str(ids.shape()) : "undefined");
    const Tensor& shaped = embeds ? o.inputs_embeds : ids;
    const int64_t B = shaped.size(0), T = shaped.size(1), L = config_.n_layer;
    check(o.past.empty() || static_cast<int64_t>(o.past.size()) == L,
          "[gpt2] past has {} layers, the model {}", o.past.size(), L);
    const int64_t P = o.past.empty() ? 0 : o.past[0].length();
    check(P + T <= config_.n_positions,
          "[gpt2] {} past + {} new tokens exceed the model's n_positions = {}", P, T, config_.n_positions);
    check(T > 0, "[gpt2] ids has no tokens (shape {})", shape_str(shaped.shape()));

    // Token ids, positions and the mask usually come from the host: they follow the weights.
    const Device device = transformer->wte->weight.device();
    Tensor pos = kernels::to_device(o.position_ids.defined() ? o.position_ids : arange(P, P + T, 1),
                                    device);
    if (pos.dim() == 1) pos = unsqueeze(pos, 0);  // (1, T) broadcasts over the batch
    check(pos.size(-1) == T, "[gpt2] position_ids {} do not match T = {}", shape_str(pos.shape()), T);
    GPT2Model& tr = *transformer;
    Tensor tokens = embeds ? o.inputs_embeds : tr.wte->forward(kernels::to_device(ids, device));
    Tensor x = tr.drop->forward(tokens + tr.wpe->forward(pos));                   // (B, T, C)

    const Tensor mask =
        o.attention_mask.defined() ? kernels::to_device(o.attention_mask, device) : Tensor();
    ForwardOutput out;
    if (o.output_hidden_states) out.hidden_states.push_back(x);
    for (int64_t i = 0; i < L; ++i) {
        auto r = (*tr.h)[i].forward(x, mask, o.past.empty() ? KVCache() : o.past[i]);
        x = r.y;
        if (o.use_cache) out.presents.push_back(r.present);
        if (o.output_hidden_states && i + 1 < L) out.hidden_states.push_back(x);
    }
    x = tr.ln_f->forward(x);
    if (o.output_hidden_states) out.hidden_states.push_back(x);  // HF: the last one is after ln_f
    if (o.logits) {
        check(o.logits_to_keep >= 0, "[gpt2] logits_to_keep {} must be >= 0", o.logits_to_keep);
        const int64_t keep = o.logits_to_keep > 0 ? std::min(o.logits_to_keep, T) : T;
        const Tensor h = keep == T ? x : slice(x, 1, T - keep, T);               // (B, keep, C)
        out.logits = matmul(h, transpose(tr.wte->weight, 0, 1));                 // (B, keep, vocab)
    }
    (void)B;
    return out;
}

Tensor GPT2LMHeadModel::loss(const Tensor& logits, const Tensor& labels) {
    const int64_t T = logits.size(1), V = logits.size(2);
    check(T >= 2, "[gpt2 loss] needs at least 2 positions, got {}", T);
    Tensor pred = reshape(slice(logits, 1, 0, T - 1), {-1, V});   // positions 0..T-2
    Tensor next = reshape(slice(kernels::to_device(labels, logits.device()), 1, 1, T), {-1});
    return cross_entropy(pred, next);
}

}  // namespace gradstack::gpt
