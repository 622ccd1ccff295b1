// Training end to end with the nn pieces: a small model learns (loss below a threshold), and
// training resumed from saved model + optimizer state (safetensors) continues with exactly the
// losses of uninterrupted training.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "autograd/ops.h"
#include "nn/layers/activation.h"
#include "nn/layers/container.h"
#include "nn/layers/linear.h"
#include "nn/losses.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip.h"
#include "nn/optim/schedule.h"
#include "nn/safetensors.h"

using namespace gradstack;
using namespace gradstack::nn;
namespace fs = std::filesystem;

namespace {

struct Net : Sequential {
    explicit Net(uint64_t seed) {
        Generator g(seed);
        push_back(std::make_shared<Linear>(LinearConfig{2, 32}, &g));
        push_back(std::make_shared<GELU>());
        push_back(std::make_shared<Linear>(LinearConfig{32, 3}, &g));
    }
};

// Three Gaussian blobs; labels 0, 1, 2.
std::pair<Tensor, Tensor> blobs() {
    Generator g(9);
    Tensor x = randn({150, 2}, DType::f32, &g) * 0.4;
    Tensor centers = from_vector<float>({-2, 0, 2, 1, 0, -2}, {3, 2});
    Tensor y = reshape(expand(reshape(arange(3), {3, 1}), {3, 50}), {150});
    return {x + index_select(centers, 0, y), y};
}

double train_step(Net& net, AdamW& opt, WarmupCosineLr& schedule, int64_t step, const Tensor& x,
                  const Tensor& y) {
    opt.zero_grad();
    Tensor loss = cross_entropy(net(x), y);
    loss.backward();
    clip_grad_norm(net.parameters(), 1.0);
    opt.set_lr(schedule(step));
    opt.step();
    return loss.item();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(small_model_learns_and_resume_is_exact) {
    auto [x, y] = blobs();
    WarmupCosineLr schedule(0.05, 5, 60, 0.005);
    Net net(1);
    AdamW opt(decay_groups(net.named_parameters(), 0.01, 0.05), AdamConfig{0.05});
    std::vector<double> losses;
    fs::path dir = fs::temp_directory_path() / "gradstack_resume_test";
    fs::create_directories(dir);
    for (int64_t step = 0; step < 60; ++step) {
        losses.push_back(train_step(net, opt, schedule, step, x, y));
        if (step == 29) {  // checkpoint half way
            save_safetensors((dir / "model.safetensors").string(), net.state_dict());
            save_safetensors((dir / "optimizer.safetensors").string(), opt.state_dict());
        }
    }
    BOOST_TEST(losses.front() > 0.5);
    BOOST_TEST(losses.back() < 0.1, "final loss " << losses.back());

    // A fresh process would do this: build, load both states, continue from step 30.
    Net resumed(123);  // different init, overwritten by the checkpoint
    AdamW opt2(decay_groups(resumed.named_parameters(), 0.01, 0.05), AdamConfig{0.05});
    resumed.load_state_dict(load_safetensors((dir / "model.safetensors").string()).tensors());
    opt2.load_state_dict(load_safetensors((dir / "optimizer.safetensors").string()).tensors());
    for (int64_t step = 30; step < 60; ++step) {
        double l = train_step(resumed, opt2, schedule, step, x, y);
        BOOST_TEST(l == losses[step], "step " << step);
    }
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
