// Which OpenBLAS kernels run. OpenBLAS (a DYNAMIC_ARCH build, as Debian's) picks its kernels by
// the CPU's model number when it loads; 0.3.21 (Debian 12) does not know the newest Xeons (seen:
// family 6 model 207, Emerald Rapids) and falls back to "Prescott", plain SSE3 kernels, 5x slower
// on a large sgemm than its AVX-512 ones. When the user has not chosen (OPENBLAS_CORETYPE) and the
// CPU has AVX-512, gradstack selects OpenBLAS's AVX-512 kernels itself as the library starts,
// before any BLAS call. Read next: matmul.cpp.
#pragma once

#include <string>

namespace gradstack::cpu {

// The OpenBLAS kernel set in use ("SkylakeX", "Cooperlake", "Haswell", ...).
std::string blas_core();
// What gradstack did about it, for benchmarks to print: "" when OpenBLAS's own choice stands, else
// e.g. "OpenBLAS read this CPU (family 6 model 207) as Prescott; gradstack selected Cooperlake".
std::string blas_core_note();
// The float vectors that kernel set's sgemm runs on: 512 (SkylakeX, Cooperlake, SapphireRapids),
// 256 (Haswell, Zen: AVX2 and FMA), else 128 (the older sets, or one gradstack does not know).
int blas_core_vector_bits();

}  // namespace gradstack::cpu
