// CPU dropout. The keep mask is a pure function of (seed, counter, element index) through the
// counter-based Philox generator (tensor/random.h): element i reads word i % 4 of block
// counter + i / 4. So blocks can be handed to threads in any split and the mask stays the same,
// and the backward regenerates it instead of storing it. Read next: autograd/ops/nn.cpp.
#include <cmath>

#include "tensor/cpu/loops.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/nn.h"
#include "tensor/random.h"

namespace gradstack::cpu {
namespace {

// Philox-4x32-10 of kLanes consecutive counters at once: lane by lane exactly Generator::block
// (tensor/random.cpp), written over arrays so that the compiler runs the lanes in vector
// registers (one Generator::block call per 4 elements costs ~10x more than the rest of dropout).
constexpr int64_t kLanes = 16;
void philox_lanes(uint64_t seed, uint64_t counter, uint32_t (&out)[4][kLanes]) {
    constexpr uint64_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57;
    constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
    constexpr uint64_t kLow = 0xFFFFFFFF;
    // 32-bit words kept in 64-bit lanes, masked to their low half, so that each 32 x 32 -> 64
    // bit product maps to one vector instruction (vpmuludq).
    uint64_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) {
        const uint64_t c = counter + static_cast<uint64_t>(l);
        c0[l] = c & kLow;
        c1[l] = c >> 32;
        c2[l] = 0;
        c3[l] = 0;
    }
    uint64_t k0 = seed & kLow, k1 = seed >> 32;
    for (int round = 0; round < 10; ++round) {
        for (int64_t l = 0; l < kLanes; ++l) {
            const uint64_t p0 = kMul0 * (c0[l] & kLow);
            const uint64_t p1 = kMul1 * (c2[l] & kLow);
            const uint64_t n0 = (p1 >> 32) ^ c1[l] ^ k0;
            const uint64_t n2 = (p0 >> 32) ^ c3[l] ^ k1;
            c1[l] = p1 & kLow;
            c3[l] = p0 & kLow;
            c0[l] = n0;
            c2[l] = n2;
        }
        k0 = (k0 + kWeyl0) & kLow;
        k1 = (k1 + kWeyl1) & kLow;
    }
    for (int64_t l = 0; l < kLanes; ++l) {
        out[0][l] = static_cast<uint32_t>(c0[l]);
        out[1][l] = static_cast<uint32_t>(c1[l]);
        out[2][l] = static_cast<uint32_t>(c2[l]);
        out[3][l] = static_cast<uint32_t>(c3[l]);
    }
}

template <class T>
void dropout_impl(const Tensor& out, const Tensor& x_in, double p, uint64_t seed,
                  uint64_t counter) {
    const Tensor x = kernels::contiguous(x_in);
    const Tensor oc = out.is_contiguous() ? out : empty(out.shape(), out.dtype(), out.device());
    const int64_t n = x.numel();
    constexpr int64_t kGroup = 4 * kLanes;  // elements per philox_lanes call
    const int64_t groups = (n + kGroup - 1) / kGroup;
    // The word's top 24 bits u = (w >> 8) / 2^24 are the uniform of random.h's uniform_float;
    // keep when u >= p, i.e. when (w >> 8) >= ceil(p 2^24).
    const uint32_t threshold = static_cast<uint32_t>(std::ceil(p * 0x1p24));
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
