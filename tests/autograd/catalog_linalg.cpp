// Catalog entries for matmul and linear (autograd/ops/linalg.cpp). The layouts matter here: the
// kernel reads row-major, column-major (transposed), row-strided and stride-0 batch operands in
// place and copies the rest, and each of those paths has an entry.
#include "tests/autograd/catalog.h"

namespace gradstack::testing {
namespace {

using Xs = const std::vector<Tensor>&;

const bool added = add_to_catalog([] {
    // 2-d and batched, in the four generic layouts: contiguous; permuted (the 2-d case is a
    // transposed view, read with CblasTrans); sliced with step 2 (copied); broadcast (2-d: rows of
    // stride 0, copied; batched: a stride-0 batch dim, read in place).
    add_variants("matmul", {{{3, 4}}, {{4, 5}}}, [](Xs x) { return matmul(x[0], x[1]); });
    add_variants("matmul", {{{2, 3, 4}}, {{2, 4, 5}}}, [](Xs x) { return matmul(x[0], x[1]); });
    // Broadcast batch dims: [B, 1, M, K] @ [H, K, N] -> [B, H, M, N].
    add_entry("matmul", "broadcast-batch", {leaf({2, 1, 3, 4}), leaf({3, 4, 5})},
              [](Xs x) { return matmul(x[0], x[1]); });
    add_entry("matmul", "batched-a-2d-b", {leaf({2, 3, 4}), leaf({4, 5})},
              [](Xs x) { return matmul(x[0], x[1]); });
    add_entry("matmul", "2d-a-batched-b", {leaf({3, 4}), leaf({2, 4, 5})},
              [](Xs x) { return matmul(x[0], x[1]); });
    // torch.matmul's 1-d rules.
    add_entry("matmul", "1d-dot", {leaf({4}), leaf({4})}, [](Xs x) { return matmul(x[0], x[1]); });
    add_entry("matmul", "1d-a", {leaf({4}), leaf({4, 5})}, [](Xs x) { return matmul(x[0], x[1]); });
    add_entry("matmul", "1d-b", {leaf({3, 4}), leaf({4})}, [](Xs x) { return matmul(x[0], x[1]); });
    add_entry("matmul", "1d-a-batched-b", {leaf({4}), leaf({2, 4, 5})},
              [](Xs x) { return matmul(x[0], x[1]); });
    add_entry("matmul", "batched-a-1d-b", {leaf({2, 3, 4}), leaf({4})},
              [](Xs x) { return matmul(x[0], x[1]); });
    // Transposed operands: a column-major a, and the weight layout x @ W^T with W stored [N, K].
    add_entry("matmul", "transposed", {leaf({4, 3}), leaf({5, 4})},
              [](Xs x) { return matmul(transpose(x[0], 0, 1), transpose(x[1], 0, 1)); });
    add_entry("matmul", "weight-transposed", {leaf({2, 3, 4}), leaf({5, 4})},
              [](Xs x) { return matmul(x[0], transpose(x[1], 0, 1)); });
    // Batched a with transposed matrices: its gradient w.r.t. a shared 2-d b reshapes a copy.
    add_entry("matmul", "batched-transposed-a", {leaf({2, 4, 3}), leaf({4, 5})},
              [](Xs x) { return matmul(transpose(x[0], 1, 2), x[1]); });
    // Sliced: rows with a gap (row stride 8 > 4, read in place) and a column window.
    add_entry("matmul", "sliced-rows", {leaf({6, 4}), leaf({4, 8})},
              [](Xs x) { return matmul(slice(x[0], 0, 0, 6, 2), slice(x[1], 1, 2, 7)); });
    // One row or one column of output (gemv), including a strided single row read as a
    // transposed matrix, and the attention-like batch of small products (parallel batch loop).
    add_entry("matmul", "one-row", {leaf({1, 8}), leaf({5, 4})},
              [](Xs x) { return matmul(slice(x[0], 1, 0, 8, 2), transpose(x[1], 0, 1)); });
    add_entry("matmul", "one-column", {leaf({3, 4}), leaf({4, 1})},
              [](Xs x) { return matmul(x[0], x[1]); });
    add_entry("matmul", "attention-scores", {leaf({6, 3, 4}), leaf({6, 3, 4})},
              [](Xs x) { return matmul(x[0], transpose(x[1], 1, 2)); });

    add_entry("linear", "bias", {leaf({2, 3, 4}), leaf({5, 4}), leaf({5})},
              [](Xs x) { return linear(x[0], x[1], x[2]); });
    add_entry("linear", "no-bias", {leaf({3, 4}), leaf({5, 4})},
              [](Xs x) { return linear(x[0], x[1]); });
    add_entry("linear", "1d-x", {leaf({4}), leaf({5, 4}), leaf({5})},
              [](Xs x) { return linear(x[0], x[1], x[2]); });
    add_entry("linear", "transposed-x", {leaf({4, 3}), leaf({5, 4}), leaf({5})},
              [](Xs x) { return linear(transpose(x[0], 0, 1), x[1], x[2]); });
    // GPT-2's Conv1D: the weight stored [in, out] and passed as its transposed view.
    add_entry("linear", "transposed-weight", {leaf({2, 3, 4}), leaf({4, 5}), leaf({5})},
              [](Xs x) { return linear(x[0], transpose(x[1], 0, 1), x[2]); });
    add_entry("linear", "constant-bias", {leaf({3, 4}), leaf({5, 4}), leaf({5}, nullptr, false)},
              [](Xs x) { return linear(x[0], x[1], x[2]); });
});

}  // namespace
}  // namespace gradstack::testing
