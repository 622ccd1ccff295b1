// adam_update on CUDA tensors (the kernel is in kernels/optim.cu): checks the four tensors, turns
// the step's scalars into those of nn/optim/adam.cpp's loop (same double expressions), and runs
// one elementwise launch over them.
// Read next: kernels/optim.cu, ../nn/optim/adam.cpp (the caller).
#include "cuda/kernels/optim.h"

#include "cuda/launch.h"
#include "tensor/kernels/optim.h"

namespace gradstack::cuda {

namespace {

void adam_update_cuda(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                      const Tensor& exp_avg_sq, double lr, double beta1, double beta2, double eps,
                      double weight_decay, bool decoupled, double bias_correction1,
                      double bias_correction2_sqrt) {
    check(is_floating(param.dtype()), "[adam_update] expects a float32 or float64 tensor, got {}",
          param.dtype());
    for (const Tensor* t : {&grad, &exp_avg, &exp_avg_sq})
        check(t->defined() && t->dtype() == param.dtype() && t->shape() == param.shape(),
              "[adam_update] {} must be {} {} like the parameter, got {} {}",
              t == &grad      ? "grad"
              : t == &exp_avg ? "exp_avg"
                              : "exp_avg_sq",
              param.dtype(), shape_str(param.shape()), t->defined() ? t->dtype() : param.dtype(),
              t->defined() ? shape_str(t->shape()) : std::string("undefined"));
    Launch launch("adam_update", {param, grad, exp_avg, exp_avg_sq});
    if (param.numel() == 0) return;
    // The scalars exactly as nn/optim/adam.cpp's fused loop makes them (there rounded to T by
    // the loop, here by the launcher).
    AdamScalars s;
    s.l2 = !decoupled && weight_decay != 0;
    s.weight_decay = weight_decay;
    s.shrink = decoupled ? 1 - lr * weight_decay : 1;
    s.beta1 = beta1;
    s.one_minus_beta1 = 1 - beta1;
    s.beta2 = beta2;
    s.one_minus_beta2 = 1 - beta2;
    s.bias_correction2_sqrt = bias_correction2_sqrt;
    s.eps = eps;
    s.neg_step_size = -(lr / bias_correction1);
    const Iteration it = iteration(param.shape(), {param, grad, exp_avg, exp_avg_sq});
    launch_adam_update(it.shape, it.operands[0], it.operands[1], it.operands[2], it.operands[3], s,
                       launch.stream());
    launch.check("adam_update_kernel");
}

[[maybe_unused]] const bool adam_update_on_cuda =
    kernels::adam_update.set(DeviceType::cuda, &adam_update_cuda);

}  // namespace

}  // namespace gradstack::cuda
