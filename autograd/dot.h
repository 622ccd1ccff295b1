// to_dot: the graph that produced a tensor, as Graphviz DOT text (render with `dot -Tpng`).
// Ops are ellipses with their name, output shape and dtype; leaves that receive a gradient are
// boxes. `gradstack graph` (apps/graph.cpp) draws one GPT-2 forward with it.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace gradstack::autograd {

// With backward_order, each op is also labelled "backward #k": the k-th node backward() runs.
// The engine (engine.cpp) runs a node once every consumer is done, latest-created first, which
// makes that order the nodes' creation order reversed.
std::string to_dot(const Tensor& t, bool backward_order = false);

}  // namespace gradstack::autograd
