// to_dot: the graph that produced a tensor, as Graphviz DOT text (render with `dot -Tpng`).
// Ops are ellipses with their name and output shape; leaves that receive a gradient are boxes.
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace gradstack::autograd {

std::string to_dot(const Tensor& t);

}  // namespace gradstack::autograd
