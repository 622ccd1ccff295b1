// gradcheck: compares the analytic gradient from backward() with central finite differences, in
// float64. To check a function f with any output shape, it checks the scalar L = sum(r * f(x))
// for a fixed random r: dL/dx = J^T r is exactly what backward computes from the seed r, and one
// finite difference of L per input element gives the numeric side.
// Read next: tests/autograd/catalog.h, which runs this on every differentiable op.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace gradstack {

struct GradcheckOptions {
    double eps = 1e-6;   // step of the central difference (PyTorch's default)
    double atol = 1e-5;  // pass when |analytic - numeric| <= atol + rtol * |numeric|
    double rtol = 1e-3;
    uint64_t seed = 0;   // seed of the random projection r
};

struct GradcheckResult {
    bool ok = true;
    std::string message;  // the first mismatch: input, element, analytic and numeric values
    double max_abs_error = 0;
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// `inputs` are float64 leaves; those with requires_grad are checked. The function must be
// deterministic. Throws gradstack::Error when an input is not float64 or shares memory.
GradcheckResult gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace gradstack
