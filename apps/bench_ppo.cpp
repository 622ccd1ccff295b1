// `gradstack bench ppo`: seconds per PPO step (rollout, scoring, optimisation separately) of
// rl::PpoTrainer::step at `gradstack ppo`'s default sizes (64 rollouts of 16 tokens, mini-batches
// of 16, 4 epochs) on the demo model's shape (4 layers, 128 wide, 4 heads, vocabulary 4096) with
// random weights, next to the same step in PyTorch (apps/bench/torch_ppo.py: trl's PPOTrainer.step
// written out in plain torch). The reward is the count of token 3 in the response (cheap on both
// sides), queries are 8 random tokens (no padding, so both sides do the same work). Steps are
// timed in turns, gradstack then PyTorch, and the medians of each phase are printed.
// Measured (AMD EPYC, 2 cores, quiet machine, median of 5), s/step gradstack vs PyTorch:
//   1 thread:  rollout 0.32 vs 0.42 (1.29x), optimize 2.24 vs 1.92 (0.86x), step 2.58 vs 2.34
//   2 threads: rollout 0.23 vs 0.38 (1.62x), optimize 2.39 vs 1.39 (0.58x), step 2.65 vs 1.77
// The optimisation phase runs many small ops (16 x 24 tokens, 128 wide): at 2 threads 29% of
// the samples are in libgomp's wait loop (parallel regions too small to split), at 1 thread the
// scalar gelu forward and backward take 14%: both are tensor-level costs (the CPU speed issue).
// Read next: rl/ppo.cpp, apps/bench/torch_ppo.py.
#include <fmt/format.h>

#include <algorithm>

#include "apps/bench.h"
#include "rl/ppo.h"
#include "rl/reference.h"
#include "tensor/error.h"

