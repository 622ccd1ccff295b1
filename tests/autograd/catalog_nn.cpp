// Catalog entries for the fused neural-net primitives (autograd/ops/nn.cpp): softmax and
// log_softmax along several dims, layer norm with and without weight / bias, cross-entropy with
// every reduction, ignore_index and label smoothing, and dropout under a fixed seed.
#include <cmath>

#include "tests/autograd/catalog.h"

namespace gradstack::testing {
namespace {

using Xs = const std::vector<Tensor>&;

// Integer class indices of `shape` in [0, classes), with -100 (ignored) at the given flat spots.
Tensor targets(const Shape& shape, int64_t classes, const std::vector<int64_t>& ignored = {}) {
    Generator gen(7);
    Tensor t = randint(0, classes, shape, &gen);
    int64_t* p = t.data<int64_t>();
    for (int64_t i : ignored) p[i] = -100;
    return t;
}

const bool added = add_to_catalog([] {
    const Shape s{3, 5};
    add_variants("softmax", {{s}}, [](Xs x) { return softmax(x[0], -1); });
    add_variants("log_softmax", {{s}}, [](Xs x) { return log_softmax(x[0], 1); });
    // Non-last dims go through the transpose path of the kernel.
    add_entry("softmax", "dim0-3d", {leaf({4, 3, 2})}, [](Xs x) { return softmax(x[0], 0); });
    add_entry("softmax", "dim1-3d", {leaf({2, 4, 3})}, [](Xs x) { return softmax(x[0], -2); });
    add_entry("log_softmax", "dim0-3d", {leaf({4, 3, 2})},
              [](Xs x) { return log_softmax(x[0], 0); });
    // Large logits: the max subtraction keeps everything finite.
    add_entry("softmax", "large-logits", {leaf({2, 6}, [](const Tensor& n) { return n + 500.0; })},
              [](Xs x) { return softmax(x[0], -1); });
    add_entry("log_softmax", "masked-column", {leaf({3, 4})}, [](Xs x) {
        // A -inf entry (a masked attention score) gets probability 0 and no gradient trouble.
        Tensor mask = from_vector<bool>({false, false, true, false}, {4});
        return softmax(masked_fill(x[0], mask, -INFINITY), -1) + log_softmax(x[0], -1);
    });

    add_variants("layer_norm", {{s}, {{5}}, {{5}}},
                 [](Xs x) { return layer_norm(x[0], x[1], x[2]); });
    add_entry("layer_norm", "3d-no-affine", {leaf({2, 3, 6})},
              [](Xs x) { return layer_norm(x[0], Tensor(), Tensor()); });
    add_entry("layer_norm", "weight-only", {leaf({4, 5}), leaf({5})},
              [](Xs x) { return layer_norm(x[0], x[1], Tensor(), 1e-3); });
    add_entry("layer_norm", "constant-x", {leaf({4, 5}, nullptr, false), leaf({5}), leaf({5})},
              [](Xs x) { return layer_norm(x[0], x[1], x[2]); });

    const Tensor t35 = targets({3}, 5), t235 = targets({2, 3}, 5, {4});
    add_variants("cross_entropy", {{s}}, [t35](Xs x) { return cross_entropy(x[0], t35); });
    add_entry("cross_entropy", "none-ignore-3d", {leaf({2, 3, 5})},
              [t235](Xs x) { return cross_entropy(x[0], t235, -100, Reduction::none); });
    add_entry("cross_entropy", "sum-smoothing", {leaf({2, 3, 5})},
              [t235](Xs x) { return cross_entropy(x[0], t235, -100, Reduction::sum, 0.1); });
    add_entry("cross_entropy", "mean-smoothing-ignore", {leaf({2, 3, 5})},
              [t235](Xs x) { return cross_entropy(x[0], t235, -100, Reduction::mean, 0.25); });
    const Tensor t1 = targets({}, 4);
    add_entry("cross_entropy", "unbatched", {leaf({4})},
              [t1](Xs x) { return cross_entropy(x[0], t1); });

    // The generator is re-seeded on every call, so every evaluation uses the same mask.
    add_variants("dropout", {{{4, 6}}}, [](Xs x) {
        Generator gen(42);
        return dropout(x[0], 0.3, true, &gen);
    });
});

}  // namespace
}  // namespace gradstack::testing
