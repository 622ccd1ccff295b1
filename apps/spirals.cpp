// `gradstack spirals`: the small end-to-end autograd demo. A two-layer MLP learns to classify three
// interleaved spirals; the loss is printed as it falls, then the learned decision regions are drawn
// in the terminal. Everything runs on gradstack's tensors, autograd and kernels.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <numbers>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "autograd/ops.h"
#include "gpt/generation/memory.h"

namespace gradstack::apps {
namespace {

// Three spirals of n points each in [-1, 1]^2, with a little noise; labels 0, 1, 2.
std::pair<Tensor, Tensor> spirals(int64_t n, Generator& gen) {
    Tensor noise = randn({3 * n, 2}, DType::f32, &gen);
    const float* z = noise.data<float>();
    std::vector<float> xy;
    std::vector<int64_t> labels;
    for (int64_t c = 0; c < 3; ++c) {
        for (int64_t i = 0; i < n; ++i) {
            double r = static_cast<double>(i) / static_cast<double>(n);
            double t = 4.0 * r + 2.0 * std::numbers::pi * static_cast<double>(c) / 3.0;
            xy.push_back(static_cast<float>(r * std::sin(t) + 0.03 * z[2 * (c * n + i)]));
            xy.push_back(static_cast<float>(r * std::cos(t) + 0.03 * z[2 * (c * n + i) + 1]));
            labels.push_back(c);
        }
    }
    return {from_vector<float>(xy, {3 * n, 2}), from_vector<int64_t>(labels)};
}

int run_spirals(int argc, char** argv) {
    CLI::App app{"Train a small MLP on three spirals and watch the loss fall"};
    int64_t steps = 400, hidden = 64, points = 200;
    double lr = 0.05;
    uint64_t seed = 0;
    app.add_option("--steps", steps, "training steps (full batch)")
        ->capture_default_str()
        ->check(integer_in(1, kMaxCount));
    app.add_option("--hidden", hidden, "hidden units per layer")
        ->capture_default_str()
        ->check(integer_in(1, 4096));
    app.add_option("--points", points, "points per spiral")
        ->capture_default_str()
        ->check(integer_in(1, 1'000'000));
    app.add_option("--lr", lr, "learning rate (SGD with momentum 0.9)")
        ->capture_default_str()
        ->check(real_in(0, kInf, true));
    app.add_option("--seed", seed, "random seed")->capture_default_str()->check(seed_value());
    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    // Full batch: the 3 * points x hidden activations of both layers, their gradients and the
    // graph's saved tensors (about 8 copies), plus the weights and their momentum.
    const double n = 3.0 * static_cast<double>(points), h = static_cast<double>(hidden);
    gpt::check_memory(8.0 * n * h * 4.0 + 6.0 * h * h * 4.0, "spirals",
                      fmt::format("--points {} x --hidden {}", points, hidden),
                      "lower --points or --hidden");

    Generator gen(seed);
    auto [x, y] = spirals(points, gen);
    // Parameters: He-style init scaled by 1/sqrt(fan_in).
    auto param = [&](Shape shape, double scale) {
        return (randn(shape, DType::f32, &gen) * scale).detach().requires_grad_();
    };
    std::vector<Tensor> params = {
        param({2, hidden}, 1.0), zeros({hidden}).requires_grad_(),
        param({hidden, hidden}, 1.0 / std::sqrt(static_cast<double>(hidden))),
        zeros({hidden}).requires_grad_(),
        param({hidden, 3}, 1.0 / std::sqrt(static_cast<double>(hidden))),
        zeros({3}).requires_grad_()};
    auto forward = [&](const Tensor& input) {
        Tensor h = tanh(matmul(input, params[0]) + params[1]);  // (N, hidden)
        h = tanh(matmul(h, params[2]) + params[3]);             // (N, hidden)
        return matmul(h, params[4]) + params[5];                // (N, 3) logits
    };
    std::vector<Tensor> velocity;
    for (const Tensor& p : params) velocity.push_back(zeros_like(p));

    fmt::print("gradstack spirals: a 2-{}-{}-3 MLP learns {} points on three spirals\n", hidden,
               hidden, 3 * points);
    auto start = std::chrono::steady_clock::now();
    double loss_value = 0;
    for (int64_t step = 1; step <= steps; ++step) {
        for (Tensor& p : params) p.zero_grad();
        Tensor loss = cross_entropy(forward(x), y);
        loss.backward();
        loss_value = loss.item();
        {
            NoGradGuard no_grad;  // the update itself is not part of the graph
            for (size_t i = 0; i < params.size(); ++i) {
                mul_(velocity[i], 0.9);
                add_(velocity[i], params[i].grad());
                add_(params[i], velocity[i], -lr);
            }
        }
        if (step == 1 || step % 25 == 0 || step == steps) {
            NoGradGuard no_grad;
            double acc = mean(to_dtype(eq(argmax(forward(x), -1), y), DType::f32)).item();
            double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            fmt::print("step {:4d}  loss {:.4f}  accuracy {:5.1f}%  {:.2f}s\n", step, loss_value,
                       100 * acc, secs);
        }
    }
    // Decision regions on a 64x24 grid over [-1, 1]^2, and the training points on top.
    NoGradGuard no_grad;
    const int64_t W = 64, H = 24;
    std::vector<float> grid;
    for (int64_t r = 0; r < H; ++r)
        for (int64_t c = 0; c < W; ++c) {
            grid.push_back(static_cast<float>(-1.0 + 2.0 * c / (W - 1)));
            grid.push_back(static_cast<float>(1.0 - 2.0 * r / (H - 1)));
        }
    std::vector<int64_t> cls = to_vector<int64_t>(argmax(forward(from_vector<float>(grid, {W * H, 2})), -1));
    std::vector<std::string> canvas(H, std::string(W, ' '));
    const char region[3] = {'.', ':', '-'}, point[3] = {'A', 'B', 'C'};
    for (int64_t i = 0; i < W * H; ++i) canvas[i / W][i % W] = region[cls[i]];
    std::vector<float> px = to_vector<float>(x);
    std::vector<int64_t> py = to_vector<int64_t>(y);
    for (size_t i = 0; i < py.size(); i += 4) {
        int64_t c = std::lround((px[2 * i] + 1) / 2 * (W - 1));
        int64_t r = std::lround((1 - px[2 * i + 1]) / 2 * (H - 1));
        if (c >= 0 && c < W && r >= 0 && r < H) canvas[r][c] = point[py[i]];
    }
    fmt::print("\nlearned regions (. : -) and training points (A B C):\n");
    for (const auto& line : canvas) fmt::print("  {}\n", line);
    fmt::print("final loss {:.4f}\n", loss_value);
    return 0;
}

const bool registered = register_command(
    {"spirals", "train a small MLP on three spirals with gradstack's autograd", run_spirals});

}  // namespace
}  // namespace gradstack::apps
