// The op catalog: one list of entries, each a differentiable op applied to float64 sample inputs,
// that drives the gradcheck of every op (test_catalog.cpp) and, later, CPU-vs-CUDA parity.
// Entries are added from catalog_<family>.cpp files with `add_variants` (which generates the
// contiguous, permuted, sliced-with-step and broadcast layouts) or `add_entry` for custom inputs.
// A test fails when an op registered with `Op` has no entry, so coverage cannot silently drop.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

namespace gradstack::testing {

// Makes one leaf's values from standard normal samples of its shape (e.g. abs + 0.5 for log).
using ValueFn = std::function<Tensor(const Tensor& normal)>;

struct CatalogEntry {
    std::string op;       // the registered Op name this entry covers
    std::string variant;  // "contiguous", "permuted", "sliced", "broadcast", or a custom label
    std::vector<Tensor> inputs;  // float64 leaves (requires_grad where checked)
    TensorFn fn;                 // builds views of the leaves, then applies the op
    GradcheckOptions options;
    std::string reason;          // why options differ from the defaults, when they do
};

std::vector<CatalogEntry>& catalog();

// Registers entries from a catalog file: `const bool added = add_to_catalog([] { ... });`.
bool add_to_catalog(std::function<void()> adder);
// Runs every adder once (idempotent); call before reading catalog().
void build_catalog();

struct InputSpec {
    Shape shape;
    ValueFn values = nullptr;   // default: the normal samples as they are
    bool requires_grad = true;  // false for constant inputs
};

// Adds four entries for `op`: inputs given as plain contiguous leaves; as permuted views (leaf
// stored in reversed dim order, permuted back); as step-2 slices of a leaf twice as wide in its
// last dim; and broadcast (each input's leaf has size 1 in dim 0, expanded to the full shape).
// `fn` receives inputs of exactly the shapes in `specs`.
void add_variants(const std::string& op, const std::vector<InputSpec>& specs, TensorFn fn,
                  GradcheckOptions options = {}, std::string reason = "");

// Adds one entry with custom leaves.
void add_entry(const std::string& op, const std::string& variant, std::vector<Tensor> inputs,
               TensorFn fn, GradcheckOptions options = {}, std::string reason = "");

// A float64 leaf of standard normal values (deterministic per call order).
Tensor leaf(const Shape& shape, const ValueFn& values = nullptr, bool requires_grad = true);

// A constant of an entry (ids, targets, masks, weights) on x's device: under tests/cuda the
// catalog's inputs live on the GPU, and every tensor of one op must live on one device.
Tensor on_device_of(const Tensor& constant, const Tensor& x);

// Common value transforms.
Tensor positive(const Tensor& normal);         // |x| + 0.5
Tensor away_from_zero(const Tensor& normal);   // sign(x) (|x| + 0.3): keeps kinks out of reach

}  // namespace gradstack::testing
