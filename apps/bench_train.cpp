// `gradstack bench train`: one optimizer step of language-model training (forward, cross-entropy,
// backward, global-norm clipping, AdamW) next to PyTorch doing the same step, for the Tiny
// Shakespeare notebook recipe (8 layers x 128, 16 heads, context 256, vocabulary 512, dropout 0.2,
// batch 32) and for GPT-2 124M (batch 4, 64 tokens, dropout 0.1). Random weights and tokens:
// speed does not depend on the data. Read next: apps/bench/torch_train.py (the PyTorch side).
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <optional>

#include "apps/bench.h"
#include "autograd/ops.h"
#include "gpt/model.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip.h"
#include "tensor/random.h"

namespace gradstack::apps {
namespace {

struct TrainBenchFlags {
    BenchFlags common;
    std::vector<std::string> workloads{"recipe", "gpt2"};
    int64_t recipe_batch = 32;
    int64_t gpt2_batch = 4, gpt2_context = 64;
    bool torch = true;
};

struct Workload {
    std::string name;
    gpt::GPT2Config config;
    int64_t batch = 0, context = 0;
};

Workload recipe(int64_t batch) {
    gpt::GPT2Config c;
    c.vocab_size = 512;
    c.n_positions = 256;
    c.n_embd = 128;
    c.n_layer = 8;
    c.n_head = 16;
    c.resid_pdrop = c.embd_pdrop = c.attn_pdrop = 0.2;
    return {"recipe", c, batch, 256};
}

Workload gpt2_small(int64_t batch, int64_t context) {
    gpt::GPT2Config c;  // GPT-2 124M with Hugging Face's default dropout 0.1
    c.vocab_size = 50257;
    c.n_positions = 1024;
    c.n_embd = 768;
    c.n_layer = 12;
    c.n_head = 12;
    return {"gpt2-124M", c, batch, context};
}

// Our side of one workload: the model, its optimizer and a batch, and a step that times itself.
class Trainer {
  public:
    explicit Trainer(const Workload& w)
        : gen_(0), model_(w.config, &gen_),
          opt_(nn::decay_groups(model_.named_parameters(), 0.1, 1e-3),
               nn::AdamConfig{.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8,
                              .weight_decay = 0.1}) {
        inputs_ = randint(0, w.config.vocab_size, {w.batch, w.context}, &gen_);
        targets_ = randint(0, w.config.vocab_size, {w.batch, w.context}, &gen_);
        model_.train();
    }

