// PPO's reference model: a frozen copy of the language model as training starts. The KL penalty
// keeps the policy close to it. Optionally the bottom layers are shared with the policy to save
// memory, as trl's create_reference_model(num_shared_layers) intends.
// Read next: rollout.h.
#pragma once

#include <memory>

#include "gpt/model.h"

namespace gradstack::rl {

// A deep copy of `policy` in eval mode with requires_grad off everywhere. With shared_layers
// K > 0, the parameters that come before transformer.h.K (wte, which is also the tied head, wpe,
// and blocks 0..K-1) are not copied: the reference uses the policy's own storage, and the policy's
// copies are frozen (requires_grad false), so the two stay equal. K may be at most n_layer.
// Throws gradstack::Error for K outside [0, n_layer].
std::shared_ptr<gpt::GPT2LMHeadModel> create_reference(gpt::GPT2LMHeadModel& policy,
                                                       int64_t shared_layers = 0);

// Points the parameters that create_reference shares for K layers of `reference` (a model of the
// same shape, e.g. the starting checkpoint loaded again when a run resumes) at `policy`'s storage
// and freezes them in the policy. Throws for K outside [0, n_layer] or models of other shapes.
void share_layers(gpt::GPT2LMHeadModel& reference, gpt::GPT2LMHeadModel& policy,
                  int64_t shared_layers);

// Names of the parameters create_reference shares for K layers (in named_parameters order).
std::vector<std::string> shared_parameter_names(const gpt::GPT2LMHeadModel& model,
                                                int64_t shared_layers);

}  // namespace gradstack::rl
