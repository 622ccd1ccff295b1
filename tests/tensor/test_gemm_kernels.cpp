// The GEMMs gradstack runs instead of OpenBLAS (tensor/cpu/small_gemm.h, the small-M kernel and
// its packed-head path; tensor/cpu/bf16_gemm.h, the bf16 matmul precision) against the reference
// matmul, through kernels::matmul, on shapes around their tiles; plus what only they have: the
// bf16 kernels' agreement bit for bit, the precision switch, and the pack cache.
#include <omp.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <sstream>

#include "autograd/ops.h"
#include "tensor/cpu/bf16_gemm.h"
#include "tensor/cpu/blocked_gemm.h"
#include "tensor/cpu/simd_tiles.h"
#include "tensor/cpu/small_gemm.h"
#include "tensor/dispatch.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/linalg.h"
#include "tensor/view.h"
#include "tests/tensor/differential.h"
#include "tests/test_util.h"

using namespace gradstack;
using namespace gradstack::test;

namespace {

// out = base, then out (+)= a @ b through kernels::matmul, on the fast kernels and the reference
// ones, within `tol`.
void matmul_against_reference(const std::string& what, const Tensor& a, const Tensor& b,
                              const Tensor& base, bool accumulate, Tol tol) {
    differential(
        what,
        [&] {
            Tensor out = kernels::clone(base);
            kernels::matmul(out, a, b, accumulate);
            return Outputs{out};
        },
        {tol});
}

// A [K, N] operand b stored [K, N], or read as W^T with W stored [N, K] (nk); both with padding
// columns (row stride = width + 3), so that a stride is not taken for a width.
Tensor weight_operand(int64_t K, int64_t N, bool nk, Generator& gen) {
    const Tensor wide = nk ? randn({N, K + 3}, DType::f32, &gen) : randn({K, N + 3}, DType::f32, &gen);
    const Tensor w = views::slice(wide, 1, 0, nk ? K : N, 1);
    return nk ? views::permute(w, {1, 0}) : w;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gemm_kernels)

// The small-M GEMM (tensor/cpu/small_gemm.h: 2..16 rows, what batched decoding and beams run;
// rows up to 32 are tried, matmul hands those past 16 to BLAS): rows around its tiles (8 or 4
// rows broadcast, 3 rows dot), columns around its panels (48 or 24 columns of 16 or 8 lanes, 8
// or 4 rows of b), K around its 16 or 8 lanes and across its 16-row blocks; b stored [K, N] or
// read as W^T, with a row stride wider than its width (a sliced weight), a transposed a,
// accumulate; one thread and two (each thread its own range of columns). float32 only (float64
// goes to BLAS). Tolerance: 2e-7 K + 1e-5 relative. The broadcast tile sums each output over k
// in order (as BLAS microkernels do), so its rounding error is a random walk of ~sqrt(K) steps,
// each about half a float32 ulp of a partial sum of size ~sqrt(K): ~3e-8 K, observed up to 6e-5
// at K = 1100.
BOOST_AUTO_TEST_CASE(small_m_gemm) {
    Generator gen(16);
    BOOST_TEST(cpu::kSmallGemmMaxRows == 16);
#if defined(GRADSTACK_SIMD_TILES)
    {  // this build has the kernel: it takes the call rather than handing it back to BLAS
        std::vector<float> a(2 * 3, 1.0f), b(3 * 5, 1.0f), c(2 * 5, 0.0f);
        BOOST_TEST(cpu::small_gemm_f32(2, 5, 3, a.data(), 3, 1, b.data(), 5, false, c.data(), 5,
                                       false));
        BOOST_TEST(c[9] == 3.0f);
    }
#endif
    const std::vector<int64_t> rows = {2, 3, 5, 6, 7, 8, 9, 12, 13, 17, 31, 32};
    const std::vector<int64_t> cols = {1, 3, 4, 5, 15, 16, 17, 47, 48, 49, 97, 145, 200};
    const std::vector<int64_t> depths = {1, 7, 8, 9, 15, 16, 17, 100, 1024, 1100};
    const int threads_before = omp_get_max_threads();
    for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        for (int64_t M : rows) {
            // Every column count with two depths each (cycling), so all pairs of sizes come up.
            for (size_t j = 0; j < cols.size(); ++j) {
                const int64_t N = cols[j];
                for (int64_t K : {depths[(j + M) % depths.size()], depths[(j + 3 * M + 1) % depths.size()]}) {
                    for (bool nk : {false, true})
                        for (bool a_t : {false, true})
                            for (bool acc : {false, true}) {
                                NoGradGuard no_grad;
                                const Tensor b = weight_operand(K, N, nk, gen);
                                const Tensor a = a_t ? views::permute(randn({K, M}, DType::f32, &gen), {1, 0})
                                                     : randn({M, K}, DType::f32, &gen);
                                const Tensor base = randn({M, N}, DType::f32, &gen);
                                std::ostringstream what;
                                what << "small-M gemm " << threads << " thread(s) M " << M << " N " << N
                                     << " K " << K << (nk ? " b=W^T" : " b=[K,N]")
                                     << (a_t ? " a transposed" : "") << (acc ? " accumulate" : "");
                                matmul_against_reference(what.str(), a, b, base, acc,
                                                         {2e-7 * static_cast<double>(K), 1e-5});
                            }
                }
            }
        }
    }
    omp_set_num_threads(threads_before);
}