    double step() {
        const auto start = std::chrono::steady_clock::now();
        gpt::ForwardOptions o;
        o.use_cache = false;
        Tensor logits = model_.forward(inputs_, o).logits;
        Tensor loss = cross_entropy(reshape(logits, {-1, logits.size(-1)}), reshape(targets_, {-1}));
        loss.backward();
        nn::clip_grad_norm(model_.parameters(), 1.0);
        opt_.step();
        opt_.zero_grad();
        last_loss_ = loss.item();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    double last_loss() const { return last_loss_; }
    int64_t parameters() const { return model_.num_parameters(); }

  private:
    Generator gen_;
    gpt::GPT2LMHeadModel model_;
    nn::AdamW opt_;
    Tensor inputs_, targets_;
    double last_loss_ = 0;
};

void run_train(const TrainBenchFlags& f) {
    const int threads = f.common.threads.back();
    set_threads(threads);
    fmt::print("gradstack bench train: one AdamW step (forward, cross-entropy, backward, clip 1.0), "
               "random weights and tokens, float32, {} threads, median of {} after {} warm-ups\n",
               threads, f.common.reps, f.common.warmup);
    fmt::print("{}\n", blas_line());
    std::optional<TorchServer> torch;
    if (f.torch) {
        torch.emplace("torch_train.py");
        if (torch->ok()) {
            fmt::print("PyTorch {} (OpenBLAS OpenMP build, OMP_NUM_THREADS=2), timed in turns\n",
                       torch->hello()["version"].get<std::string>());
            torch->ask(fmt::format("threads {}", threads));
        } else {
            fmt::print("PyTorch: skipped ({})\n", torch->why());
            torch.reset();
        }
    }

    fmt::print("\n{:<10} {:>6} {:>13} {:>13} {:>16} {:>16} {:>7}\n", "workload", "params",
               "gradstack ms", "torch ms", "gradstack tok/s", "torch tok/s", "ratio");
    for (const std::string& name : f.workloads) {
        check(name == "recipe" || name == "gpt2",
              "[bench train] unknown workload '{}' (recipe or gpt2)", name);
        const Workload w = name == "recipe" ? recipe(f.recipe_batch)
                                            : gpt2_small(f.gpt2_batch, f.gpt2_context);
        check(w.context <= w.config.n_positions, "[bench train] context {} exceeds {} positions",
              w.context, w.config.n_positions);
        Trainer ours(w);
        std::vector<TimedRun> engines{[&ours] { return ours.step(); }};
        if (torch) {
            const gpt::GPT2Config& c = w.config;
            torch->ask(fmt::format("model {} {} {} {} {} {} {}", c.vocab_size, w.context,
                                   c.n_layer, c.n_head, c.n_embd, w.batch, c.resid_pdrop));
            engines.push_back(torch->run("step"));
        }
        const std::vector<double> s = median_seconds(engines, f.common.reps, f.common.warmup);
        const double tokens = static_cast<double>(w.batch * w.context);
        const double params = static_cast<double>(ours.parameters());
        fmt::print("{:<10} {:>5.1f}M {:>13.1f} {:>13} {:>16.0f} {:>16} {:>7}\n", w.name,
                   params / 1e6, 1e3 * s[0], torch ? fmt::format("{:.1f}", 1e3 * s[1]) : "-",
                   tokens / s[0], torch ? fmt::format("{:.0f}", tokens / s[1]) : "-",
                   torch ? fmt::format("{:.2f}", s[1] / s[0]) : "-");
        std::fflush(stdout);
        check(std::isfinite(ours.last_loss()), "[bench train] {}: the loss is {}", w.name,
              ours.last_loss());
    }
    fmt::print("\nrecipe: B={} x T=256, 8 layers x 128, 16 heads, vocabulary 512, dropout 0.2; "
               "gpt2-124M: B={} x T={}, dropout 0.1. ratio = torch time / gradstack time "
               "(higher is better for gradstack).\n",
               f.recipe_batch, f.gpt2_batch, f.gpt2_context);
}

void configure(CLI::App& command) {
    auto f = std::make_shared<TrainBenchFlags>();
    f->common.threads = {2};  // the fair PyTorch baseline runs on 2 threads
    f->common.reps = 3;
    f->common.warmup = 1;
    add_bench_flags(command, f->common);
    command.add_option("--workloads", f->workloads, "recipe and/or gpt2")
        ->delimiter(',')
        ->check(CLI::IsMember({"recipe", "gpt2"}))
        ->capture_default_str();
    command.add_option("--recipe-batch", f->recipe_batch, "batch size of the recipe step")
        ->check(integer_in(1, 4096))
        ->capture_default_str();
    command.add_option("--gpt2-batch", f->gpt2_batch, "batch size of the GPT-2 124M step")
        ->check(integer_in(1, 4096))
        ->capture_default_str();
    command.add_option("--gpt2-context", f->gpt2_context, "tokens per GPT-2 124M window")
        ->check(integer_in(1, 1024))
        ->capture_default_str();
    command.add_flag("!--no-torch", f->torch, "time gradstack only");
    auto device = std::make_shared<std::string>();
    add_device_option(command, *device);
    command.callback([f, device] {
        // On a GPU: the GPT-2 124M step at --gpt2-batch x --gpt2-context (try 8 x 1024).
        if (*device != "cpu")
            return run_train_cuda(resolve_device(*device), f->gpt2_batch, f->gpt2_context,
                                  f->common.reps);
        run_train(*f);
    });
}

const bool registered = register_benchmark(
    {"train", "a training step (notebook recipe, GPT-2 124M) vs PyTorch", configure});

}  // namespace
}  // namespace gradstack::apps
