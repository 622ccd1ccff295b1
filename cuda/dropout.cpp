// dropout on CUDA tensors (the kernel is in kernels/dropout.cu): the CPU kernel's checks, its keep
// threshold and scale computed here on the host, then one launch over x in C order.
// Read next: kernels/dropout.cu, optim.cpp.
#include "cuda/kernels/dropout.h"

#include <cmath>

#include "cuda/launch.h"
#include "tensor/kernels/nn.h"

namespace gradstack::cuda {

namespace {

// ceil(p 2^24): an element is kept when the top 24 bits of its word are >= this. The same
// expression as tensor/cpu/philox.h's keep_threshold (kept apart so that cuda/ does not reach
// into the CPU kernels' internals).
uint32_t keep_threshold(double p) {
    return static_cast<uint32_t>(std::ceil(p * 0x1p24));
}

void dropout_cuda(const Tensor& out, const Tensor& x, double p, uint64_t seed, uint64_t counter) {
    check(out.dtype() == x.dtype() && out.shape() == x.shape(),
          "[dropout] output {} {} does not match input {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(x.shape()));
    check(p >= 0 && p < 1, "[dropout] p must be in [0, 1), got {}", p);
    check(is_floating(x.dtype()), "[dropout] expects a float32 or float64 tensor, got {}",
          x.dtype());
    Launch launch("dropout", {x, out});
    if (x.numel() == 0) return;
    // The iteration merges dims but keeps the C-order linear index of every element, which is
    // what the mask is a function of.
    const Iteration it = iteration(x.shape(), {out, x});
    launch_dropout(it.shape, it.operands[0], it.operands[1], 1.0 / (1.0 - p), keep_threshold(p),
                   seed, counter, launch.stream());
    launch.check("dropout_kernel");
}

[[maybe_unused]] const bool dropout_on_cuda = kernels::dropout.set(DeviceType::cuda, &dropout_cuda);

}  // namespace

}  // namespace gradstack::cuda
