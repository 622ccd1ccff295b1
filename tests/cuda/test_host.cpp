// The host suite: what the CUDA backend does without touching a GPU (see test_main.cpp).
#include <boost/test/unit_test.hpp>

#include "autograd/grad_mode.h"
#include "cuda/allocator.h"
#include "cuda/kernels/philox_host.h"
#include "cuda/launch.h"
#include "gpt/checkpoint.h"
#include "tensor/backend.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/index.h"
#include "tensor/kernels/linalg.h"
#include "tensor/kernels/nn.h"
#include "tensor/kernels/optim.h"
#include "tensor/kernels/reduce.h"
#include "tensor/random.h"
#include "tensor/view.h"
#include "tests/test_env.h"
#include "tests/test_util.h"

using namespace gradstack;
using testing::contains;
using testing::error_of;

BOOST_AUTO_TEST_SUITE(host)

BOOST_AUTO_TEST_CASE(device_strings_parse_and_bad_ones_are_named) {
    BOOST_TEST((parse_device("cpu", "--device") == Device::cpu()));
    BOOST_TEST((parse_device("cuda", "--device") == Device::cuda(0)));
    BOOST_TEST((parse_device("cuda:3", "--device") == Device::cuda(3)));
    for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cuda:1x", "CUDA", "cuda:99999999999"})
        BOOST_TEST(contains(error_of([&] { parse_device(bad, "--device"); }),
                            std::string("--device: '") + bad + "' is not a device"),
                   bad);
}

BOOST_AUTO_TEST_CASE(the_backend_is_registered_and_reports_its_devices) {
    const Backend* b = find_backend(DeviceType::cuda);
    BOOST_REQUIRE(b != nullptr);
    BOOST_TEST(std::string(b->name) == "CUDA");
    BOOST_TEST(device_count(DeviceType::cuda) == cuda::device_count());
    const int n = cuda::device_count();
    const std::string msg = error_of([&] { check_device(Device::cuda(n), "--device"); });
    BOOST_TEST(contains(msg, fmt::format("--device: cuda:{} is not available", n)), msg);
}

BOOST_AUTO_TEST_CASE(without_a_gpu_cuda_tensors_are_clear_errors) {
    if (cuda::device_count() > 0) return;  // the device suite covers this machine
    const std::string msg = error_of([] { zeros({2, 3}, DType::f32, Device::cuda(0)); });
    BOOST_TEST(contains(msg, "cuda:0 is not available: no CUDA device"), msg);
    const std::string move = error_of([] { kernels::to_device(ones({2}), Device::cuda(0)); });
    BOOST_TEST(contains(move, "cuda:0 is not available"), move);
}

BOOST_AUTO_TEST_CASE(device_philox_port_gives_the_generators_words) {
    for (uint64_t seed : {uint64_t{0}, uint64_t{42}, uint64_t{0xDEADBEEFCAFEF00D}}) {
        Generator gen(seed);
        for (uint64_t counter : {uint64_t{0}, uint64_t{1}, uint64_t{12345}, uint64_t{1} << 40}) {
            const auto want = gen.block(counter);
            const auto got = cuda::host_philox_block(seed, counter);
            for (int k = 0; k < 4; ++k) BOOST_TEST(got[k] == want[k]);
        }
    }
}

BOOST_AUTO_TEST_CASE(allocator_size_classes) {
    BOOST_TEST(cuda::size_class(0) == 512u);
    BOOST_TEST(cuda::size_class(1) == 512u);
    BOOST_TEST(cuda::size_class(512) == 512u);
    BOOST_TEST(cuda::size_class(513) == 1024u);
    BOOST_TEST(cuda::size_class(size_t{1} << 20) == size_t{1} << 20);
    BOOST_TEST(cuda::size_class((size_t{1} << 20) + 1) == size_t{2} << 20);
    BOOST_TEST(cuda::size_class((size_t{5} << 20) + 7) == size_t{6} << 20);
}

// launch.h only reads shapes, strides and pointers, so CPU tensors show what a kernel is told.
BOOST_AUTO_TEST_CASE(iterations_merge_contiguous_dims_and_broadcast_with_stride_zero) {
    const Tensor a = zeros({2, 3, 4}, DType::f32), b = zeros({3, 1}, DType::f32);
    cuda::Iteration it = cuda::iteration({2, 3, 4}, {a, b});
    // a is contiguous, so its dims merge where b allows: b is (3, 1) broadcast to (2, 3, 4),
    // strides (0, 1, 0): no two adjacent dims merge for b.
    BOOST_TEST(it.shape.ndim == 3);
    BOOST_TEST(it.shape.numel == 24);
    BOOST_TEST(it.operands[0].strides[0] == 12);
    BOOST_TEST(it.operands[1].strides[0] == 0);
    BOOST_TEST(it.operands[1].strides[1] == 1);
    BOOST_TEST(it.operands[1].strides[2] == 0);
    // Two contiguous operands become one dim.
    it = cuda::iteration({2, 3, 4}, {a, a});
    BOOST_TEST(it.shape.ndim == 1);
    BOOST_TEST(it.shape.sizes[0] == 24);
    // A permuted view keeps its dims apart, with its own strides.
    const Tensor p = views::permute(a, {2, 0, 1});  // (4, 2, 3), strides (1, 12, 4)
    it = cuda::iteration({4, 2, 3}, {zeros({4, 2, 3}), p});
    BOOST_TEST(it.shape.ndim == 2);  // (4, 6): the last two dims of p merge (12 = 4 * 3)
    BOOST_TEST(it.operands[1].strides[0] == 1);
    BOOST_TEST(it.operands[1].strides[1] == 4);
    // Rows along dim 1 of (2, 3, 4): 8 rows of 3, step 4.
    it = cuda::row_iteration({2, 3, 4}, 1, {a});
    BOOST_TEST(it.shape.numel == 8);
    BOOST_TEST(it.operands[0].step == 4);
    // A sliced view with a step: (2, 4) of strides (8, 2) walks 8 elements 2 apart, one dim; a
    // (2, 3) slice of strides (8, 2) has a gap between its rows and keeps two dims.
    const Tensor wide = zeros({2, 8});
    it = cuda::iteration({2, 4}, {views::slice(wide, 1, 0, 8, 2)});
    BOOST_TEST(it.shape.ndim == 1);
    BOOST_TEST(it.shape.sizes[0] == 8);
    BOOST_TEST(it.operands[0].strides[0] == 2);
    it = cuda::iteration({2, 3}, {views::slice(wide, 1, 0, 6, 2)});
    BOOST_TEST(it.shape.ndim == 2);
    BOOST_TEST(it.operands[0].strides[0] == 8);
    BOOST_TEST(it.operands[0].strides[1] == 2);
}

