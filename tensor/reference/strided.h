// What every reference kernel reads and writes through: a tensor's elements addressed by their
// C-order position (flat index) or by the start of a line along one dim, whatever its strides, so
// the reference kernels take permuted, sliced and broadcast (stride-0) tensors as they are and
// never copy. Plain index arithmetic, no merging of dims, no fast paths.
// Read next: reference/softmax.cpp (the first kernel family built on it).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "tensor/tensor.h"

namespace gradstack::reference {

// A tensor's data pointer, shape and strides.
template <class T>
struct Strided {
    T* p = nullptr;
    Shape shape, strides;
    bool empty = false;  // a size-0 dim: no elements

    explicit Strided(const Tensor& t)
        : p(t.data<T>()), shape(t.shape()), strides(t.strides()), empty(t.numel() == 0) {}

    // Element offset (from p) of the element at C-order position `flat`: the multi-index is
    // flat written in the mixed radix of the shape, last dim fastest. (A tensor with a size-0
    // dim has no elements; its offset is 0, so that loops may take its start.)
    int64_t offset(int64_t flat) const {
        int64_t off = 0;
        if (empty) return 0;
        for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
            off += flat % shape[d] * strides[d];
            flat /= shape[d];
        }
        return off;
    }
    T& operator[](int64_t flat) const { return p[offset(flat)]; }
};

// A tensor seen as (outer, n, inner) around dim `dim`: C-order position (o, j, i) is
// o n inner + j inner + i, and line (o, i) is the n elements along dim.
struct Lines {
    int64_t outer = 1, n = 1, inner = 1;
    Lines(const Shape& shape, int64_t dim) {
        for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
            if (d < dim) outer *= shape[d];
            if (d == dim) n = shape[d];
            if (d > dim) inner *= shape[d];
        }
    }
    int64_t count() const { return outer * inner; }
    // The C-order position of element j of line `line` (line = o inner + i).
    int64_t flat(int64_t line, int64_t j) const {
        return (line / inner * n + j) * inner + line % inner;
    }
};

// The lowest finite value of T, as a double (attention's score for a key a query cannot see).
template <class T>
double lowest() {
    return static_cast<double>(std::numeric_limits<T>::lowest());
}

// Dropout's keep decision for element e of a mask drawn under (seed, counter), shared by the
// dropout and attention references (defined in reference/dropout.cpp).
bool keep(uint64_t seed, uint64_t counter, uint64_t e, double p);

}  // namespace gradstack::reference
