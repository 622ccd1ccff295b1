// Catalog entries for the elementwise ops (autograd/ops/elementwise.cpp).
#include "tests/autograd/catalog.h"

namespace gradstack::testing {
namespace {

using Xs = const std::vector<Tensor>&;

const bool added = add_to_catalog([] {
    const Shape s{3, 4};
    // Binary ops: both inputs full-shape (the broadcast variant expands each inside the function).
    add_variants("add", {{s}, {s}}, [](Xs x) { return x[0] + x[1]; });
    add_variants("sub", {{s}, {s}}, [](Xs x) { return x[0] - x[1]; });
    add_variants("mul", {{s}, {s}}, [](Xs x) { return x[0] * x[1]; });
    add_variants("div", {{s}, {s, away_from_zero}}, [](Xs x) { return x[0] / x[1]; });
    add_variants("pow", {{s, positive}, {s}}, [](Xs x) { return pow(x[0], x[1]); });
    add_variants("maximum", {{s}, {s}}, [](Xs x) { return maximum(x[0], x[1]); });
    add_variants("minimum", {{s}, {s}}, [](Xs x) { return minimum(x[0], x[1]); });
    // NumPy broadcasting inside the op: (3, 4) with (4,) and (3, 1).
    add_entry("add", "numpy-broadcast", {leaf({3, 4}), leaf({4})},
              [](Xs x) { return x[0] + x[1]; });
    add_entry("mul", "numpy-broadcast", {leaf({3, 1}), leaf({1, 4})},
              [](Xs x) { return x[0] * x[1]; });
    add_entry("div", "numpy-broadcast", {leaf({2, 3, 4}), leaf({3, 1}, away_from_zero)},
              [](Xs x) { return x[0] / x[1]; });
    add_entry("pow", "scalar-exponent", {leaf({3, 4}, positive)},
              [](Xs x) { return pow(x[0], 3.0); });

    add_variants("neg", {{s}}, [](Xs x) { return -x[0]; });
    add_variants("exp", {{s}}, [](Xs x) { return exp(x[0]); });
    add_variants("log", {{s, positive}}, [](Xs x) { return log(x[0]); });
    add_variants("sqrt", {{s, positive}}, [](Xs x) { return sqrt(x[0]); });
    add_variants("rsqrt", {{s, positive}}, [](Xs x) { return rsqrt(x[0]); });
    add_variants("tanh", {{s}}, [](Xs x) { return tanh(x[0]); });
    add_variants("sigmoid", {{s}}, [](Xs x) { return sigmoid(x[0]); });
    add_variants("relu", {{s, away_from_zero}}, [](Xs x) { return relu(x[0]); });
    add_variants("abs", {{s, away_from_zero}}, [](Xs x) { return abs(x[0]); });
    add_variants("gelu", {{s}}, [](Xs x) { return gelu(x[0]); });
    // Bounds at +-1 cut the tails of the normal samples; a sample within eps of a bound (where the
    // finite difference straddles the kink) has probability ~1e-6.
    add_variants("clamp", {{s}}, [](Xs x) { return clamp(x[0], -1.0, 1.0); });
    add_variants("where", {{s}, {s}}, [](Xs x) {
        return where(gt(x[0], x[1]), x[0] * 2.0, x[1] * 3.0);
    });
    add_entry("where", "masked_fill", {leaf({3, 4})}, [](Xs x) {
        Tensor mask = gt(x[0], scalar_like(x[0], 0)).detach();
        return masked_fill(x[0] * 1.5, mask, -2.0);
    });
});

}  // namespace
}  // namespace gradstack::testing
