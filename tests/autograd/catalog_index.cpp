// Catalog entries for indexing, joining and ordering (autograd/ops/index.cpp). Index lists repeat
// ids on purpose, so the checks cover gradients that must accumulate. topk, sort, stack, split and
// chunk have no Op of their own; their entries check them through gather, cat and slice.
#include "tests/autograd/catalog.h"

namespace gradstack::testing {
namespace {

using Xs = const std::vector<Tensor>&;

Tensor ids(const std::vector<int64_t>& values, Shape shape = {}) {
    return from_vector<int64_t>(values, shape);
}

const bool added = add_to_catalog([] {
    // index_select: (3, 4, 5) along each dim, ids repeated and out of order.
    const Tensor i4 = ids({2, 0, 2, 1, 3}), i3 = ids({1, 1, 0}), i5 = ids({4, 0, 4});
    add_variants("index_select", {{{3, 4, 5}}}, [i4](Xs x) { return index_select(x[0], 1, on_device_of(i4, x[0])); });
    add_entry("index_select", "dim0", {leaf({3, 4, 5})},
              [i3](Xs x) { return index_select(x[0], 0, on_device_of(i3, x[0])); });
    add_entry("index_select", "dim-1", {leaf({3, 4, 5})},
              [i5](Xs x) { return index_select(x[0], -1, on_device_of(i5, x[0])); });

    // embedding: weight (6, 3), ids (2, 4) with repeats; ids 5 is never used (zero gradient).
    const Tensor tok = ids({0, 3, 3, 1, 4, 0, 3, 2}, {2, 4});
    add_variants("embedding", {{{6, 3}}}, [tok](Xs x) { return embedding(x[0], on_device_of(tok, x[0])); });

    // gather along dim 1 with a wider index than x (ids repeat), and along dim 0 with an index
    // smaller than x in the other dim.
    const Tensor g1 = ids({0, 3, 3, 1, 2, 2, 2, 0, 1, 3, 1, 0, 0, 0, 3}, {3, 5});
    add_variants("gather", {{{3, 4}}}, [g1](Xs x) { return gather(x[0], 1, on_device_of(g1, x[0])); });
    const Tensor g0 = ids({3, 0, 3, 1}, {2, 2});
    add_entry("gather", "dim0-smaller-index", {leaf({4, 3})},
              [g0](Xs x) { return gather(x[0], 0, on_device_of(g0, x[0])); });
    // topk and sort: their values are gather(x, dim, indices).
    add_entry("gather", "topk-largest", {leaf({3, 7})}, [](Xs x) { return topk(x[0], 3).first; });
    add_entry("gather", "topk-smallest-dim0", {leaf({5, 4})},
              [](Xs x) { return topk(x[0], 2, 0, false).first; });
    add_entry("gather", "sort-descending", {leaf({2, 3, 5})},
              [](Xs x) { return sort(x[0], 1, true).first; });

    // scatter_add: x (3, 4), src (3, 5) added along dim 1 at repeated positions.
    add_variants("scatter_add", {{{3, 4}}, {{3, 5}}},
                 [g1](Xs x) { return scatter_add(x[0], 1, on_device_of(g1, x[0]), x[1]); });
    add_entry("scatter_add", "dim0-src-larger-than-index", {leaf({4, 3}), leaf({3, 3})},
              [g0](Xs x) { return scatter_add(x[0], 0, on_device_of(g0, x[0]), x[1]); });

    // cat: along the last dim, along dim 0 with a size-0 piece, and through stack/split/chunk.
    add_variants("cat", {{{2, 3}}, {{2, 5}}}, [](Xs x) { return cat({x[0], x[1]}, 1); });
    add_entry("cat", "dim0-three-with-empty", {leaf({2, 3}), leaf({0, 3}), leaf({1, 3})}, [](Xs x) {
        return cat({x[0], x[1], x[2]}, 0);
    });
    add_entry("cat", "same-tensor-twice", {leaf({2, 3})}, [](Xs x) {
        return cat({x[0], x[0] * 2.0}, -1);
    });
    add_entry("cat", "stack-dim1", {leaf({2, 3}), leaf({2, 3})}, [](Xs x) {
        return stack({x[0], x[1]}, 1);
    });
    add_entry("cat", "split-reordered", {leaf({7, 2})}, [](Xs x) {
        std::vector<Tensor> p = split(x[0], 3);  // sizes 3, 3, 1
        return cat({p[2], p[0] * 2.0, p[1] * 3.0}, 0);
    });
    add_entry("slice", "chunk-and-split-sizes", {leaf({2, 7})}, [](Xs x) {
        std::vector<Tensor> c = chunk(x[0], 3, 1);                            // sizes 3, 3, 1
        std::vector<Tensor> s = split(x[0], std::vector<int64_t>{5, 2}, -1);  // sizes 5, 2
        return c[1] * 2.0 + sum(s[0], {-1}, true) * c[2];
    });

    // triu / tril over the last two dims, with positive and negative diagonals.
    add_variants("triu", {{{2, 4, 5}}}, [](Xs x) { return triu(x[0]); });
    add_variants("tril", {{{2, 4, 5}}}, [](Xs x) { return tril(x[0]); });
    add_entry("triu", "diagonal1", {leaf({5, 3})}, [](Xs x) { return triu(x[0], 1); });
    add_entry("tril", "diagonal-1", {leaf({3, 5})}, [](Xs x) { return tril(x[0], -1); });
});

}  // namespace
}  // namespace gradstack::testing