// The blocked GEMM (tensor/cpu/blocked_gemm.h: more than 16 rows, what matmul runs where
// OpenBLAS's kernels use narrower vectors), forced on whatever OpenBLAS runs here: rows around its
// 8- or 4-row tile and its 512-row block, columns around its 48- or 24-column panel and the
// 8-column strips its W^T packing transposes, K around its 128-k slices and 8-k strips; b stored [K, N] or read as W^T,
// both with a row stride wider than the width; a row-major, transposed (its rows side by side) or
// sliced (every other column); accumulate; one thread and two. Tolerance as above: each slice sums
// in order, the slices add up in order.
BOOST_AUTO_TEST_CASE(blocked_gemm) {
    Generator gen(23);
#if !defined(GRADSTACK_SIMD_TILES)
    BOOST_CHECK_THROW(cpu::force_f32_gemm(cpu::F32Gemm::blocked), Error);
    BOOST_TEST_MESSAGE("this build has neither AVX-512 nor AVX2: no blocked GEMM to test");
#else
    cpu::force_f32_gemm(cpu::F32Gemm::blocked);
    BOOST_TEST(cpu::blocked_gemm_wins());
    {  // matmul hands it a 17-row product: exact on small integers
        std::vector<float> a(17 * 3, 1.0f), b(3 * 5, 2.0f), c(17 * 5, 0.0f);
        BOOST_TEST(cpu::blocked_gemm_f32(17, 5, 3, a.data(), 3, 1, b.data(), 5, false, c.data(), 5,
                                         false));
        BOOST_TEST(c[16 * 5 + 4] == 6.0f);
    }
    const std::vector<int64_t> rows = {17, 23, 24, 31, 33, 64, 129, 511, 513, 530};
    const std::vector<int64_t> cols = {2, 7, 8, 9, 15, 16, 17, 47, 48, 49, 56, 97, 200};
    const std::vector<int64_t> depths = {1, 7, 8, 9, 17, 127, 128, 129, 300};
    const int threads_before = omp_get_max_threads();
    for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        for (size_t i = 0; i < rows.size(); ++i) {
            const int64_t M = rows[i];
            for (size_t j = 0; j < cols.size(); ++j) {
                if (M > 500 && j % 3 != 0) continue;  // the large blocks at fewer widths
                const int64_t N = cols[j];
                const int64_t K = depths[(i + 2 * j + threads) % depths.size()];
                for (bool nk : {false, true})
                    for (int a_layout : {0, 1, 2})
                        for (bool acc : {false, true}) {
                            NoGradGuard no_grad;
                            const Tensor b = weight_operand(K, N, nk, gen);
                            const Tensor a =
                                a_layout == 1 ? views::permute(randn({K, M}, DType::f32, &gen), {1, 0})
                                : a_layout == 2
                                    ? views::slice(randn({M, 2 * K}, DType::f32, &gen), 1, 0, 2 * K, 2)
                                    : randn({M, K}, DType::f32, &gen);
                            const Tensor base = randn({M, N}, DType::f32, &gen);
                            std::ostringstream what;
                            what << "blocked gemm " << threads << " thread(s) M " << M << " N " << N
                                 << " K " << K << (nk ? " b=W^T" : " b=[K,N]")
                                 << (a_layout == 1 ? " a transposed" : a_layout == 2 ? " a sliced" : "")
                                 << (acc ? " accumulate" : "");
                            matmul_against_reference(what.str(), a, b, base, acc,
                                                     {2e-7 * static_cast<double>(K), 1e-5});
                        }
            }
        }
    }
    omp_set_num_threads(threads_before);
    cpu::force_f32_gemm(cpu::F32Gemm::openblas);
    BOOST_TEST(!cpu::blocked_gemm_wins());
    cpu::force_f32_gemm(cpu::F32Gemm::automatic);
