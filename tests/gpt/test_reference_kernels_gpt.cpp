// GPT-2 on both CPU kernel sets (tensor/dispatch.h): the tiny checkpoint's logits, loss and every
// parameter gradient with the reference kernels (tensor/reference/, plain float64 loops) equal
// the fast ones within float32 tolerance; in eval mode, in training mode with dropout (both sets
// draw the same Philox masks from the same seed) and with a KV cache (attention with S > T); and
// Adam / AdamW steps from the same gradients (the fused update against its float64 reference in
// nn/optim/adam.cpp). (Not one step after each set's own backward: the key bias's gradient is
// zero in exact arithmetic, so its float32 noise differs in sign between the sets, and Adam's
// first step, lr g / (|g| + eps), turns that noise into +-lr.)
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <map>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "nn/optim/adam.h"
#include "tensor/random.h"
#include "tensor/dispatch.h"
#include "tensor/kernels/copy.h"
#include "tensor/npy.h"
#include "tests/gpt/cli_helpers.h"
#include "tests/test_env.h"

using namespace gradstack;
using namespace gradstack::gpt;

namespace {

std::string tiny_dir() { return testing::test_data("tiny_gpt2"); }

// max over elements of |a - b| - (atol + rtol |b|); <= 0 means within tolerance.
double excess(const Tensor& a, const Tensor& b, double atol, double rtol) {
    BOOST_REQUIRE(a.shape() == b.shape());
    auto va = to_vector<double>(to_dtype(a, DType::f64)), vb = to_vector<double>(to_dtype(b, DType::f64));
    double worst = -1;
    for (size_t i = 0; i < va.size(); ++i) {
        if (!std::isfinite(va[i]) || !std::isfinite(vb[i])) return INFINITY;
        worst = std::max(worst, std::abs(va[i] - vb[i]) - (atol + rtol * std::abs(vb[i])));
    }
    return worst;
}

struct Run {
    Tensor logits, cached_logits, loss;
    std::map<std::string, Tensor> grads;
};

// One forward + loss + backward of the tiny model on kernel set `set`; also the second half of
// the sequence through the first half's KV cache (no grad).
Run run_on(KernelSet set, bool training) {
    KernelSetGuard guard(set);
    auto model = load_pretrained(tiny_dir());
    model->train(training);
    const Tensor ids = load_npy(tiny_dir() + "/expected/input_ids_a.npy");
    manual_seed(1234);  // the same dropout masks on both sets
    Run r;
    r.logits = model->forward(ids).logits;
    r.loss = model->loss(r.logits, ids);
    r.loss.backward();
    for (auto& [name, p] : model->named_parameters()) r.grads[name] = p.grad().detach();
    model->eval();
    NoGradGuard no_grad;
    const int64_t P = ids.size(1) / 2;
    ForwardOutput prefix = model->forward(slice(ids, 1, 0, P));
    ForwardOptions cached;
    cached.past = prefix.presents;
    r.cached_logits = model->forward(slice(ids, 1, P, ids.size(1)), cached).logits;
    r.logits = r.logits.detach();
    r.loss = r.loss.detach();
    return r;
}

// Tolerances (float32 model): logits 1e-4 + 1e-4 relative (|logits| ~ 1; each is a sum over
// 16 channels after 2 blocks); loss 1e-5 relative; gradients 1e-6 + 1e-3 relative to the
// largest gradient of the same parameter (the reference sums in float64, the fast kernels in
// float32 where they may, and small gradient entries are differences of large terms).
void check_runs_agree(bool training) {
    const Run fast = run_on(KernelSet::fast, training), ref = run_on(KernelSet::reference, training);
    BOOST_TEST(excess(fast.logits, ref.logits, 1e-4, 1e-4) <= 0);
    BOOST_TEST(excess(fast.cached_logits, ref.cached_logits, 1e-4, 1e-4) <= 0);
    BOOST_TEST(excess(reshape(fast.loss, {1}), reshape(ref.loss, {1}), 0, 1e-5) <= 0);
    BOOST_REQUIRE(fast.grads.size() == ref.grads.size());
    double worst = 0;  // the largest |fast - reference| / scale, reported
    for (const auto& [name, g] : fast.grads) {
        const Tensor& want = ref.grads.at(name);
        const double scale = max(abs(to_dtype(want, DType::f64))).item();
        const double e = excess(g, want, 1e-6 + 1e-3 * scale, 0);
        BOOST_CHECK_MESSAGE(e <= 0, name << ": gradients differ by " << e << " beyond tolerance "
                                         << "(largest reference gradient " << scale << ")");
        worst = std::max(worst, (excess(g, want, 0, 0)) / scale);
    }
    BOOST_TEST_MESSAGE("largest gradient difference / largest gradient of its parameter: "
                       << worst << "; logits: " << excess(fast.logits, ref.logits, 0, 0)
                       << "; loss: " << (fast.loss - ref.loss).item());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gpt2_reference_kernels)

BOOST_AUTO_TEST_CASE(eval_logits_loss_gradients_and_adamw_agree) {
    check_runs_agree(false);
}

BOOST_AUTO_TEST_CASE(training_with_dropout_agrees) {
    check_runs_agree(true);
}

// The CLI: `--kernels reference` (and `--kernels=fast`) are taken off by apps/main.cpp for a
// command that computes, and give the same logits and loss within the tolerance above; a bad
// value, on the flag or in GRADSTACK_KERNELS, is an error naming it.
BOOST_AUTO_TEST_CASE(cli_kernels_flag,
                     *boost::unit_test::precondition(test::HasGradstackBinary{})) {
    test::TempDir out;
    const std::string inspect = "inspect --model " + tiny_dir() + " --ids " + tiny_dir() +
                                "/expected/input_ids_a.npy --out " + out.path.string();
    const test::CliRun ref = test::run_cli(inspect + "/ref --kernels reference", "OMP_NUM_THREADS=1");
    BOOST_REQUIRE_MESSAGE(ref.exit_code == 0, ref.err);
    BOOST_TEST(testing::contains(ref.err, "kernels: reference"));
    const test::CliRun fast = test::run_cli(inspect + "/fast --kernels=fast", "OMP_NUM_THREADS=1");
    BOOST_REQUIRE_MESSAGE(fast.exit_code == 0, fast.err);
    for (const char* file : {"/logits.npy", "/loss.npy"}) {
        const Tensor a = load_npy(out.path.string() + "/ref" + file);
        const Tensor b = load_npy(out.path.string() + "/fast" + file);
        BOOST_TEST(excess(a, b, 1e-4, 1e-4) <= 0, file);
    }
    const test::CliRun bad = test::run_cli(inspect + "/bad --kernels plain");
    BOOST_TEST(bad.exit_code == 1);
    BOOST_TEST(testing::contains(bad.err, "--kernels: 'plain' is not a kernel set; use reference"));
    const test::CliRun bad_env = test::run_cli(inspect + "/bad", "GRADSTACK_KERNELS=slow");
    BOOST_TEST(bad_env.exit_code == 1);
    BOOST_TEST(testing::contains(bad_env.err, "GRADSTACK_KERNELS: 'slow' is not a kernel set"));
}

// Adam and AdamW steps 1..3 from the same parameters and gradients (some tiny, near eps) on both
// sets, float32 and float64, with weight decay. Tolerance: float32 1e-7 + 1e-6 relative (the
// fused loop rounds each operation to float32 in PyTorch's order; the reference rounds once);
// float64 1e-14.
BOOST_AUTO_TEST_CASE(adam_and_adamw_updates_agree) {
    for (DType dt : {DType::f32, DType::f64})
        for (bool decoupled : {true, false}) {
            std::vector<Tensor> result[2];
            for (int s = 0; s < 2; ++s) {
                KernelSetGuard guard(s == 0 ? KernelSet::fast : KernelSet::reference);
                Generator gen(42);
                Tensor p = randn({7, 33}, dt, &gen).requires_grad_();
                Tensor tiny = (randn({65}, dt, &gen) * 1e-9).detach().requires_grad_();
                nn::AdamConfig c{.lr = 1e-2, .weight_decay = 0.1};
                std::unique_ptr<nn::Adam> opt =
                    decoupled ? std::make_unique<nn::AdamW>(std::vector<Tensor>{p, tiny}, c)
                              : std::make_unique<nn::Adam>(std::vector<Tensor>{p, tiny}, c);
                for (int step = 0; step < 3; ++step) {
                    p.set_grad(randn({7, 33}, dt, &gen));
                    tiny.set_grad(randn({65}, dt, &gen) * 1e-9);
                    opt->step();
                }
                result[s] = {kernels::clone(p.detach()), kernels::clone(tiny.detach())};
            }
            const double atol = dt == DType::f32 ? 1e-7 : 1e-14, rtol = dt == DType::f32 ? 1e-6 : 1e-14;
            for (size_t k = 0; k < 2; ++k)
                BOOST_CHECK_MESSAGE(excess(result[0][k], result[1][k], atol, rtol) <= 0,
                                    dtype_name(dt) << (decoupled ? " AdamW" : " Adam")
                                                   << " parameter " << k << " differs by "
                                                   << excess(result[0][k], result[1][k], 0, 0));
        }
}

BOOST_AUTO_TEST_SUITE_END()
