// Catalog entries for reductions (autograd/ops/reduce.cpp): several dims, keepdim, all dims.
#include "tests/autograd/catalog.h"

namespace gradstack::testing {
namespace {

using Xs = const std::vector<Tensor>&;

const bool added = add_to_catalog([] {
    const Shape s{2, 3, 4};
    add_variants("sum", {{s}}, [](Xs x) { return sum(x[0], {0, 2}); });
    add_variants("sum", {{s}}, [](Xs x) { return sum(x[0], {-1}, true); });
    add_variants("sum", {{s}}, [](Xs x) { return sum(x[0]); });
    add_entry("sum", "leading-rows", {leaf({5, 40})}, [](Xs x) { return sum(x[0], {0}); });
    add_entry("mean", "composite", {leaf({2, 3, 4})}, [](Xs x) { return mean(x[0], {1}); });
});

}  // namespace
}  // namespace gradstack::testing
