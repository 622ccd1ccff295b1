// The recorded graph. Every differentiable op calls `record` with its inputs, its output and a
// backward closure; when some input requires grad, record attaches a Node to the output. A Node
// remembers, for each input, where its gradient goes: the input's own Node (an intermediate
// result) or the input's AutogradMeta (a leaf, whose .grad accumulates).
// Read next: engine.cpp (backward), then ops/.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace gradstack {

// One gradient per input of an op, in input order. An undefined Tensor means "no gradient"
// (the input does not require grad, or is an integer index).
using grads = std::vector<Tensor>;
using BackwardFn = std::function<grads(const Tensor& gy)>;

struct Node;

// The autograd state of one tensor (held by TensorImpl through an opaque pointer).
class AutogradMeta {
public:
    bool requires_grad = false;
    Tensor grad;                     // accumulated dL/dtensor, leaves only
    std::shared_ptr<Node> grad_fn;   // the op that produced the tensor; null for a leaf
};

// A differentiable op's name, registered once at start-up. The registry lets the gradcheck catalog
// test that no differentiable op is left out. Define one per op at namespace scope, next to it:
//     const Op op_exp{"exp"};
class Op {
public:
    explicit Op(const char* name);
    const char* name() const { return name_; }

private:
    const char* name_;
};

// Names of every Op defined in the linked program.
const std::vector<std::string>& registered_ops();

struct Edge {
    std::shared_ptr<Node> node;         // the input's producer, when it is an intermediate
    std::shared_ptr<AutogradMeta> leaf; // the input's meta, when it is a leaf requiring grad
    bool needs_grad() const { return node != nullptr || leaf != nullptr; }
};

// What the engine checks before running a backward: the input/output memory was not written in
// place since the forward (weak, so the graph does not keep dead buffers alive).
struct SavedVersion {
    std::weak_ptr<Storage> storage;
    uint64_t version = 0;
};

struct Node {
    const char* name = "";
    uint64_t sequence = 0;          // creation order; later nodes run first in backward
    std::vector<Edge> edges;        // one per input
    std::vector<Shape> input_shapes;
    std::vector<DType> input_dtypes;
    std::vector<SavedVersion> versions;  // inputs, then the output
    Shape output_shape;
    DType output_dtype = DType::f32;
    BackwardFn backward;            // released (empty) after a backward without retain_graph
    bool released = false;
};

// Attaches a Node to `output` when grad mode is on and some input requires grad; returns output.
// `backward` maps dL/doutput to dL/dinput for every input (shapes may be broadcast: the engine
// sums them back to each input's shape).
Tensor record(const Op& op, const std::vector<Tensor>& inputs, Tensor output, BackwardFn backward);

// True when recording would happen for these inputs (lets an op skip saving state otherwise).
bool any_requires_grad(const std::vector<Tensor>& inputs);

// The Node that produced t (null for leaves and untracked tensors).
std::shared_ptr<Node> grad_fn(const Tensor& t);

}  // namespace gradstack
