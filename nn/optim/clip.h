// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_), applied between backward()
// and Optimizer::step(). Read next: nn/README.md.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace gradstack::nn {

// norm = sqrt(sum over every element of every defined gradient of g^2), accumulated in double.
// When max_norm / (norm + 1e-6) < 1 (i.e. norm exceeds max_norm, up to the 1e-6), every gradient
// is scaled in place by that factor, rounded to its dtype, as PyTorch does. Returns the norm
// before clipping. Parameters without a gradient are skipped; none at all gives 0. A non-finite
// norm (an inf or nan gradient) is returned and the gradients are left alone, so the caller can
// skip the step. Throws gradstack::Error for max_norm <= 0. GPU gradients are summed on their
// device, one number per parameter coming back to the host.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace gradstack::nn
