// PPLM generation (Dathathri et al., ICLR 2020), as uber-research/PPLM's run_pplm.py computes it:
// steer a frozen GPT-2 towards an attribute by nudging its activations, one token at a time.
//
// For each new token, with `last` the newest token and P the (already perturbed) key/value past
// of the tokens before it:
//   1. the unperturbed model gives p_unpert, the next-token distribution without steering;
//   2. num_iterations times: run `last` on P + delta, compute
//          loss = attribute loss (bags of words and/or a discriminator)
//               + kl_scale * KL(p || p_unpert)
//      and take a normalised gradient step on delta:
//          delta -= stepsize * mask * grad / ||mask * grad||^gamma      (per layer)
//   3. run `last` on P + delta: that gives p_pert and the past carried to the next token;
//   4. fuse: p = p_pert^gm_scale * p_unpert^(1 - gm_scale), keep the top_k, sample or argmax.
// `perturb = hidden` nudges the final hidden state of the last token instead (PPLM.jl's variant),
// which changes only that token's logits and is carried nowhere.
// Read next: generate.cpp (the loop, with every quirk of the reference named where it happens).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gpt/model.h"
#include "pplm/bow.h"
#include "pplm/classifier.h"

namespace gradstack::pplm {

enum class PerturbTarget { past, hidden };

// The options of run_pplm.py, with its argparse defaults (greedy, as its --sample is a flag).
struct PplmConfig {
    PerturbTarget perturb = PerturbTarget::past;
    int64_t length = 100;          // new tokens
    double stepsize = 0.02;        // 0 gives plain (fused) greedy/sampled generation
    int64_t num_iterations = 3;    // gradient steps per token
    int64_t window_length = 0;     // 0: perturb the whole past
    bool decay = false;            // linear ramp over the window (needs window_length > 0)
    double gamma = 1.5;            // gradient normalisation exponent
    double kl_scale = 0.01;
    double gm_scale = 0.9;         // weight of the perturbed distribution in the fusion
    int64_t grad_length = 10000;   // tokens after which the stepsize is 0
    int64_t horizon_length = 1;    // discriminator look-ahead steps
    double temperature = 1.0;      // on the perturbed logits only
    int64_t top_k = 10;            // 0: no filter
    bool sample = false;
    int64_t num_samples = 1;       // perturbed samples, run as one batch
    uint64_t seed = 0;

    // Throws gradstack::Error naming the option and its allowed range. `prompt_length` and
    // `discrim` check that the prompt, the new tokens and the look-ahead fit n_positions.
    void validate(const gpt::GPT2Config& model, int64_t prompt_length, bool discrim) const;
};

// What the text is steered towards: one or more bags, a discriminator and its class, or both.
struct AttributeModel {
    std::vector<BagOfWords> bags;
    std::shared_ptr<Discriminator> discrim;
    int64_t class_label = 0;
    bool has_bow() const { return !bags.empty(); }
    bool has_discrim() const { return discrim != nullptr; }
};

struct PplmSample {
    std::vector<int64_t> new_ids;
    // loss_trace[t]: the loss (attribute + KL) at each iteration for new token t; empty for a
    // token generated without perturbation (the first one after a one-token prompt).
    std::vector<std::vector<double>> loss_trace;
    double attribute_loss = 0;  // attribute_losses() of the finished text, scored as it grows
};

// Called after each token with its index and the token chosen for each row.
using TokenCallback = std::function<void(int64_t index, const std::vector<int64_t>& tokens)>;

// `rows` continuations of `prompt` (non-empty ids), each `length` tokens, as uber's unperturbed
// run: logits / temperature, the top_k logits kept, softmax, argmax or a sample (uber calls it
// with its defaults, top_k 10 and temperature 1, whatever the PPLM options are).
std::vector<PplmSample> generate_unperturbed(gpt::GPT2LMHeadModel& model,
                                             const std::vector<int64_t>& prompt, int64_t length,
                                             int64_t rows, bool sample, int64_t top_k,
                                             double temperature, Generator* gen,
                                             const TokenCallback& on_token = {});

// config.num_samples PPLM continuations of `prompt`, as one batch: each row computes exactly
// what one run of uber's generate_text_pplm computes (gradient norms are per row). The model's
// parameters are frozen for the call (and restored); the model must be in eval mode.
std::vector<PplmSample> generate_pplm(gpt::GPT2LMHeadModel& model,
                                      const std::vector<int64_t>& prompt,
                                      const AttributeModel& attribute, const PplmConfig& config,
                                      Generator* gen, const TokenCallback& on_token = {});

// How much each text (prompt + new tokens of each row) has the attribute, under the unperturbed
// model; lower is better:
//   discriminator: cross-entropy of class_label for the head on the mean last hidden state of
//                  all the text's tokens (uber prints this for the text without its last token);
//   bags of words: the mean over the new tokens' positions of the bag loss of the distribution
//                  each was drawn from (uber prints none);
//   both: the sum.
std::vector<double> attribute_losses(gpt::GPT2LMHeadModel& model,
                                     const std::vector<int64_t>& prompt,
                                     const std::vector<std::vector<int64_t>>& new_ids,
                                     const AttributeModel& attribute);

// Softmax probability of class_label for each text under the discriminator (for evaluation).
std::vector<double> class_probabilities(gpt::GPT2LMHeadModel& model,
                                        const std::vector<int64_t>& prompt,
                                        const std::vector<std::vector<int64_t>>& new_ids,
                                        const Discriminator& discrim, int64_t class_label);

// The discriminator's most likely class for each text (prompt + new tokens of each row).
std::vector<int64_t> predicted_classes(gpt::GPT2LMHeadModel& model,
                                       const std::vector<int64_t>& prompt,
                                       const std::vector<std::vector<int64_t>>& new_ids,
                                       const Discriminator& discrim);

}  // namespace gradstack::pplm