#endif
}

// The packed path of the small-M GEMM (small_gemm.h, small_gemm_f32_packed): 2..16 rows against a
// transposed weight of at least kPackedMinElements (the tied head), from a panel copy kept in the
// pack cache. Rows around the 8- or 4-row tile, N not a multiple of the 48- or 24-column
// panel, a batched a, accumulate; then an in-place write to the weight: the next product follows
// the new values.
BOOST_AUTO_TEST_CASE(small_m_gemm_packed_head) {
    Generator gen(21);
    NoGradGuard no_grad;
    const int64_t N = 4097, K = 1025;  // N K just above kPackedMinElements
    BOOST_TEST(N * K >= cpu::kPackedMinElements);
    Tensor w = randn({N, K}, DType::f32, &gen);
    const Tensor b = views::permute(w, {1, 0});  // wte^T
    for (int64_t M : {2, 9, 16})
        for (bool batched : {false, true}) {
            const bool acc = M % 2 == 0;
            const Tensor a = batched ? randn({2, M / 2 + 1, K}, DType::f32, &gen)
                                     : randn({M, K}, DType::f32, &gen);
            const Shape os = kernels::matmul_shape(a, b);
            const Tensor base = randn(os, DType::f32, &gen);
            std::ostringstream what;
            what << "packed head a " << shape_str(a.shape()) << (acc ? " accumulate" : "");
            matmul_against_reference(what.str(), a, b, base, acc, {2e-7 * static_cast<double>(K), 1e-5});
        }
    const Tensor a = randn({4, K}, DType::f32, &gen);
    const Tensor before = kernels::matmul_fresh(a, b);
    kernels::copy_(w, randn({N, K}, DType::f32, &gen));  // bumps the version: packed again
    differential("packed head after an in-place write",
                 [&] { return Outputs{kernels::matmul_fresh(a, b)}; },
                 {Tol{2e-7 * static_cast<double>(K), 1e-5}});
    BOOST_TEST(excess(kernels::matmul_fresh(a, b), before, {1e-3, 0}) > 0);
}

