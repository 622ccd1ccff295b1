// The frozen reference (see reference.h).
#include "rl/reference.h"

#include <set>

#include "tensor/error.h"

namespace gradstack::rl {

std::vector<std::string> shared_parameter_names(const gpt::GPT2LMHeadModel& model,
                                                int64_t shared_layers) {
    const int64_t L = model.config().n_layer;
    check(shared_layers >= 0 && shared_layers <= L,
          "--shared-layers {} must be in [0, n_layer = {}]", shared_layers, L);
    std::vector<std::string> names;
    if (shared_layers == 0) return names;
    // trl's rule: everything listed before the first unshared block. A model whose every block is
    // shared keeps ln_f unshared: the reference is then the policy with its own final LayerNorm.
    const std::string first_unshared = "transformer.h." + std::to_string(shared_layers) + ".";
    for (const auto& [name, t] : model.named_parameters()) {
        if (name.rfind(first_unshared, 0) == 0 || name.rfind("transformer.ln_f.", 0) == 0) break;
        names.push_back(name);
    }
    return names;
}

std::shared_ptr<gpt::GPT2LMHeadModel> create_reference(gpt::GPT2LMHeadModel& policy,
                                                       int64_t shared_layers) {
    shared_parameter_names(policy, shared_layers);  // checks K before the copy is made
    auto ref = nn::deep_copy(policy);
    ref->eval();
    ref->requires_grad_(false);
    share_layers(*ref, policy, shared_layers);
    return ref;
}

void share_layers(gpt::GPT2LMHeadModel& reference, gpt::GPT2LMHeadModel& policy,
                  int64_t shared_layers) {
    const std::vector<std::string> shared = shared_parameter_names(policy, shared_layers);
    if (shared.empty()) return;
    const std::set<std::string> names(shared.begin(), shared.end());
    nn::NamedTensors mine = policy.named_parameters();
    nn::NamedTensors theirs = reference.named_parameters();
    check(mine.size() == theirs.size(), "[share_layers] the reference has {} parameters, the "
                                        "policy {}", theirs.size(), mine.size());
    for (size_t i = 0; i < mine.size(); ++i) {
        if (!names.count(mine[i].first)) continue;
        // Point the reference's tensor at the policy's storage: the copy deep_copy made is freed,
        // and every handle of the reference (the layer's own member included) sees the policy's
        // values. Same shape and a fresh contiguous layout on both sides, so only storage and
        // offset change.
        Tensor& p = mine[i].second;
        TensorImpl& r = *theirs[i].second.impl_ptr();
        check(theirs[i].first == mine[i].first && r.shape == p.shape() && p.is_contiguous(),
              "[create_reference] cannot share '{}'", mine[i].first);
        r.storage = p.storage();
        r.offset = p.impl_ptr()->offset;
        r.strides = p.impl_ptr()->strides;
        p.requires_grad_(false);
    }
}

}  // namespace gradstack::rl
