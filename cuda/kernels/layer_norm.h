// Launchers of the layer norm kernels (layer_norm.cu), called from ../layer_norm.cpp. Layer norm
// runs over the last dim C of x; the rows are every other dim, in C order.
// Read next: layer_norm.cu (the math, after tensor/cpu/layer_norm.cpp).
#pragma once

#include <algorithm>
#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// How the operands are described:
//   x, y, gy, gx: over `rows` (a row iteration, launch.h's row_iteration): element j of row r at
//                 data + offset_of(rows, strides, r) + j * step.
//   mean, rstd:   element r at data + r * step.
//   weight, bias, gweight, gbias: element j at data + j * step; data == nullptr when the tensor
//                 is undefined (no scale / no shift / not wanted).
// All float operands share one type (f32 or f64).

// y = (x - mean) rstd weight + bias per row, with mean and rstd = 1 / sqrt(var + eps) written
// per row (sums in double, as the CPU). rows.numel >= 1 and C >= 1.
void launch_layer_norm(const IterShape& rows, int64_t C, const Operand& y, const Operand& mean,
                       const Operand& rstd, const Operand& x, const Operand& weight,
                       const Operand& bias, double eps, cudaStream_t stream);

// Row chunks of the gweight / gbias partial sums: a function of the row count only, so the order
// of the double sums, and so the result, never depends on the launch.
inline int64_t layer_norm_chunks(int64_t rows) {
    return std::min<int64_t>(rows, 512);
}

// gx (skipped when gx.data is nullptr), gweight and gbias (each skipped when its data is nullptr)
// from gy, x, weight and the forward's mean and rstd. `partials` holds
// 2 * layer_norm_chunks(rows.numel) * C doubles of scratch (device memory). C >= 1; rows.numel
// may be 0 (gweight and gbias are then zeros).
void launch_layer_norm_backward(const IterShape& rows, int64_t C, const Operand& gy,
                                const Operand& x, const Operand& weight, const Operand& mean,
                                const Operand& rstd, const Operand& gx, const Operand& gweight,
                                const Operand& gbias, double* partials, cudaStream_t stream);

}  // namespace gradstack::cuda
