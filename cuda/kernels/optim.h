// Launcher of the fused Adam / AdamW update (optim.cu), called from ../optim.cpp.
// Read next: optim.cu (the loop of nn/optim/adam.cpp, one thread per element).
#pragma once

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// The per-step scalars of nn/optim/adam.cpp's loop, in double; the launcher rounds each to the
// parameter's type once, as the CPU loop does.
struct AdamScalars {
    bool l2 = false;  // Adam with weight decay: g = g + weight_decay p
    double weight_decay = 0;
    double shrink = 1;  // AdamW: 1 - lr weight_decay; 1 for Adam
    double beta1 = 0.9, one_minus_beta1 = 0.1;
    double beta2 = 0.999, one_minus_beta2 = 0.001;
    double bias_correction2_sqrt = 1;
    double eps = 1e-8;
    double neg_step_size = 0;  // -lr / bias_correction1
};

// One step over every element of the iteration, in place on param, exp_avg and exp_avg_sq (see
// tensor/kernels/optim.h for the formulas). All four operands share one type, f32 or f64.
void launch_adam_update(const IterShape& it, const Operand& param, const Operand& grad,
                        const Operand& exp_avg, const Operand& exp_avg_sq, const AdamScalars& s,
                        cudaStream_t stream);

}  // namespace gradstack::cuda
