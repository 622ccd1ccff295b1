// Raw fused optimizer updates for parameters that do not live on the CPU. On the CPU the update
// is a plain loop over host memory in nn/optim/adam.cpp (no Dispatcher: nothing else runs it);
// another device registers its kernel here, and nn/optim/adam.cpp calls it for a parameter on
// that device. Float32 and float64; the caller (nn/optim) checks shapes and dtypes first.
// Read next: nn/optim/adam.cpp (the CPU loop these kernels reproduce), cuda/optim.cpp.
#pragma once

#include "tensor/dispatch.h"

namespace gradstack::kernels {

// --- one Adam / AdamW step, in place on param, exp_avg (m) and exp_avg_sq (v), from grad (g),
// all of one shape and dtype (any strides). Elementwise, in the parameter's dtype, each scalar
// rounded to it once, and in PyTorch's order of operations (nn/optim/adam.cpp's fused loop):
//   g = g + weight_decay p                    (Adam only, when !decoupled and weight_decay != 0)
//   p = p (1 - lr weight_decay)               (AdamW only, when decoupled: the factor is 1 else)
//   m = m beta1 + (1 - beta1) g
//   v = v beta2 + (1 - beta2) g g
//   p = p + (-lr / bias_correction1) m / (sqrt(v) / bias_correction2_sqrt + eps)
// with bias_correction1 = 1 - beta1^t and bias_correction2_sqrt = sqrt(1 - beta2^t) for step t,
// computed by the caller in double. Storage versions are not bumped (the caller does that). No
// CPU kernel is registered: a CPU tensor throws "[adam_update] no kernel for cpu".
inline constinit Dispatcher<void(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                                 const Tensor& exp_avg_sq, double lr, double beta1, double beta2,
                                 double eps, double weight_decay, bool decoupled,
                                 double bias_correction1, double bias_correction2_sqrt)>
    adam_update{"adam_update"};

}  // namespace gradstack::kernels
