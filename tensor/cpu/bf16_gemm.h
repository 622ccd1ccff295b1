// The bfloat16 GEMM behind `--dtype bf16` (MatmulPrecision::bf16, tensor/kernels/linalg.h):
// c[M, N] = a[M, K] @ b with a and b rounded to bfloat16 (the top 16 bits of a float32, rounded
// to nearest even), each product exact, the sums in float32. A weight b is packed once into
// bfloat16 pairs and kept (packed_bf16): half the bytes of float32 for every later call to read,
// which is what bounds batch-1 decoding, and on CPUs with AVX512-BF16 one VDPBF16PS instruction
// does 32 multiply-adds where a float32 FMA does 16.
// Read next: bf16_gemm.cpp (the packing and the register tile), matmul.cpp (when it is used).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "tensor/bf16.h"
#include "tensor/cpu/simd_tiles.h"
#include "tensor/tensor.h"

namespace gradstack::cpu {

// A [K, N] matrix packed for the tile: columns in panels of kBf16Panel (zero-padded), each panel
// K/2 rows (K rounded up to even, zero-padded) of kBf16Panel lanes, each lane one uint32 holding the
// pair (b(2r, n), b(2r + 1, n)) as bfloat16, the even k in the low half. A thread walks its panels
// front to back: the weight is read once, in memory order.
struct PackedBf16 {
    int64_t K = 0, N = 0;
    int64_t pairs = 0;   // ceil(K / 2): rows of a panel
    int64_t panels = 0;  // ceil(N / kBf16Panel)
    std::vector<uint32_t> data;
};
inline constexpr int64_t kBf16Panel = kPanel;  // 48 (AVX-512), 24 (AVX2 or none): simd_tiles.h

// Packs b(k, n) = b[k * ldb + n] (b_nk false) or b[n * ldb + k] (b_nk true: a W^T view).
PackedBf16 pack_bf16(int64_t K, int64_t N, const float* b, int64_t ldb, bool b_nk);

// The packing of the 2-d float32 matrix `b` (any strides), made on first use and kept while
// b's storage lives and is not written in place (its version counter): a weight is packed once,
// then every call finds it. Thread-safe.
std::shared_ptr<const PackedBf16> packed_bf16(const Tensor& b);

// c[m, n] = sum_k bf16(a(m, k)) bf16(b(k, n)) (+ c when accumulate), a(m, k) = a[m * a_rs + k *
// a_cs], c(m, n) = c[m * ldc + n]. Splits N over the OpenMP threads unless called inside a
// parallel region.
void bf16_gemm(int64_t M, const float* a, int64_t a_rs, int64_t a_cs, const PackedBf16& b, float* c,
               int64_t ldc, bool accumulate);

// Which instructions bf16_gemm multiplies with. `fma` (the default with AVX-512 or AVX2): each pair
// widened to two float32 (a bfloat16 is the top half of one) and two FMAs. `dpbf16`: AVX512-BF16's
// VDPBF16PS, one instruction for both halves; measured on this project's Xeon it issues once
// every 2 cycles against 2 FMAs per cycle, so it does half the multiply-adds per cycle
// (`gradstack bench tensor` prints both). `plain`: loops, where the build has neither AVX-512 nor
// AVX2. All three give the same bits: they add the same exact products in the same order (the odd k of a
// pair first, as VDPBF16PS does), except that VDPBF16PS flushes float32 subnormals to zero.
enum class Bf16Kernel { fma, dpbf16, plain };
bool has_bf16_kernel(Bf16Kernel k);     // whether this build has it
Bf16Kernel best_bf16_kernel();          // the default: fma with AVX-512 or AVX2, else plain
Bf16Kernel bf16_kernel();               // what runs now
void force_bf16_kernel(Bf16Kernel k);   // for tests and benchmarks; throws if the build lacks it
const char* bf16_kernel_name(Bf16Kernel k);

}  // namespace gradstack::cpu
