// gradstack's own float32 GEMM for many rows (M > kSmallGemmMaxRows): prompts, training steps.
// The textbook blocked design (GotoBLAS, BLIS): b is cut into panels of 48 columns x 128 k and a
// into blocks of up to 512 rows x 128 k; each is packed into the order the register tile reads
// (a panel stays in L1 while every block of a's rows passes over it, a's block stays in L2), and
// an 8 x 48 tile of c sums in 24 AVX-512 registers (with AVX2: 24-column panels, a 4 x 24 tile
// in 12 of the 16 registers; simd_tiles.h).
//
// It exists because OpenBLAS is not always running kernels as wide as the CPU's vectors:
// OPENBLAS_CORETYPE may name an AVX2 set (Haswell) on a CPU that has AVX-512, which halves
// sgemm's speed. matmul then takes this GEMM instead (blocked_gemm_wins); where OpenBLAS's kernels
// are as wide as this build's it keeps them (measured on a Zen 1 EPYC, both AVX2: the two within
// 3% of each other from 512 rows up, OpenBLAS ahead).
// Read next: blocked_gemm.cpp (packing, the tile, the loops), matmul.cpp (when it is chosen).
#pragma once

#include <cstdint>

namespace gradstack::cpu {

// c[m, n] = sum_k a(m, k) b(k, n), or c += that when `accumulate`, for any M, N, K >= 0.
//   a(m, k) = a[m * a_rs + k * a_cs]     (any strides: a row-major or a transposed view)
//   b(k, n) = b[k * ldb + n]             when !b_nk (b stored [K, N])
//           = b[n * ldb + k]             when b_nk  (b stored [N, K]: W^T)
//   c(m, n) = c[m * ldc + n]
// Splits N over the OpenMP threads unless called inside a parallel region. Returns false (and
// does nothing) when this build has neither AVX-512 nor AVX2 (GRADSTACK_NATIVE=OFF).
bool blocked_gemm_f32(int64_t M, int64_t N, int64_t K, const float* a, int64_t a_rs, int64_t a_cs,
                      const float* b, int64_t ldb, bool b_nk, float* c, int64_t ldc,
                      bool accumulate);

// Which float32 GEMM matmul uses above kSmallGemmMaxRows rows. `automatic` (the default): the
// blocked GEMM when OpenBLAS's active kernel set uses narrower vectors than this build's tiles
// (AVX-512 tiles against OpenBLAS's pick on an unknown CPU, or OPENBLAS_CORETYPE=Haswell and the
// like), else OpenBLAS.
// Tests and benchmarks force either one; so does the environment variable
// GRADSTACK_GEMM=auto|openblas|blocked, for A/B runs of any command.
enum class F32Gemm { automatic, openblas, blocked };
void force_f32_gemm(F32Gemm g);  // throws when `blocked` is forced on a build without the tiles
bool blocked_gemm_wins();        // what matmul does now for M > kSmallGemmMaxRows
const char* f32_gemm_note();     // one line for the benchmarks: which GEMM and why

}  // namespace gradstack::cpu
