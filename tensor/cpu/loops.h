// The CPU elementwise engine. Every elementwise kernel (copy, add, exp, where, ...) is one call:
//
//     map<float>(out, [](float a, float b) { return a + b; }, a, b);
//
// `map` broadcasts the inputs to out's shape (stride 0 on broadcast dims), merges dims that are
// laid out back to back (so any contiguous tensor becomes one flat row), splits the rows into
// chunks for the OpenMP threads, and runs a plain loop over each chunk: unit-stride when every
// operand is contiguous along the row (the compiler vectorises it), strided otherwise.
// Read next: cpu/elementwise.cpp.
#pragma once

#include <omp.h>

#include <array>
#include <cstdint>

#include "tensor/tensor.h"

namespace gradstack::cpu {

// Strides that read `t` as if it had `shape` (NumPy broadcasting): 0 on broadcast dims.
Shape broadcast_strides(const Tensor& t, const Shape& shape);

// Views x with the kept dims first and the reduced `dims` (sorted) last; returns the view and the
// number of kept dims. Reductions then treat each output element as one trailing block.
std::pair<Tensor, int64_t> kept_then_reduced(const Tensor& x, const std::vector<int64_t>& dims);

// Below this many elements a kernel runs on one thread: a parallel region costs ~1-2 us.
constexpr int64_t kParallelGrain = 1 << 15;

// A loop nest over `shape` for N operands, after merging mergeable dims.
template <size_t N>
struct LoopNest {
    Shape shape;                     // merged shape; the last dim is the inner row
    std::array<Shape, N> strides;  // per operand, merged
};

template <size_t N>
LoopNest<N> merge_dims(const Shape& shape, const std::array<Shape, N>& strides) {
    LoopNest<N> nest;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 1) continue;  // size-1 dims never move the pointer
        bool mergeable = !nest.shape.empty();
        for (size_t k = 0; k < N && mergeable; ++k)
            mergeable = nest.strides[k].back() == strides[k][d] * shape[d];
        if (mergeable) {
            nest.shape.back() *= shape[d];
            for (size_t k = 0; k < N; ++k) nest.strides[k].back() = strides[k][d];
        } else {
            nest.shape.push_back(shape[d]);
            for (size_t k = 0; k < N; ++k) nest.strides[k].push_back(strides[k][d]);
        }
    }
    if (nest.shape.empty()) {  // a 0-d tensor, or all sizes 1: one element
        nest.shape.push_back(1);
        for (size_t k = 0; k < N; ++k) nest.strides[k].push_back(0);
    }
    return nest;
}

// Calls row(offsets, n, inner_strides) for every row segment of the nest, in parallel when the
// nest is large. offsets[k] is operand k's element offset of the segment's first element.
template <size_t N, class Row>
void for_each_segment(const LoopNest<N>& nest, Row&& row) {
    const int64_t ndim = static_cast<int64_t>(nest.shape.size());
    const int64_t inner = nest.shape.back();
    if (numel(nest.shape) == 0) return;  // a zero-size tensor: nothing to do (and no 0 / 0)
    const int64_t rows = numel(nest.shape) / inner;
    const int64_t total = rows * inner;
    // Long rows are cut into pieces so that even one flat row keeps both threads busy.
    const int64_t piece = total >= kParallelGrain ? std::max<int64_t>(4096, inner / 16) : inner;
    const int64_t pieces_per_row = (inner + piece - 1) / piece;
    const int64_t segments = rows * pieces_per_row;
    std::array<int64_t, N> inner_strides;
    for (size_t k = 0; k < N; ++k) inner_strides[k] = nest.strides[k].back();

#pragma omp parallel for schedule(static) if (total >= kParallelGrain)
    for (int64_t s = 0; s < segments; ++s) {
        int64_t r = s / pieces_per_row, p = s % pieces_per_row;
        std::array<int64_t, N> offsets{};
        for (int64_t d = ndim - 2, rem = r; d >= 0; --d) {  // row index -> outer multi-index
            int64_t i = rem % nest.shape[d];
            rem /= nest.shape[d];
            for (size_t k = 0; k < N; ++k) offsets[k] += i * nest.strides[k][d];
        }
        int64_t start = p * piece, n = std::min(piece, inner - start);
        for (size_t k = 0; k < N; ++k) offsets[k] += start * inner_strides[k];
        row(offsets, n, inner_strides);
    }
}

// out[i] = f(in[i]...) over out's shape, inputs broadcast. Out and In are the C++ element types;
// the caller has checked dtypes and shapes.
template <class Out, class... In, class F>
void map(const Tensor& out, F&& f, const auto&... in) {
    constexpr size_t N = 1 + sizeof...(In);
    static_assert(sizeof...(In) == sizeof...(in));
    const Shape& shape = out.shape();
    LoopNest<N> nest = merge_dims<N>(shape, {out.strides(), broadcast_strides(in, shape)...});
    Out* po = out.data<Out>();
    std::tuple<const In*...> pin{in.template data<In>()...};
    for_each_segment<N>(nest, [&](const std::array<int64_t, N>& off, int64_t n,
                                  const std::array<int64_t, N>& st) {
        [&]<size_t... K>(std::index_sequence<K...>) {
            Out* o = po + off[0];
            std::tuple<const In*...> p{(std::get<K>(pin) + off[K + 1])...};
            bool unit = st[0] == 1 && ((st[K + 1] == 1) && ...);
            if (unit) {
                for (int64_t i = 0; i < n; ++i) o[i] = f(std::get<K>(p)[i]...);
            } else {
                for (int64_t i = 0; i < n; ++i)
                    o[i * st[0]] = f(std::get<K>(p)[i * st[K + 1]]...);
            }
        }(std::index_sequence_for<In...>{});
    });
}

}  // namespace gradstack::cpu
