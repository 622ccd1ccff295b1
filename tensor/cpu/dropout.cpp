// CPU dropout. The keep mask is a pure function of (seed, counter, element index) through the
// counter-based Philox generator (tensor/random.h): element i reads word i % 4 of block
// counter + i / 4. So blocks can be handed to threads in any split and the mask stays the same,
// and the backward regenerates it instead of storing it. Read next: autograd/ops/nn.cpp.
// Read next, the reference twin: reference/dropout.cpp (dropout), the same math as plain float64
// loops; GRADSTACK_KERNELS=reference runs it instead (tensor/dispatch.h).
#include <cmath>

#include "tensor/cpu/loops.h"
#include "tensor/cpu/philox.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/nn.h"
#include "tensor/random.h"

namespace gradstack::cpu {
namespace {

constexpr int64_t kLanes = kPhiloxLanes;

template <class T>
void dropout_impl(const Tensor& out, const Tensor& x_in, double p, uint64_t seed,
                  uint64_t counter) {
    const Tensor x = kernels::contiguous(x_in);
    const Tensor oc = out.is_contiguous() ? out : empty(out.shape(), out.dtype(), out.device());
    const int64_t n = x.numel();
    constexpr int64_t kGroup = 4 * kLanes;  // elements per philox_lanes call
    const int64_t groups = (n + kGroup - 1) / kGroup;
    const uint32_t threshold = keep_threshold(p);
    const T scale = static_cast<T>(1.0 / (1.0 - p));
    const T* px = x.data<T>();
    T* po = oc.data<T>();
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
    for (int64_t j = 0; j < groups; ++j) {
        // Blocks past the reserved range are computed for the last group but never used.
        uint32_t w[4][kLanes];
        philox_lanes(seed, counter + static_cast<uint64_t>(j * kLanes), w);
        T factor[kGroup];  // element 4 l + k of the group reads word k of block l
        for (int64_t l = 0; l < kLanes; ++l)
            for (int64_t k = 0; k < 4; ++k)
                factor[4 * l + k] = (w[k][l] >> 8) >= threshold ? scale : T(0);
        const int64_t i0 = j * kGroup, count = std::min(kGroup, n - i0);
        // A product, not a select: like PyTorch, a dropped NaN stays NaN.
        for (int64_t i = 0; i < count; ++i) po[i0 + i] = px[i0 + i] * factor[i];
    }
    if (!oc.is_same(out)) kernels::copy(out, oc);
}

void dropout_cpu(const Tensor& out, const Tensor& x, double p, uint64_t seed, uint64_t counter) {
    check(out.dtype() == x.dtype() && out.shape() == x.shape(),
          "[dropout] output {} {} does not match input {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(x.shape()));
    check(p >= 0 && p < 1, "[dropout] p must be in [0, 1), got {}", p);
    visit_floating(x.dtype(), "dropout",
                   [&]<class T>() { dropout_impl<T>(out, x, p, seed, counter); });
}

}  // namespace

const bool dropout_on_cpu = kernels::dropout.set(DeviceType::cpu, &dropout_cpu);

}  // namespace gradstack::cpu
