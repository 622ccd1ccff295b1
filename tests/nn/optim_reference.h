// Shared by the optimizer tests: the PyTorch reference numbers of tests/data/optim_reference.json
// (made by tests/nn/reference/make_optim_reference.py) and helpers that rebuild its inputs.
// Read next: test_optim_parity.cpp.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/optim/optimizer.h"
#include "tensor/tensor.h"

namespace gradstack::test {

// The parsed JSON. Reads $GRADSTACK_SOURCE_DIR/tests/data/optim_reference.json (ctest sets the
// variable; without it the path is relative to the current directory, i.e. the repository root).
const nlohmann::json& optim_reference();

// A float32 tensor from a JSON list of numbers and a shape.
Tensor tensor_from_json(const nlohmann::json& values, const nlohmann::json& shape);

// The case's parameters at their initial values (fresh leaves requiring grad), and an optimizer
// over them built from the case's kind, config and groups.
std::vector<Tensor> make_params(const nlohmann::json& c);
std::unique_ptr<nn::Optimizer> make_optimizer(const nlohmann::json& c,
                                              const std::vector<Tensor>& params);
// Sets the gradients of step s from the case (an absent gradient is dropped).
void set_grads(const nlohmann::json& c, int s, const std::vector<Tensor>& params);

}  // namespace gradstack::test