// The bf16 matmul precision (kernels/linalg.h, cpu/bf16_gemm.h): the fast packed kernel against
// the reference loops on the same bfloat16-rounded operands, for a weight stored [K, N] or read as
// W^T, with a stride wider than its width, or a strided view (packed through a copy); a batched
// a, a transposed a, a non-contiguous output, accumulate; rows around the 8- or 4-row tile (1 =
// batch-1 decoding), columns around the 48- or 24-column panel, odd K (the padded pair).
// Tolerance: float32 sums, as for matmul (the products of bfloat16 values are exact in float32).
BOOST_AUTO_TEST_CASE(bf16_matmul_against_reference) {
    Generator gen(17);
    kernels::MatmulPrecisionGuard bf16(kernels::MatmulPrecision::bf16);
    for (int64_t M : {1, 2, 7, 8, 9, 33, 130})
        for (int64_t N : {1, 5, 47, 48, 49, 100})
            for (int64_t K : {1, 2, 3, 16, 63, 64, 129})
                for (int form = 0; form < 4; ++form) {
                    NoGradGuard no_grad;
                    // form 0: b [K, N]; 1: b = W^T; 2: b [K, N] with row stride N + 5; 3: every
                    // other column of a wider matrix (no BLAS layout: packed from a copy).
                    Tensor b = form == 1 ? views::permute(randn({N, K}, DType::f32, &gen), {1, 0})
                               : form == 2 ? views::slice(randn({K, N + 5}, DType::f32, &gen), 1, 0, N, 1)
                               : form == 3 ? views::slice(randn({K, 2 * N}, DType::f32, &gen), 1, 0, 2 * N, 2)
                                           : randn({K, N}, DType::f32, &gen);
                    const bool batched = (M + N + K) % 2 == 1, a_t = form == 2, acc = form >= 2;
                    Tensor a = batched ? randn({2, M, K}, DType::f32, &gen)
                               : a_t   ? views::permute(randn({K, M}, DType::f32, &gen), {1, 0})
                                       : randn({M, K}, DType::f32, &gen);
                    const Shape os = kernels::matmul_shape(a, b);
                    const Tensor base = randn(os, DType::f32, &gen);
                    std::ostringstream what;
                    what << "bf16 matmul a " << shape_str(a.shape()) << (a_t ? " transposed" : "")
                         << " b " << shape_str(b.shape()) << " form " << form << (acc ? " accumulate" : "");
                    differential(
                        what.str(),
                        [&] {
                            Tensor out = make_out(os, DType::f32, form == 3 ? Layout::permuted : Layout::contiguous);
                            kernels::copy(out, base);
                            kernels::matmul(out, a, b, acc);
                            return Outputs{out};
                        },
                        {Tol{1e-6 * std::sqrt(static_cast<double>(K)), 1e-5}});
                }
}

// Each bf16 kernel this build has (AVX-512F FMAs on widened values, VDPBF16PS, plain loops) gives
// the same bits: they add the same exact products in the same order. Forcing each here tests
// every path this build has, whatever the machine would pick.
BOOST_AUTO_TEST_CASE(bf16_kernels_agree_bit_for_bit) {
    Generator gen(18);
    const cpu::Bf16Kernel best = cpu::best_bf16_kernel();
    BOOST_TEST_MESSAGE("best bf16 kernel here: " << cpu::bf16_kernel_name(best));
    for (int64_t M : {1, 3, 8, 21})
        for (int64_t K : {5, 64, 300}) {
            const int64_t N = 131;
            const std::vector<float> a = to_vector<float>(randn({M, K}, DType::f32, &gen));
            const std::vector<float> w = to_vector<float>(randn({K, N}, DType::f32, &gen));
            const cpu::PackedBf16 packed = cpu::pack_bf16(K, N, w.data(), N, false);
            std::vector<std::vector<float>> results;
            std::vector<cpu::Bf16Kernel> ran;
            for (cpu::Bf16Kernel k : {cpu::Bf16Kernel::fma, cpu::Bf16Kernel::dpbf16, cpu::Bf16Kernel::plain}) {
                if (!cpu::has_bf16_kernel(k)) continue;
                cpu::force_bf16_kernel(k);
                std::vector<float> c(static_cast<size_t>(M * N), 0.0f);
                cpu::bf16_gemm(M, a.data(), K, 1, packed, c.data(), N, false);
                results.push_back(c);
                ran.push_back(k);
            }
            cpu::force_bf16_kernel(best);
            BOOST_TEST((ran.back() == cpu::Bf16Kernel::plain));
            for (size_t r = 1; r < results.size(); ++r)
                BOOST_CHECK_MESSAGE(results[r] == results[0],
                                    "bf16 kernel " << cpu::bf16_kernel_name(ran[r]) << " differs from "
                                                   << cpu::bf16_kernel_name(ran[0]) << " at M " << M
                                                   << " K " << K);
        }
#if !defined(__AVX512BF16__)
    BOOST_CHECK_THROW(cpu::force_bf16_kernel(cpu::Bf16Kernel::dpbf16), Error);
#endif
}