namespace gradstack::apps {
namespace {

struct PpoBenchFlags {
    BenchFlags common{{2}, 5, 1};
    int64_t n_layer = 4, n_embd = 128, n_head = 4, vocab = 4096, query = 8;
    rl::PpoConfig ppo;
    bool no_torch = false;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

void run_ppo_bench(const PpoBenchFlags& f) {
    gpt::GPT2Config c;
    c.n_layer = f.n_layer, c.n_embd = f.n_embd, c.n_head = f.n_head, c.vocab_size = f.vocab;
    c.n_positions = std::max<int64_t>(128, f.query + f.ppo.response_length);
    c.bos_token_id = c.eos_token_id = f.vocab - 1;
    const rl::PpoConfig& p = f.ppo;
    p.validate();
    Generator init(0);
    rl::Policy policy{std::make_shared<gpt::GPT2LMHeadModel>(c, &init), nullptr};
    policy.v_head = std::make_shared<rl::ValueHead>(rl::ValueHeadConfig{}, c.n_embd, 0.02, c.dtype, &init);
    auto reference = rl::create_reference(*policy.lm);
    Generator gen(1);
    rl::PpoTrainer trainer(policy, reference, p, gen);
    const rl::Reward reward = rl::token_count_reward({3}, "token 3");
    Generator prompt_gen(2);
    rl::Rows queries;
    for (int64_t i = 0; i < p.batch_size; ++i)
        queries.push_back(to_vector<int64_t>(randint(0, c.vocab_size, {f.query}, &prompt_gen)));
    fmt::print("gradstack bench ppo: GPT-2 n_layer {} n_embd {} n_head {} vocab {} ({:.2f}M "
               "parameters), random weights; batch {}, mini-batch {}, {} query + {} response "
               "tokens, {} PPO epochs; reward: count of token 3\n",
               c.n_layer, c.n_embd, c.n_head, c.vocab_size, policy.lm->num_parameters() / 1e6,
               p.batch_size, p.mini_batch_size, f.query, p.response_length, p.ppo_epochs);
    fmt::print("{}\n", blas_line());

    std::unique_ptr<TorchServer> torch;
    if (!f.no_torch) {
        torch = std::make_unique<TorchServer>("torch_ppo.py");
        if (torch->ok()) {
            nlohmann::json job = {{"n_layer", c.n_layer}, {"n_embd", c.n_embd}, {"n_head", c.n_head},
                                  {"vocab", c.vocab_size}, {"n_positions", c.n_positions},
                                  {"batch", p.batch_size}, {"mini", p.mini_batch_size},
                                  {"response", p.response_length}, {"query", f.query},
                                  {"epochs", p.ppo_epochs}, {"lr", p.lr}};
            torch->ask("setup ppo " + job.dump());
            fmt::print("PyTorch {}: the same step in plain torch (apps/bench/torch_ppo.py)\n",
                       torch->hello()["version"].get<std::string>());
        } else {
            fmt::print("PyTorch: skipped ({})\n", torch->why());
        }
    }
    const bool with_torch = torch && torch->ok();
    for (int threads : f.common.threads) {
        set_threads(threads);
        if (with_torch) torch->ask(fmt::format("threads {}", threads));
        std::vector<double> g[4], t[4];  // total, rollout, score, optimize
        for (int rep = 0; rep < f.common.warmup + f.common.reps; ++rep) {
            rl::StepStats s = trainer.step(queries, reward);
            nlohmann::json r = with_torch ? torch->ask("run ppo") : nlohmann::json();
            if (rep < f.common.warmup) continue;
            for (auto [i, v] : {std::pair{0, s.seconds}, {1, s.rollout_s}, {2, s.score_s}, {3, s.optimize_s}})
                g[i].push_back(v);
            if (with_torch) {
                int i = 0;
                for (const char* k : {"seconds", "rollout", "score", "optimize"}) t[i++].push_back(r[k].get<double>());
            }
        }
        fmt::print("\n{} thread(s), median of {} steps (after {} warm-up)\n", threads, f.common.reps,
                   f.common.warmup);
        fmt::print("{:>10} | {:>14} | {:>12} | {:>8}\n", "phase", "gradstack (s)", "PyTorch (s)", "ratio");
        const char* names[4] = {"step", "rollout", "score", "optimize"};
        for (int i : {1, 2, 3, 0}) {
            const double a = median(g[i]), b = with_torch ? median(t[i]) : 0.0;
            if (with_torch)
                fmt::print("{:>10} | {:>14.3f} | {:>12.3f} | {:>7.2f}x\n", names[i], a, b, a > 0 ? b / a : 0.0);
            else
                fmt::print("{:>10} | {:>14.3f} | {:>12} | {:>8}\n", names[i], a, "-", "-");
        }
    }
}

void configure(CLI::App& command) {
    auto f = std::make_shared<PpoBenchFlags>();
    add_bench_flags(command, f->common);
    add_shape_flags(command, f->n_layer, f->n_embd, f->n_head);
    command.add_option("--vocab", f->vocab, "vocabulary size")
        ->capture_default_str()
        ->check(integer_in(4, 1'000'000));
    command.add_option("--query", f->query, "query tokens")
        ->capture_default_str()
        ->check(integer_in(1, 4096));
    command.add_option("--batch-size", f->ppo.batch_size, "rollouts per step")
        ->capture_default_str()
        ->check(integer_in(1, 65536));
    command.add_option("--mini-batch-size", f->ppo.mini_batch_size, "rows per mini-batch")
        ->capture_default_str()
        ->check(integer_in(1, 65536));
    command.add_option("--response-length", f->ppo.response_length, "response tokens")
        ->capture_default_str()
        ->check(integer_in(1, 4096));
    command.add_option("--ppo-epochs", f->ppo.ppo_epochs, "epochs per step")
        ->capture_default_str()
        ->check(integer_in(1, 1000));
    command.add_flag("--no-torch", f->no_torch, "skip the PyTorch reference");
    command.callback([f] {
        f->ppo.validate();  // batch a multiple of mini-batch, ...
        check_shape(f->n_layer, f->n_embd, f->n_head, f->vocab, f->query + f->ppo.response_length);
        run_ppo_bench(*f);
    });
}

const bool registered = register_benchmark(
    {"ppo", "seconds per PPO step (rollout, score, optimize) on the demo shape vs PyTorch", configure});

}  // namespace
}  // namespace gradstack::apps
