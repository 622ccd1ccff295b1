// Packed copies of weights, kept between calls: a kernel that reads a weight in a layout of its
// own (bfloat16 pairs, column panels) packs it once and finds the packing again on every later
// call. An entry belongs to one view of one storage (offset, shape, strides) in one format
// (`kind`), holds the storage weakly (the cache never keeps a weight alive) and is valid only at
// the storage's version: an in-place write (an optimizer step, a load) makes the next call pack
// again. Read next: bf16_gemm.h, small_gemm.h (the two users).
#pragma once

#include <functional>
#include <memory>

#include "tensor/tensor.h"

namespace gradstack::cpu {

enum class PackKind : int { bf16_panels = 0, f32_panels = 1 };

// The packing of the 2-d matrix `b` in format `kind`: found in the cache, or made by `pack(b)`
// (outside the cache's lock) and stored. Entries of freed or rewritten storages are dropped
// whenever a packing is stored. Thread-safe.
std::shared_ptr<const void> cached_packing(
    const Tensor& b, PackKind kind,
    const std::function<std::shared_ptr<const void>(const Tensor& b)>& pack);

// b(k, n) read through b's strides, as `fn(const float* p, int64_t ld, bool b_nk)` wants it:
// row-major (b_nk false, ld = row stride), a transposed view (b_nk true, ld = column stride), or
// otherwise a row-major copy. For packers: both layouts without a copy, any other through one.
void with_matrix_layout(const Tensor& b,
                        const std::function<void(const float* p, int64_t ld, bool b_nk)>& fn);

}  // namespace gradstack::cpu
