// The PPLM loss of one token (see loss.h), as uber's perturb_past computes it.
#include "pplm/loss.h"

#include "autograd/ops.h"
#include "tensor/error.h"

namespace gradstack::pplm {

using gpt::ForwardOptions;
using gpt::ForwardOutput;
using gpt::KVCache;

Tensor floored(const Tensor& p) {
    return p + to_dtype(le(p, scalar_like(p, kSmall)), p.dtype()) * kSmall;
}

Tensor pplm_loss(const LossContext& s, const Tensor& probs, const Tensor& last_hidden) {
    const AttributeModel& a = *s.attribute;
    const PplmConfig& c = *s.config;
    Tensor loss;
    auto add_term = [&](const Tensor& t) { loss = loss.defined() ? loss + t : t; };
    // Bags: sum over bags of -log(probability of the next token being one of the bag's words).
    if (a.has_bow()) add_term(bow_loss(probs, a.bags));
    if (a.has_discrim()) {
        // Look ahead horizon_length tokens by feeding the expected next embedding probs @ wte
        // through the unperturbed past. uber: the same probs are fed at every horizon step.
        Tensor acc = s.hidden_sum + last_hidden;                                          // (R, C)
        Tensor embeds = matmul(unsqueeze(probs, 1), s.model->transformer->wte->weight);  // (R, 1, C)
        std::vector<KVCache> past = s.unpert_past;
        for (int64_t h = 0; h < c.horizon_length; ++h) {
            ForwardOptions o;
            o.inputs_embeds = embeds;
            o.past = past;
            o.output_hidden_states = true;
            o.logits = false;  // only the hidden states enter the discriminator
            ForwardOutput out = s.model->forward(Tensor(), o);
            past = out.presents;
            acc = acc + sum(out.hidden_states.back(), {1});  // (R, C)
        }
        // The mean over every position: the tokens before `last`, `last`, and the horizon.
        const double count = static_cast<double>(s.past_length + 1 + c.horizon_length);
        Tensor logits = a.discrim->head->forward(acc / count);  // (R, classes)
        add_term(cross_entropy(logits, s.labels, -100, Reduction::none));
    }
    if (c.kl_scale > 0) {
        // KL(p || p_unpert). uber: p is nudged up by 1e-15 where it is <= 1e-15 (a constant
        // shift, no gradient), and p_unpert was floored the same way.
        Tensor low = to_dtype(le(probs.detach(), scalar_like(probs, kSmall)), probs.dtype());
        Tensor p = probs + low * kSmall;
        add_term(c.kl_scale * sum(p * log(p / s.unpert_probs_floored), {1}));
    }
    check(loss.defined(), "[pplm] no attribute model: give a bag of words or a discriminator");
    return loss;
}

Tensor past_perturbation_loss(const LossContext& s, const Tensor& last,
                              const std::vector<KVCache>& past, const std::vector<Tensor>& dk,
                              const std::vector<Tensor>& dv) {
    check(dk.size() == past.size() && dv.size() == past.size(),
          "[pplm] {} key and {} value perturbations for {} layers", dk.size(), dv.size(),
          past.size());
    ForwardOptions o;
    o.output_hidden_states = true;
    o.use_cache = false;
    for (size_t l = 0; l < past.size(); ++l)
        o.past.emplace_back(past[l].key + dk[l], past[l].value + dv[l]);
    ForwardOutput f = s.model->forward(last, o);
    const int64_t T = f.logits.size(1);
    Tensor probs = softmax(select(f.logits, 1, T - 1), -1);          // (R, V)
    Tensor hidden = select(f.hidden_states.back(), 1, T - 1).detach();  // (R, C)
    return pplm_loss(s, probs, hidden);
}

Tensor hidden_perturbation_loss(const LossContext& s, const Tensor& h, const Tensor& delta) {
    Tensor hp = h + delta;                                                          // (R, C)
    Tensor logits = matmul(hp, transpose(s.model->transformer->wte->weight, 0, 1));  // (R, V)
    return pplm_loss(s, softmax(logits, -1), hp);
}

}  // namespace gradstack::pplm