BOOST_AUTO_TEST_CASE(moving_a_model_without_a_gpu_fails_and_leaves_it_usable) {
    if (cuda::device_count() > 0) return;  // the device suite moves models for real
    auto model = gpt::load_pretrained(testing::test_data("tiny_gpt2"));
    const std::string msg = error_of([&] { model->to(Device::cuda(0)); });
    BOOST_TEST(contains(msg, "[Module::to]: cuda:0 is not available: no CUDA device"), msg);
    BOOST_TEST((model->transformer->wte->weight.device() == Device::cpu()));
    NoGradGuard no_grad;
    const Tensor logits = model->forward(from_vector<int64_t>({1, 2, 3}, {1, 3})).logits;
    BOOST_TEST(logits.size(2) == model->config().vocab_size);
}

// Every raw kernel of tensor/kernels/*.h has its CUDA kernel registered once the library is
// loaded (a Dispatcher without one throws "[op] no kernel for cuda:0" at the first call).
BOOST_AUTO_TEST_CASE(every_dispatcher_has_a_cuda_kernel) {
    namespace k = kernels;
    const DeviceType cuda = DeviceType::cuda;
    const std::vector<std::pair<std::string, bool>> registered = {
        {"fill", k::fill.has(cuda)},
        {"copy", k::copy.has(cuda)},
        {"neg", k::neg.has(cuda)},
        {"exp", k::exp.has(cuda)},
        {"log", k::log.has(cuda)},
        {"sqrt", k::sqrt.has(cuda)},
        {"rsqrt", k::rsqrt.has(cuda)},
        {"tanh", k::tanh.has(cuda)},
        {"sigmoid", k::sigmoid.has(cuda)},
        {"relu", k::relu.has(cuda)},
        {"abs", k::abs.has(cuda)},
        {"sign", k::sign.has(cuda)},
        {"gelu", k::gelu.has(cuda)},
        {"gelu_backward", k::gelu_backward.has(cuda)},
        {"add", k::add.has(cuda)},
        {"sub", k::sub.has(cuda)},
        {"mul", k::mul.has(cuda)},
        {"div", k::div.has(cuda)},
        {"pow", k::pow.has(cuda)},
        {"maximum", k::maximum.has(cuda)},
        {"minimum", k::minimum.has(cuda)},
        {"eq", k::eq.has(cuda)},
        {"ne", k::ne.has(cuda)},
        {"lt", k::lt.has(cuda)},
        {"le", k::le.has(cuda)},
        {"gt", k::gt.has(cuda)},
        {"ge", k::ge.has(cuda)},
        {"where", k::where.has(cuda)},
        {"clamp", k::clamp.has(cuda)},
        {"index_select", k::index_select.has(cuda)},
        {"index_add", k::index_add.has(cuda)},
        {"gather", k::gather.has(cuda)},
        {"scatter_add", k::scatter_add.has(cuda)},
        {"cat", k::cat.has(cuda)},
        {"triu", k::triu.has(cuda)},
        {"tril", k::tril.has(cuda)},
        {"one_hot", k::one_hot.has(cuda)},
        {"topk", k::topk.has(cuda)},
        {"argsort", k::argsort.has(cuda)},
        {"multinomial", k::multinomial.has(cuda)},
        {"matmul", k::matmul.has(cuda)},
        {"softmax", k::softmax.has(cuda)},
        {"log_softmax", k::log_softmax.has(cuda)},
        {"softmax_backward", k::softmax_backward.has(cuda)},
        {"log_softmax_backward", k::log_softmax_backward.has(cuda)},
        {"layer_norm", k::layer_norm.has(cuda)},
        {"layer_norm_backward", k::layer_norm_backward.has(cuda)},
        {"cross_entropy", k::cross_entropy.has(cuda)},
        {"cross_entropy_backward", k::cross_entropy_backward.has(cuda)},
        {"dropout", k::dropout.has(cuda)},
        {"attention_forward", k::attention_forward.has(cuda)},
        {"attention_backward", k::attention_backward.has(cuda)},
        {"adam_update", k::adam_update.has(cuda)},
        {"sum", k::sum.has(cuda)},
        {"amax", k::amax.has(cuda)},
        {"amin", k::amin.has(cuda)},
        {"logsumexp", k::logsumexp.has(cuda)},
        {"all", k::all.has(cuda)},
        {"any", k::any.has(cuda)},
        {"argmax", k::argmax.has(cuda)},
        {"argmin", k::argmin.has(cuda)},
        {"cumsum", k::cumsum.has(cuda)}};
    BOOST_TEST(registered.size() == 62u);
    for (const auto& [name, has] : registered) BOOST_TEST(has, name << " has no CUDA kernel");
}

BOOST_AUTO_TEST_SUITE_END()
