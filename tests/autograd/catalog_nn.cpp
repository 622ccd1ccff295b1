// Catalog entries for the fused neural-net primitives (autograd/ops/nn.cpp): softmax and
// log_softmax along several dims, layer norm with and without weight / bias, cross-entropy with
// every reduction, ignore_index and label smoothing, dropout under a fixed seed, and fused
// attention with cache, broadcast and padding masks and dropout.
#include <cmath>
#include <limits>

#include "tests/autograd/catalog.h"

namespace gradstack::testing {
namespace {

using Xs = const std::vector<Tensor>&;

// Integer class indices of `shape` in [0, classes), with -100 (ignored) at the given flat spots.
Tensor targets(const Shape& shape, int64_t classes, const std::vector<int64_t>& ignored = {}) {
    Generator gen(7);
    Tensor t = randint(0, classes, shape, &gen);
    int64_t* p = t.data<int64_t>();
    for (int64_t i : ignored) p[i] = -100;
    return t;
}

// An additive padding mask (B, 1, 1, S) that hides key j of batch b where pad[b][j] is true,
// with float64's lowest value as nn::additive_attention_mask makes it.
Tensor padding_mask(const std::vector<std::vector<bool>>& pad) {
    const int64_t B = static_cast<int64_t>(pad.size()), S = static_cast<int64_t>(pad[0].size());
    std::vector<double> m;
    for (const auto& row : pad)
        for (bool p : row) m.push_back(p ? std::numeric_limits<double>::lowest() : 0.0);
    return from_vector<double>(m, {B, 1, 1, S});
}

void add_attention_entries() {
    const char* op = "scaled_dot_product_attention";
    const Shape q{2, 2, 3, 4}, kv{2, 2, 3, 4};
    // contiguous, permuted, sliced and broadcast q, k, v.
    add_variants(op, {{q}, {kv}, {kv}},
                 [](Xs x) { return scaled_dot_product_attention(x[0], x[1], x[2]); });
    // Past keys: S = 5 > T = 3, so query i sees keys 0..2 + i.
    add_entry(op, "past", {leaf(q), leaf({2, 2, 5, 4}), leaf({2, 2, 5, 4})},
              [](Xs x) { return scaled_dot_product_attention(x[0], x[1], x[2]); });
    // q, k, v as the model makes them: head views of one (B, T, 3C) tensor, with a cache slice.
    add_entry(op, "qkv-views", {leaf({2, 3, 24}), leaf({2, 2, 6, 4})}, [](Xs x) {
        auto head = [&](int64_t i) {
            return permute(reshape(slice(x[0], 2, 8 * i, 8 * i + 8), {2, 3, 2, 4}), {0, 2, 1, 3});
        };
        Tensor k = cat({slice(x[1], 2, 0, 2), head(1)}, 2);  // (2, 2, 5, 4)
        return scaled_dot_product_attention(head(0), k, cat({slice(x[1], 2, 3, 5), head(2)}, 2));
    });
    // A random additive mask broadcast from (2, 1, 3, 5) and one from (5,).
    add_entry(op, "broadcast-mask",
              {leaf(q), leaf({2, 2, 5, 4}), leaf({2, 2, 5, 4}), leaf({2, 1, 3, 5}, nullptr, false),
               leaf({5}, nullptr, false)},
              [](Xs x) {
                  return scaled_dot_product_attention(x[0], x[1], x[2], x[3]) +
                         scaled_dot_product_attention(x[0], x[1], x[2], x[4]);
              });
    // Left padding: in batch 1, keys 0 and 1 are padding, so queries 0 and 1 see only padding.
    // Their scores are score + lowest = lowest exactly, so a change of q or k moves nothing there
    // while the analytic gradient (like the composition's) is not zero: those rows are multiplied
    // by 0 here, and a second entry checks the gradient of v through them, where the softmax is
    // uniform over every key whose score is lowest (padding in the past, real keys in the future).
    const Tensor pad = padding_mask({{false, false, false, false, false},
                                     {true, true, false, false, false}});
    const Tensor keep_rows = from_vector<double>({1, 1, 1, 1, 1, 0, 0, 1, 1, 1}, {2, 1, 5, 1});
    add_entry(op, "padding-mask", {leaf({2, 2, 5, 4}), leaf({2, 2, 5, 4}), leaf({2, 2, 5, 4})},
              [pad, keep_rows](Xs x) {
                  return scaled_dot_product_attention(x[0], x[1], x[2], on_device_of(pad, x[0])) *
                         on_device_of(keep_rows, x[0]);
              });
    add_entry(op, "padded-rows-v",
              {leaf({2, 2, 5, 4}, nullptr, false), leaf({2, 2, 5, 4}, nullptr, false),
               leaf({2, 2, 5, 4})},
              [pad](Xs x) {
                  return scaled_dot_product_attention(x[0], x[1], x[2], on_device_of(pad, x[0]));
              });
    // Dropout: the generator is re-seeded on every call, so every evaluation uses the same mask.
    add_entry(op, "dropout", {leaf(q), leaf({2, 2, 5, 4}), leaf({2, 2, 5, 4})}, [](Xs x) {
        Generator gen(42);
        return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.3, &gen);
    });
}

const bool added = add_to_catalog([] {
    const Shape s{3, 5};
    add_variants("softmax", {{s}}, [](Xs x) { return softmax(x[0], -1); });
    add_variants("log_softmax", {{s}}, [](Xs x) { return log_softmax(x[0], 1); });
    // Non-last dims go through the transpose path of the kernel.
    add_entry("softmax", "dim0-3d", {leaf({4, 3, 2})}, [](Xs x) { return softmax(x[0], 0); });
    add_entry("softmax", "dim1-3d", {leaf({2, 4, 3})}, [](Xs x) { return softmax(x[0], -2); });
    add_entry("log_softmax", "dim0-3d", {leaf({4, 3, 2})},
              [](Xs x) { return log_softmax(x[0], 0); });
    // Large logits: the max subtraction keeps everything finite.
    add_entry("softmax", "large-logits", {leaf({2, 6}, [](const Tensor& n) { return n + 500.0; })},
              [](Xs x) { return softmax(x[0], -1); });
    add_entry("log_softmax", "masked-column", {leaf({3, 4})}, [](Xs x) {
        // A -inf entry (a masked attention score) gets probability 0 and no gradient trouble.
        Tensor mask = from_vector<bool>({false, false, true, false}, {4});
        return softmax(masked_fill(x[0], on_device_of(mask, x[0]), -INFINITY), -1) +
               log_softmax(x[0], -1);
    });

    add_variants("layer_norm", {{s}, {{5}}, {{5}}},
                 [](Xs x) { return layer_norm(x[0], x[1], x[2]); });
    add_entry("layer_norm", "3d-no-affine", {leaf({2, 3, 6})},
              [](Xs x) { return layer_norm(x[0], Tensor(), Tensor()); });
    add_entry("layer_norm", "weight-only", {leaf({4, 5}), leaf({5})},
              [](Xs x) { return layer_norm(x[0], x[1], Tensor(), 1e-3); });
    add_entry("layer_norm", "constant-x", {leaf({4, 5}, nullptr, false), leaf({5}), leaf({5})},
              [](Xs x) { return layer_norm(x[0], x[1], x[2]); });

    const Tensor t35 = targets({3}, 5), t235 = targets({2, 3}, 5, {4});
    add_variants("cross_entropy", {{s}}, [t35](Xs x) { return cross_entropy(x[0], on_device_of(t35, x[0])); });
    add_entry("cross_entropy", "none-ignore-3d", {leaf({2, 3, 5})},
              [t235](Xs x) { return cross_entropy(x[0], on_device_of(t235, x[0]), -100, Reduction::none); });
    add_entry("cross_entropy", "sum-smoothing", {leaf({2, 3, 5})},
              [t235](Xs x) { return cross_entropy(x[0], on_device_of(t235, x[0]), -100, Reduction::sum, 0.1); });
    add_entry("cross_entropy", "mean-smoothing-ignore", {leaf({2, 3, 5})},
              [t235](Xs x) { return cross_entropy(x[0], on_device_of(t235, x[0]), -100, Reduction::mean, 0.25); });
    const Tensor t1 = targets({}, 4);
    add_entry("cross_entropy", "unbatched", {leaf({4})},
              [t1](Xs x) { return cross_entropy(x[0], on_device_of(t1, x[0])); });

    // The generator is re-seeded on every call, so every evaluation uses the same mask.
    add_variants("dropout", {{{4, 6}}}, [](Xs x) {
        Generator gen(42);
        return dropout(x[0], 0.3, true, &gen);
    });

    add_attention_entries();
});

}  // namespace
}  // namespace gradstack::testing