// bf16 is what it says: within bfloat16's rounding of float32 (each product off by at most 2^-8
// relative: tolerance 2^-6 sqrt(K), a few sigma of the random walk), and not equal to it; the
// switch parses, scopes and names itself.
BOOST_AUTO_TEST_CASE(bf16_precision_rounds_and_switches) {
    Generator gen(19);
    const int64_t M = 4, K = 768, N = 200;
    const Tensor a = randn({M, K}, DType::f32, &gen), w = randn({K, N}, DType::f32, &gen);
    BOOST_TEST((kernels::matmul_precision() == kernels::MatmulPrecision::f32));
    const Tensor exact = kernels::matmul_fresh(a, w);
    Tensor rounded;
    {
        kernels::MatmulPrecisionGuard g(kernels::MatmulPrecision::bf16);
        BOOST_TEST(kernels::matmul_precision_name(kernels::matmul_precision()) == std::string("bf16"));
        rounded = kernels::matmul_fresh(a, w);
    }
    BOOST_TEST((kernels::matmul_precision() == kernels::MatmulPrecision::f32));
    BOOST_TEST(excess(rounded, exact, {std::ldexp(1.0, -6) * std::sqrt(double(K)), 0}) <= 0);
    BOOST_TEST(excess(rounded, exact, {1e-4, 0}) > 0);
    // float64 matmuls and batched products of activations are never rounded.
    {
        kernels::MatmulPrecisionGuard g(kernels::MatmulPrecision::bf16);
        const Tensor a3 = randn({2, M, K}, DType::f32, &gen), b3 = randn({2, K, N}, DType::f32, &gen);
        Tensor batched = kernels::matmul_fresh(a3, b3);
        kernels::MatmulPrecisionGuard f32(kernels::MatmulPrecision::f32);
        BOOST_TEST(excess(batched, kernels::matmul_fresh(a3, b3), {0, 0}) <= 0);
    }
    BOOST_TEST((kernels::parse_matmul_precision("bf16", "--dtype") == kernels::MatmulPrecision::bf16));
    BOOST_TEST((kernels::parse_matmul_precision("float32", "--dtype") == kernels::MatmulPrecision::f32));
    const std::string e = testing::error_of([] { kernels::parse_matmul_precision("fp16", "--dtype"); });
    BOOST_TEST(testing::contains(e, "--dtype: 'fp16' is not a matmul precision"));
    BOOST_TEST(testing::contains(e, "float32"));
}

// The pack cache: a weight is packed once (the same packing comes back), an in-place write
// makes it pack again (the product follows the new values), and a freed weight's packing goes.
BOOST_AUTO_TEST_CASE(bf16_pack_cache_follows_the_weight) {
    Generator gen(20);
    Tensor w = randn({64, 96}, DType::f32, &gen);
    const auto p1 = cpu::packed_bf16(w), p2 = cpu::packed_bf16(w);
    BOOST_TEST(p1.get() == p2.get());
    const auto pt = cpu::packed_bf16(views::permute(w, {1, 0}));  // another view: its own packing
    BOOST_TEST(pt.get() != p1.get());
    const Tensor a = randn({3, 64}, DType::f32, &gen);
    kernels::MatmulPrecisionGuard g(kernels::MatmulPrecision::bf16);
    const Tensor before = kernels::matmul_fresh(a, w);
    kernels::copy_(w, randn({64, 96}, DType::f32, &gen));  // an in-place write bumps the version
    const auto p3 = cpu::packed_bf16(w);
    BOOST_TEST(p3.get() != p1.get());
    const Tensor after = kernels::matmul_fresh(a, w);
    {
        KernelSetGuard ref(KernelSet::reference);
        BOOST_TEST(excess(after, kernels::matmul_fresh(a, w), {1e-5, 1e-5}) <= 0);
    }
    BOOST_TEST(excess(after, before, {1e-3, 0}) > 0);
    std::weak_ptr<const cpu::PackedBf16> gone = p3;
    {
        Tensor other = randn({8, 8}, DType::f32, &gen);
        cpu::packed_bf16(other);
    }
    w = Tensor();
    cpu::packed_bf16(randn({8, 8}, DType::f32, &gen));  // storing a packing sweeps dead entries
    BOOST_TEST(gone.use_count() == 1);  // only p3 here: the cache let go of it
}

BOOST_AUTO_TEST_SUITE_END()
