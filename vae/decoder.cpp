// The conditioned GPT-2 decoder (see decoder.h). The two projections start small, N(0,
// initializer_range) like GPT-2's own weights, so that a pretrained decoder starts out close to
// the language model it was and learns to read z.
#include "vae/decoder.h"

#include "autograd/ops.h"
#include "nn/init.h"
#include "tensor/error.h"

namespace gradstack::vae {

LatentDecoder::LatentDecoder(const gpt::GPT2Config& c, int64_t latent, bool embedding, bool memory,
                             Generator* gen)
    : latent_(latent) {
    check(latent > 0, "[vae decoder] the latent size must be >= 1, got {}", latent);
    check(embedding || memory, "[vae decoder] z must condition the decoder somehow: enable the "
          "embedding or the memory conditioning (or both)");
    gpt = register_module("gpt", std::make_shared<gpt::GPT2LMHeadModel>(c, gen));
    auto make = [&](const char* name, int64_t out) {
        auto lin = register_module(
            name, std::make_shared<nn::Linear>(nn::LinearConfig{latent, out, true, c.dtype}, gen));
        nn::init::normal_(lin->weight, 0.0, c.initializer_range, gen);
        nn::init::zeros_(lin->bias);
        return lin;
    };
    if (embedding) z_embed = make("z_embed", c.n_embd);
    if (memory) z_memory = make("z_memory", 2 * c.n_layer * c.n_embd);
}

LatentDecoder::Conditioning LatentDecoder::condition(const Tensor& z) {
    check(z.dim() == 2 && z.size(1) == latent_, "[vae decoder] z must be (B, {}), got {}", latent_,
          shape_str(z.shape()));
    const gpt::GPT2Config& c = gpt->config();
    const int64_t B = z.size(0), L = c.n_layer, nh = c.n_head, hs = c.head_dim();
    Conditioning out;
    if (z_embed) out.offset = unsqueeze(z_embed->forward(z), 1);  // (B, 1, C)
    if (z_memory) {
        Tensor m = reshape(z_memory->forward(z), {B, L, 2, nh, hs});  // (B, L, 2, nh, hs)
        for (int64_t l = 0; l < L; ++l) {
            Tensor layer = select(m, 1, l);                          // (B, 2, nh, hs)
            out.past.emplace_back(unsqueeze(select(layer, 1, 0), 2),  // key (B, nh, 1, hs)
                                  unsqueeze(select(layer, 1, 1), 2)); // value
        }
    }
    return out;
}

Tensor LatentDecoder::logits(const Tensor& ids, const Tensor& z) {
    check(ids.dim() == 2 && ids.size(0) == z.size(0),
          "[vae decoder] ids (B, T) and z (B, latent) must share B, got {} and {}",
          shape_str(ids.shape()), shape_str(z.shape()));
    Conditioning cond = condition(z);
    gpt::ForwardOptions o;
    o.use_cache = false;
    o.past = cond.past;
    o.position_ids = arange(0, ids.size(1), 1);
    Tensor tokens = gpt->transformer->wte->forward(ids);  // (B, T, C)
    o.inputs_embeds = cond.offset.defined() ? tokens + cond.offset : tokens;
    return gpt->forward(Tensor(), o).logits;
}

std::vector<std::vector<int64_t>> LatentDecoder::generate(const Tensor& z, int64_t bos, int64_t eos,
                                                          const DecodeConfig& dc, Generator* gen) {
    NoGradGuard no_grad;
    const int64_t B = z.size(0);
    const int64_t room = gpt->config().n_positions - (z_memory ? 1 : 0);
    const int64_t steps = std::min(dc.max_tokens + 1, room);  // the last may be eos
    Conditioning cond = condition(z);
    std::vector<nn::KVCache> past = cond.past;
    std::vector<std::vector<int64_t>> out(B);
    std::vector<bool> done(B, false);
    Tensor next = full({B, 1}, static_cast<double>(bos), DType::i64);
    for (int64_t t = 0; t < steps; ++t) {
        gpt::ForwardOptions o;
        o.past = past;
        o.position_ids = arange(t, t + 1, 1);
        Tensor tokens = gpt->transformer->wte->forward(next);  // (B, 1, C)
        o.inputs_embeds = cond.offset.defined() ? tokens + cond.offset : tokens;
        gpt::ForwardOutput r = gpt->forward(Tensor(), o);
        past = r.presents;
        Tensor last = select(r.logits, 1, 0);  // (B, V)
        Tensor ids;
        if (dc.greedy) {
            ids = argmax(last, -1);  // (B,)
        } else {
            Tensor l = last / dc.temperature;
            if (dc.top_k > 0 && dc.top_k < l.size(-1)) {
                Tensor kth = select(topk(l, dc.top_k, -1).first, -1, dc.top_k - 1);  // (B,)
                l = masked_fill(l, lt(l, unsqueeze(kth, -1)), -1e30);
            }
            ids = reshape(multinomial(softmax(l, -1), 1, true, gen), {B});
        }
        std::vector<int64_t> v = to_vector<int64_t>(ids);
        bool all_done = true;
        for (int64_t b = 0; b < B; ++b) {
            if (!done[b]) {
                if (v[b] == eos || static_cast<int64_t>(out[b].size()) == dc.max_tokens) done[b] = true;
                else out[b].push_back(v[b]);
            }
            all_done = all_done && done[b];
        }
        if (all_done) break;
        next = reshape(ids, {B, 1});
    }
    return out;
}

}  // namespace gradstack::vae
