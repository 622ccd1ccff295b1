// A GEMM for few rows: c[M, N] = a[M, K] @ b for 2 <= M <= kSmallGemmMaxRows, the shape of
// batched decoding and beam search (M = batch x beams rows against a whole weight matrix).
// OpenBLAS packs b into panels on every call, work that only pays back over many rows; here each
// weight element is read once from memory for all M rows, straight from the parameter.
// Read next: small_gemm.cpp (the two register tiles), matmul.cpp (when it is chosen).
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace gradstack::cpu {

// The largest M the small-M kernel takes; above it OpenBLAS's packed GEMM is faster
// (measured with `gradstack bench tensor`, see small_gemm.cpp).
inline constexpr int64_t kSmallGemmMaxRows = 16;

// c[m, n] = sum_k a(m, k) b(k, n), or c += that when `accumulate`.
//   a(m, k) = a[m * a_rs + k * a_cs]     (any strides: a row-major or a transposed view)
//   b(k, n) = b[k * ldb + n]             when !b_nk (b stored [K, N], rows contiguous)
//           = b[n * ldb + k]             when b_nk  (b stored [N, K]: a transposed weight, the
//                                                    tied head's wte used as wte^T)
//   c(m, n) = c[m * ldc + n]
// Splits N over the OpenMP threads unless called inside a parallel region. Returns false (and
// does nothing) when this build has neither AVX-512 nor AVX2 (GRADSTACK_NATIVE=OFF): the caller
// uses BLAS.
bool small_gemm_f32(int64_t M, int64_t N, int64_t K, const float* a, int64_t a_rs, int64_t a_cs,
                    const float* b, int64_t ldb, bool b_nk, float* c, int64_t ldc,
                    bool accumulate);

// The same product against a weight stored [N, K] and read as W^T (the tied head: wte^T), from a
// packed copy of it in column panels (48 columns with AVX-512, 24 with AVX2), each K rows of a
// panel's width (kept in the pack cache, pack_cache.h, so made once per weight): the broadcast
// tile then reads the weight as one sequential stream, which the dot tile above cannot (it sums a
// few rows at a time and reduces across lanes). Costs a second copy of the weight (the 124M head: 154 MB), so matmul takes this path only
// for weights of at least kPackedMinElements. Returns false without the tiles, as above.
inline constexpr int64_t kPackedMinElements = int64_t{1} << 22;
bool small_gemm_f32_packed(int64_t M, const float* a, int64_t a_rs, int64_t a_cs, const Tensor& b,
                           float* c, int64_t ldc, bool accumulate);

}  // namespace gradstack::cpu
