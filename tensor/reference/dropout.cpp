// Reference dropout: one Philox block per element from the scalar generator (Generator::block,
// tensor/random.cpp), tested as a uniform in [0, 1). The fast twin is cpu/dropout.cpp (16 blocks
// at a time in vector registers, cpu/philox.h). Read next: reference/attention.cpp.
#include "tensor/kernels/nn.h"
#include "tensor/random.h"
#include "tensor/reference/strided.h"

namespace gradstack::reference {

// keep_e for element e (C order) of a dropout mask under (seed, counter): word e % 4 of Philox
// block counter + e / 4, as a uniform u in [0, 1) (its top 24 bits), kept when u >= p.
bool keep(uint64_t seed, uint64_t counter, uint64_t e, double p) {
    const Generator gen(seed);
    return static_cast<double>(uniform_float(gen.block(counter + e / 4)[e % 4])) >= p;
}

namespace {

// out_e = x_e keep_e / (1 - p). A product, not a select: a dropped NaN stays NaN.
void dropout_reference(const Tensor& out, const Tensor& x, double p, uint64_t seed,
                       uint64_t counter) {
    check(out.dtype() == x.dtype() && out.shape() == x.shape(),
          "[dropout] output {} {} does not match input {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(x.shape()));
    check(p >= 0 && p < 1, "[dropout] p must be in [0, 1), got {}", p);
    visit_floating(x.dtype(), "dropout", [&]<class T>() {
        const Strided<T> xs(x), os(out);
        for (int64_t e = 0; e < x.numel(); ++e) {
            const double factor = keep(seed, counter, static_cast<uint64_t>(e), p) ? 1 / (1 - p) : 0;
            os[e] = static_cast<T>(static_cast<double>(xs[e]) * factor);
        }
    });
}

}  // namespace

const bool dropout_reference_on_cpu = kernels::dropout.set_reference(&dropout_reference);

}  // namespace gradstack::reference
