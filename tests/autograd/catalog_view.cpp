// Catalog entries for views and layout ops (autograd/ops/view.cpp). Each multiplies by a fixed
// ramp so that a gradient landing on the wrong element is caught.
#include "tests/autograd/catalog.h"

namespace gradstack::testing {
namespace {

using Xs = const std::vector<Tensor>&;

// x * [1, 2, 3, ...] in x's shape, so every output element has its own weight.
Tensor ramp(const Tensor& x) {
    const Tensor w = arange(1, static_cast<double>(x.numel()) + 1, 1, DType::f64);
    return x * reshape(to_device(w, x.device()), x.shape());  // on x's device
}

const bool added = add_to_catalog([] {
    const Shape s{2, 3, 4};
    add_variants("view", {{s}}, [](Xs x) { return ramp(reshape(contiguous(x[0]), {6, 4})); });
    add_variants("permute", {{s}}, [](Xs x) { return ramp(permute(x[0], {2, 0, 1})); });
    add_variants("slice", {{s}}, [](Xs x) { return ramp(slice(x[0], 2, 1, 4, 2)); });
    add_variants("select", {{s}}, [](Xs x) { return ramp(select(x[0], 1, -1)); });
    add_variants("expand", {{{2, 1, 4}}}, [](Xs x) { return ramp(expand(x[0], {3, 2, 5, 4})); });
    add_variants("contiguous", {{s}}, [](Xs x) { return ramp(contiguous(transpose(x[0], 0, 2))); });
    add_variants("clone", {{s}}, [](Xs x) { return ramp(clone(x[0])); });
    // To the host and back: the identity on the CPU; under the CUDA catalog run (tests/cuda) the
    // inputs live on the GPU, so both directions and their gradients are exercised.
    add_variants("to_device", {{{3, 4}}}, [](Xs x) {
        return ramp(to_device(to_device(x[0], Device::cpu()), x[0].device()));
    });
    add_entry("to_dtype", "f64-f32-f64", {leaf({3, 4})},
              [](Xs x) { return ramp(to_dtype(to_dtype(x[0], DType::f32), DType::f64)); },
              {.eps = 1e-3, .atol = 1e-3, .rtol = 1e-2},
              "a float32 round trip loses digits, so the finite difference uses a larger step");
    // reshape of a non-contiguous input must copy, then view.
    add_entry("view", "reshape-copies", {leaf({4, 3})},
              [](Xs x) { return ramp(reshape(transpose(x[0], 0, 1), {12})); });
    add_entry("view", "unsqueeze-squeeze-flatten", {leaf({3, 4})},
              [](Xs x) { return ramp(flatten(squeeze(unsqueeze(x[0], 1), 1))); });
});

}  // namespace
}  // namespace gradstack::testing
