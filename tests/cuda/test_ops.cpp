// The device suite, op level: every entry of the op catalog (tests/autograd) run on the GPU against
// the CPU (forward values and gradients) and through the float64 gradcheck on the GPU; then raw
// kernels in float32 over contiguous, permuted, sliced and broadcast layouts; dropout's mask; the
// allocator's reuse and its out-of-memory error.
//
// Tolerances (dtype-aware, stated once): the two devices compute the same formulas but sum in
// different orders (blocks, warps, cuBLAS tiles), so
//   float64: |cuda - cpu| <= 1e-9 + 1e-7 |cpu|
//   float32: |cuda - cpu| <= 1e-5 + 1e-4 |cpu|, GEMMs over K terms 1e-4 + 1e-4 |cpu| sqrt(K / 64)
//   bf16 matmul precision: both sides round operands to bfloat16 identically; 1e-3 + 1e-2 |cpu|.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "cuda/allocator.h"
#include "cuda/runtime.h"
#include "tensor/backend.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/linalg.h"
#include "tensor/kernels/nn.h"
#include "tests/autograd/catalog.h"
#include "tests/cuda/has_device.h"
#include "tests/test_util.h"

using namespace gradstack;
using namespace gradstack::testing;

namespace {

const Device gpu = Device::cuda(0);

// max over elements of |a - b| - (atol + rtol |b|), after bringing both to the host in float64.
double excess(const Tensor& a, const Tensor& b, double atol, double rtol) {
    BOOST_REQUIRE(a.shape() == b.shape());
    const std::vector<double> x = to_vector<double>(a), y = to_vector<double>(b);
    double worst = -1;
    for (size_t i = 0; i < x.size(); ++i) {
        if (std::isnan(x[i]) && std::isnan(y[i])) continue;
        if (std::isinf(y[i]) && x[i] == y[i]) continue;
        const double e = std::abs(x[i] - y[i]) - (atol + rtol * std::abs(y[i]));
        worst = std::isnan(e) ? INFINITY : std::max(worst, e);
    }
    return worst;
}

// A leaf on `device` with the values and requires_grad of `t`.
Tensor leaf_on(const Tensor& t, Device device) {
    if (!t.defined()) return t;
    Tensor c = kernels::to_device(t.detach(), device);
    if (c.is_same(t) || c.storage() == t.storage()) c = kernels::clone(t.detach());
    if (t.requires_grad()) c.requires_grad_(true);
    return c;
}

}  // namespace

// Run by hand without a GPU, the suite reports itself skipped (ctest runs it through
// test_main.cpp, which exits with 77 first).
BOOST_AUTO_TEST_SUITE(device, *boost::unit_test::precondition(testing::HasCudaDevice{}))

BOOST_AUTO_TEST_CASE(every_catalog_entry_matches_the_cpu_and_passes_gradcheck_on_cuda) {
    build_catalog();
    for (const CatalogEntry& e : catalog()) {
        BOOST_TEST_CONTEXT(e.op << " [" << e.variant << "]") {
            try {
                std::vector<Tensor> on_cpu, on_gpu;
                for (const Tensor& x : e.inputs) {
                    on_cpu.push_back(leaf_on(x, Device::cpu()));
                    on_gpu.push_back(leaf_on(x, gpu));
                }
                // Forward values, then the gradients of one backward with the same seed.
                Tensor y_cpu = e.fn(on_cpu), y_gpu = e.fn(on_gpu);
                BOOST_REQUIRE((y_gpu.device() == gpu || y_gpu.device() == Device::cpu()));
                BOOST_CHECK_MESSAGE(excess(y_gpu, y_cpu, 1e-9, 1e-7) <= 0, "forward differs");
                if (y_cpu.requires_grad()) {
                    Generator gen(5);
                    const Tensor seed = randn(y_cpu.shape(), y_cpu.dtype(), &gen);
                    y_cpu.backward(seed);
                    y_gpu.backward(kernels::to_device(seed, y_gpu.device()));
                    for (size_t i = 0; i < on_cpu.size(); ++i) {
                        if (!on_cpu[i].defined() || !on_cpu[i].requires_grad()) continue;
                        const Tensor gc = on_cpu[i].grad(), gg = on_gpu[i].grad();
                        BOOST_REQUIRE(gc.defined() == gg.defined());
                        if (gc.defined())
                            BOOST_CHECK_MESSAGE(excess(gg, gc, 1e-9, 1e-7) <= 0,
                                                "gradient of input " << i << " differs");
                    }
                }
                std::vector<Tensor> checked;
                for (const Tensor& x : e.inputs) checked.push_back(leaf_on(x, gpu));
                const GradcheckResult r = gradcheck(e.fn, checked, e.options);
                BOOST_CHECK_MESSAGE(r.ok, "gradcheck on cuda: " << r.message);
            } catch (const Error& err) {
                BOOST_ERROR("threw: " << err.what());
            }
        }
    }
}

