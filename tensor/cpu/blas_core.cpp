// OpenBLAS kernel selection (blas_core.h). OpenBLAS exports the two functions its own start-up
// uses: gotoblas_dynamic_quit() forgets the chosen kernel table and gotoblas_dynamic_init() chooses
// again, honouring OPENBLAS_CORETYPE. Both are safe before the first BLAS call, which a static
// initialiser of this library is (OpenBLAS is loaded, and initialised, before it).
#include "tensor/cpu/blas_core.h"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <fmt/format.h>

// Weak: an OpenBLAS built for one CPU (not DYNAMIC_ARCH) has no kernel table to switch, and then
// these are null and its choice stands.
extern "C" {
char* openblas_get_corename(void);
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace gradstack::cpu {
namespace {

// OpenBLAS kernel sets that use AVX-512: where its own choice is one of these, it stands.
bool uses_avx512(const std::string& core) {
    for (const char* c : {"SkylakeX", "Cooperlake", "SapphireRapids"})
        if (core == c) return true;
    return false;
}

std::string cpu_model() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return "unknown";
    const unsigned family = (eax >> 8) & 0xF, model = ((eax >> 4) & 0xF) | (((eax >> 16) & 0xF) << 4);
    return fmt::format("family {} model {}", family, model);
}

std::string choose() {
    const std::string own = openblas_get_corename();
    if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";  // the user's choice
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    if (!avx512 || uses_avx512(own) || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return "";
    // Cooperlake's set is SkylakeX's plus bfloat16 kernels; both run AVX-512 sgemm.
    const char* pick = __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
    setenv("OPENBLAS_CORETYPE", pick, 0);  // also what child processes (PyTorch in bench) get
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    return fmt::format("OpenBLAS read this CPU ({}) as {}; gradstack selected {}", cpu_model(), own,
                       openblas_get_corename());
}

const std::string& note() {
    static const std::string n = choose();
    return n;
}

const bool chosen_at_start = (note(), true);

}  // namespace

std::string blas_core() { return openblas_get_corename(); }

std::string blas_core_note() { return note(); }

int blas_core_vector_bits() {
    const std::string core = blas_core();
    if (uses_avx512(core)) return 512;
    return core == "Haswell" || core == "Zen" ? 256 : 128;
}

}  // namespace gradstack::cpu
