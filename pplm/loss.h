// The loss that PPLM differentiates at each iteration, for one new token, and the two functions
// of the perturbation that generate.cpp takes gradients of (also gradchecked in the tests):
//   loss = attribute loss(p) + kl_scale * KL(p || p_unpert)
// with p the next-token distribution under the perturbation: of the token `last` run on the past
// P + delta (perturb = past), or of the final hidden state h + delta (perturb = hidden).
// Read next: generate.cpp, which runs the iterations.
#pragma once

#include <vector>

#include "gpt/model.h"
#include "pplm/generate.h"

namespace gradstack::pplm {

// uber's SMALL_CONST: the floor of the KL term's probabilities and the epsilon of the norms.
inline constexpr double kSmall = 1e-15;

// What the loss of one token needs besides the distribution being steered.
struct LossContext {
    gpt::GPT2LMHeadModel* model = nullptr;
    const AttributeModel* attribute = nullptr;
    const PplmConfig* config = nullptr;
    Tensor unpert_probs_floored;        // (R, V) p_unpert with uber's 1e-15 floor (floored())
    Tensor hidden_sum;                  // (R, C) sum of the unperturbed last hidden states of
                                        // every token before `last`
    std::vector<gpt::KVCache> unpert_past;  // the unperturbed past of all tokens, `last` included
    int64_t past_length = 0;            // tokens before `last`
    Tensor labels;                      // (R,) int64: the discriminator's class
};

// p + 1e-15 where p <= 1e-15 (uber's floor).
Tensor floored(const Tensor& p);

// The loss of each row, (R,). probs (R, V): the distribution being steered. last_hidden (R, C):
// the last token's final hidden state entering the discriminator's mean (uber: detached in past
// mode, so the discriminator's gradient flows only through the look-ahead).
Tensor pplm_loss(const LossContext& context, const Tensor& probs, const Tensor& last_hidden);

// perturb = past: the loss of `last` (R, 1) run on past[l] + (dk[l], dv[l]) for every layer l,
// and the hidden state of `last` (detached) for the discriminator. Differentiable in dk, dv.
Tensor past_perturbation_loss(const LossContext& context, const Tensor& last,
                              const std::vector<gpt::KVCache>& past,
                              const std::vector<Tensor>& dk, const std::vector<Tensor>& dv);

// perturb = hidden: the loss of logits (h + delta) wte^T, h (R, C) the final hidden state of
// `last` (after ln_f); h + delta also enters the discriminator's mean. Differentiable in delta.
Tensor hidden_perturbation_loss(const LossContext& context, const Tensor& h, const Tensor& delta);

}  // namespace gradstack::pplm