// Raw float32 kernels over layouts: `f` gets the contiguous bases and builds its views itself, so
// the same views are taken on both devices.
BOOST_AUTO_TEST_CASE(float32_kernels_match_the_cpu_over_layouts) {
    Generator gen(11);
    const Tensor a = randn({4, 6, 8}, DType::f32, &gen), b = randn({8, 6, 4}, DType::f32, &gen);
    using Fn = std::function<Tensor(const Tensor&, const Tensor&)>;
    const std::vector<std::pair<std::string, Fn>> cases = {
        {"add broadcast", [](const Tensor& x, const Tensor& y) { return x + slice(y, 0, 0, 1); }},
        {"mul permuted",
         [](const Tensor& x, const Tensor& y) {
             return x * permute(y, {2, 1, 0});
         }},
        {"exp sliced", [](const Tensor& x, const Tensor&) { return exp(slice(x, 2, 0, 8, 2)); }},
        {"gelu", [](const Tensor& x, const Tensor&) { return gelu(x); }},
        {"softmax dim 1", [](const Tensor& x, const Tensor&) { return softmax(x, 1); }},
        {"log_softmax permuted",
         [](const Tensor& x, const Tensor& y) {
             return log_softmax(permute(y, {2, 1, 0}), -1);
         }},
        {"sum dims",
         [](const Tensor& x, const Tensor&) {
             return sum(x, {0, 2});
         }},
        {"max", [](const Tensor& x, const Tensor&) { return max(x, {1}); }},
        {"layer_norm",
         [](const Tensor& x, const Tensor&) {
             const Tensor w = full({8}, 1.5, DType::f32, x.device()),
                          c = full({8}, 0.25, DType::f32, x.device());
             return layer_norm(x, w, c, 1e-5);
         }},
        {"matmul batched",
         [](const Tensor& x, const Tensor& y) {
             return matmul(x, select(permute(y, {1, 0, 2}), 0, 0));
         }},
        {"matmul transposed",
         [](const Tensor& x, const Tensor& y) {
             return matmul(transpose(x, 1, 2), transpose(permute(y, {1, 0, 2}), 1, 2));
         }},
        {"attention",
         [](const Tensor& x, const Tensor& y) {
             const Tensor q = reshape(x, {2, 2, 6, 8}),
                          k = reshape(permute(y, {2, 1, 0}), {2, 2, 6, 8});
             return scaled_dot_product_attention(q, k, k);
         }},
    };
    for (const auto& [name, f] : cases) {
        BOOST_TEST_CONTEXT(name) {
            const Tensor want = f(a, b);
            const Tensor got = f(kernels::to_device(a, gpu), kernels::to_device(b, gpu));
            BOOST_TEST((got.device() == gpu));
            BOOST_TEST(excess(got, want, 1e-4, 2e-4) <= 0);
        }
    }
}

BOOST_AUTO_TEST_CASE(dropout_keeps_the_same_elements_on_both_devices) {
    const Tensor x = ones({3, 1000}, DType::f32);
    Tensor y_cpu = empty_like(x), y_gpu = empty({3, 1000}, DType::f32, gpu);
    kernels::dropout(y_cpu, x, 0.3, 1234, 77);
    kernels::dropout(y_gpu, kernels::to_device(x, gpu), 0.3, 1234, 77);
    BOOST_TEST(excess(y_gpu, y_cpu, 0, 0) <= 0);  // bit for bit
}

BOOST_AUTO_TEST_CASE(allocator_reuses_blocks_and_out_of_memory_is_an_error_not_a_crash) {
    synchronize(gpu);
    const cuda::MemoryStats before = cuda::memory_stats(0);
    { Tensor t = empty({1 << 20}, DType::f32, gpu); }  // 4 MiB, freed into the pool
    const cuda::MemoryStats mid = cuda::memory_stats(0);
    for (int i = 0; i < 10; ++i) {
        Tensor t = empty({1 << 20}, DType::f32, gpu);
    }
    const cuda::MemoryStats after = cuda::memory_stats(0);
    BOOST_TEST(after.device_mallocs == mid.device_mallocs);  // ten requests, no cudaMalloc
    BOOST_TEST(after.cache_hits >= mid.cache_hits + 10);
    BOOST_TEST(mid.allocations == before.allocations + 1);
    BOOST_TEST(after.allocated == before.allocated);
    BOOST_TEST(after.peak_allocated >= before.allocated + (size_t{4} << 20));
    // A request no GPU can serve: a clear error, and the process goes on.
    const std::string msg = error_of([] { empty({int64_t{1} << 48}, DType::f32, gpu); });
    BOOST_TEST(contains(msg, "[cuda allocator] out of memory on cuda:0"), msg);
    Tensor t = full({4}, 2.0, DType::f32, gpu);
    BOOST_TEST(to_vector<float>(t) == std::vector<float>(4, 2.0f));
    cuda::empty_cache(0);
    BOOST_TEST(cuda::memory_stats(0).reserved == cuda::memory_stats(0).allocated);
}

BOOST_AUTO_TEST_CASE(copies_between_host_and_device_keep_layouts_and_convert_dtypes) {
    Generator gen(3);
    const Tensor x = randn({5, 7}, DType::f64, &gen);
    const Tensor back = kernels::to_device(kernels::to_device(x, gpu), Device::cpu());
    BOOST_TEST(excess(back, x, 0, 0) <= 0);
    // Into a transposed device view, from a float64 host tensor: converted and laid out.
    Tensor d = empty({7, 5}, DType::f32, gpu);
    kernels::copy_(transpose(d, 0, 1), x);
    BOOST_TEST(excess(kernels::to_device(d, Device::cpu()), transpose(x, 0, 1), 1e-6, 1e-6) <= 0);
    // Broadcast from the host.
    Tensor e = empty({3, 7}, DType::f64, gpu);
    kernels::copy_(e, slice(x, 0, 0, 1));
    BOOST_TEST(excess(e, expand(slice(x, 0, 0, 1), {3, 7}), 0, 0) <= 0);
}

BOOST_AUTO_TEST_SUITE_END()
