// Catalog entries for reductions (autograd/ops/reduce.cpp): several dims, keepdim, all dims,
// negative dims, the kernels' layout paths, and ties for max/min. argmax/argmin and all/any have no
// gradient and no entries; their values are checked in tests/tensor/test_reduce.cpp.
#include "tests/autograd/catalog.h"

namespace gradstack::testing {
namespace {

using Xs = const std::vector<Tensor>&;

// Fixed values with exact two-way ties: row 0 has its max twice, row 1 its min twice.
Tensor tied(const Tensor&) {
    return from_vector<double>({1, 3, 3, 0, -2, 0.5, -2, 2}, {2, 4});
}

const bool added = add_to_catalog([] {
    const Shape s{2, 3, 4};
    add_variants("sum", {{s}}, [](Xs x) { return sum(x[0], {0, 2}); });
    add_variants("sum", {{s}}, [](Xs x) { return sum(x[0], {-1}, true); });
    add_variants("sum", {{s}}, [](Xs x) { return sum(x[0]); });
    add_entry("sum", "leading-rows", {leaf({5, 40})}, [](Xs x) { return sum(x[0], {0}); });
    add_entry("mean", "composite", {leaf({2, 3, 4})}, [](Xs x) { return mean(x[0], {1}); });

    // max / min: the broadcast variant ties the two copies of each leaf element along dim 0; the
    // gradient is split between them and summed back by the engine, so it checks out exactly.
    add_variants("max", {{s}}, [](Xs x) { return max(x[0], {0, 2}); });
    add_variants("max", {{s}}, [](Xs x) { return max(x[0], {-1}, true); });
    add_variants("max", {{s}}, [](Xs x) { return max(x[0]); });
    add_variants("min", {{s}}, [](Xs x) { return min(x[0], {1}); });
    add_variants("min", {{s}}, [](Xs x) { return min(x[0], {-3, -1}, true); });
    add_entry("max", "leading-rows", {leaf({5, 40})}, [](Xs x) { return max(x[0], {0}); });
    add_entry("min", "leading-rows", {leaf({5, 40})}, [](Xs x) { return min(x[0], {-2}); });
    // Two tied extremes share the gradient (1/2 each). A central difference sees the same: moving
    // one tied element up moves the max by eps, moving it down does not, so the slope is 1/2.
    add_entry("max", "two-way-tie", {leaf({2, 4}, tied)}, [](Xs x) { return max(x[0], {1}); });
    add_entry("min", "two-way-tie", {leaf({2, 4}, tied)}, [](Xs x) { return min(x[0], {1}); });

    add_variants("logsumexp", {{s}}, [](Xs x) { return logsumexp(x[0], {-1}); });
    add_variants("logsumexp", {{s}}, [](Xs x) { return logsumexp(x[0], {0, 2}, true); });
    add_variants("logsumexp", {{s}}, [](Xs x) { return logsumexp(x[0], {}); });
    add_entry("logsumexp", "large-values",
              {leaf({3, 5}, [](const Tensor& n) { return n * 30.0 + 800.0; })},
              [](Xs x) { return logsumexp(x[0], {1}); });

    add_variants("cumsum", {{s}}, [](Xs x) { return cumsum(x[0], -1); });
    add_variants("cumsum", {{s}}, [](Xs x) { return cumsum(x[0], 1); });
    add_variants("cumsum", {{s}}, [](Xs x) { return cumsum(x[0], 0); });
    add_entry("cumsum", "0-d", {leaf({})}, [](Xs x) { return cumsum(x[0], 0) * 3.0; });

    // Composites (no Op of their own): their gradients come from sum, mean and the elementwise ops.
    add_variants("var", {{s}}, [](Xs x) { return var(x[0], {1}); });
    add_variants("var", {{s}}, [](Xs x) { return var(x[0], {0, -1}, 0, true); });
    add_variants("stddev", {{s}}, [](Xs x) { return stddev(x[0], {-1}); });
    add_entry("stddev", "all-dims", {leaf({3, 4})}, [](Xs x) { return stddev(x[0]); });
});

}  // namespace
}  // namespace gradstack::testing
