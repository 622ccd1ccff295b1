// Shapes and strides as plain vectors of int64 (row-major, dim 0 outermost, strides in elements),
// with the helpers every op needs: element counts, contiguous strides, negative-dim handling and
// NumPy broadcasting. Read next: storage.h, tensor.h.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gradstack {

using Shape = std::vector<int64_t>;

// Number of elements: the product of the sizes (1 for a 0-d tensor).
int64_t numel(const Shape& shape);

// Strides of a C-order (row-major) tensor of this shape: the last dim has stride 1.
Shape contiguous_strides(const Shape& shape);

// Maps dim in [-ndim, ndim) to [0, ndim); throws "[op] dim 3 is out of range for a 2-d tensor".
int64_t normalize_dim(int64_t dim, int64_t ndim, std::string_view op);

// Normalises a list of dims (empty means all dims), sorted, and rejects repeats.
std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim,
                                    std::string_view op);

// NumPy broadcasting: align from the right; sizes must be equal or 1. Throws naming both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

// "(2, 3)" like PyTorch's torch.Size printing, "()" for a 0-d tensor.
std::string shape_str(const Shape& shape);

}  // namespace gradstack
