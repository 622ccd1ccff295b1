// `gradstack bench gpt`: GPT-2 124M (random weights, seeded) next to PyTorch running the same math:
// a 128-token prompt forward (tokens/s), greedy decoding with the key/value cache at batch 1 and 8
// (new tokens/s), and the peak resident memory of each engine doing each of those in a fresh
// process. Timed runs of the two engines interleave, and medians are reported.
// Read next: apps/bench/torch_gpt.py (the PyTorch side), gpt/model.h.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "apps/bench.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/reduce.h"
#include "gpt/generation/memory.h"
#include "gpt/model.h"
#include "tensor/io.h"
#include "tensor/random.h"

namespace gradstack::apps {
namespace {

struct GptFlags {
    BenchFlags common;
    int64_t prompt_tokens = 128;  // the prompt-forward workload
    int64_t decode_prompt = 32;   // the decoding workload: this many prompt tokens, then
    int64_t new_tokens = 64;      // this many greedy steps, each one cached forward
    std::vector<int64_t> batches{1, 8};
    bool memory = true;           // also measure peak memory (in child processes)
    std::string memory_child;     // internal: run one workload, print the peak RSS, exit
};

gpt::GPT2Config gpt2_small() {
    gpt::GPT2Config c;  // GPT-2 124M: vocab 50257, 1024 positions, 768 wide, 12 layers and heads
    c.vocab_size = 50257;
    c.n_positions = 1024;
    c.n_embd = 768;
    c.n_layer = 12;
    c.n_head = 12;
    c.resid_pdrop = c.embd_pdrop = c.attn_pdrop = 0;
    return c;
}

int64_t vmhwm_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
    return -1;
}

// One workload of ours. run() returns the seconds it timed and the first sequence's new tokens.
struct Workload {
    std::string name;
    std::function<std::pair<double, std::vector<int64_t>>()> run;
};

Workload prompt_workload(gpt::GPT2LMHeadModel& model, int64_t T, Generator& gen) {
    Tensor ids = randint(0, model.config().vocab_size, {1, T}, &gen);
    return {"prompt", [&model, ids, T] {
                NoGradGuard no_grad;
                gpt::ForwardOptions o;
                o.use_cache = false;
                auto start = std::chrono::steady_clock::now();
                Tensor logits = model.forward(ids, o).logits;
                double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                               .count();
                Tensor next = argmax(select(logits, 1, T - 1), -1);
                return std::make_pair(s, std::vector<int64_t>{next.item<int64_t>()});
            }};
}

// Greedy decoding: the prompt forward (untimed) fills the cache, then each timed step feeds the
// argmax of the last logits back with the cache, as torch_gpt.py's loop does.
Workload decode_workload(gpt::GPT2LMHeadModel& model, int64_t B, int64_t P, int64_t N,
                         Generator& gen) {
    Tensor ids = randint(0, model.config().vocab_size, {B, P}, &gen);
    return {fmt::format("decode B={}", B), [&model, ids, N] {
                NoGradGuard no_grad;
                gpt::ForwardOutput out = model.forward(ids);
                auto start = std::chrono::steady_clock::now();
                std::vector<int64_t> tokens;
                for (int64_t i = 0; i < N; ++i) {
                    Tensor last = select(out.logits, 1, out.logits.size(1) - 1);  // (B, V)
                    Tensor next = unsqueeze(argmax(last, -1), 1);                   // (B, 1)
                    tokens.push_back(element_at(next, {0, 0}));
                    gpt::ForwardOptions o;
                    o.past = std::move(out.presents);
                    out = model.forward(next, o);
                }
                double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                               .count();
                return std::make_pair(s, tokens);
            }};
}

// Internal mode (--memory-child NAME): build the model, run one workload once, print the peak
// resident set in kB. Each engine's memory is measured in a fresh process of its own.
void memory_child(const GptFlags& f) {
    set_threads(f.common.threads.back());
    Generator gen(0);
    gpt::GPT2LMHeadModel model(gpt2_small(), &gen);
    // "prompt" or "decodeB" (what run_gpt passes)
    const bool prompt = f.memory_child == "prompt";
    check(prompt || f.memory_child.rfind("decode", 0) == 0,
          "[bench gpt] --memory-child must be prompt or decodeB, got '{}'",
          excerpt(f.memory_child, 40));
    const std::vector<int64_t> batch =
        prompt ? std::vector<int64_t>{} : parse_ids(f.memory_child.substr(6), "--memory-child");
    check(prompt || (batch.size() == 1 && batch[0] >= 1),
          "[bench gpt] --memory-child decodeB needs one batch size B >= 1, got '{}'",
          excerpt(f.memory_child, 40));
    Workload w = prompt ? prompt_workload(model, f.prompt_tokens, gen)
                        : decode_workload(model, batch[0], f.decode_prompt, f.new_tokens, gen);
    w.run();
    fmt::print("{}\n", vmhwm_kb());
}

// Our peak for one workload, from a child process running memory_child.
int64_t our_peak_kb(const GptFlags& f, const std::string& workload) {
    std::string cmd = fmt::format(
        "/proc/{}/exe bench gpt --threads {} --prompt-tokens {} --decode-prompt {} "
        "--new-tokens {} --memory-child '{}'",
        getpid(), f.common.threads.back(), f.prompt_tokens, f.decode_prompt, f.new_tokens,
        workload);
    std::FILE* p = popen(cmd.c_str(), "r");
    check(p != nullptr, "[bench gpt] could not run '{}'", cmd);
    char buffer[64] = {};
    bool got = std::fgets(buffer, sizeof buffer, p) != nullptr;
    int rc = pclose(p);
    check(got && rc == 0, "[bench gpt] memory child '{}' failed (exit {})", cmd, rc);
    const std::string answer = std::string(buffer).substr(0, std::string(buffer).find('\n'));
    const std::vector<int64_t> kb = parse_ids(answer, "[bench gpt] the memory child's answer");
    check(kb.size() == 1, "[bench gpt] memory child '{}' answered '{}', not a size in kB", cmd,
          excerpt(answer, 40));
    return kb[0];
}

std::string torch_setup(const std::string& id, const std::string& workload, const GptFlags& f) {
    if (workload == "prompt") return fmt::format("prompt {} 1 {}", id, f.prompt_tokens);
    return fmt::format("decode {} {} {} {}", id, workload.substr(6), f.decode_prompt, f.new_tokens);
}

std::string model_command() {
    gpt::GPT2Config c = gpt2_small();
    return fmt::format("model {} {} {} {} {}", c.vocab_size, c.n_positions, c.n_embd, c.n_layer,
                       c.n_head);
}

// A fresh PyTorch process that builds the model and runs the workload once; its peak RSS.
int64_t torch_peak_kb(const GptFlags& f, const std::string& workload) {
    TorchServer torch("torch_gpt.py");
    if (!torch.ok()) return -1;
    torch.ask(fmt::format("threads {}", f.common.threads.back()));
    torch.ask(model_command());
    torch.ask(torch_setup("w", workload, f));
    torch.ask("run w");
    return torch.ask("memory")["vmhwm_kb"].get<int64_t>();
}

std::string ratio(double ours, double theirs) {
    return theirs > 0 ? fmt::format("{:.2f}", ours / theirs) : "-";
}

void run_gpt(const GptFlags& f) {
    if (!f.memory_child.empty()) return memory_child(f);
    const int threads = f.common.threads.back();
    set_threads(threads);
    fmt::print("gradstack bench gpt: GPT-2 124M shape, random weights (seed 0), float32, {} threads, "
               "median of {} after {} warm-ups\n",
               threads, f.common.reps, f.common.warmup);
    TorchServer torch("torch_gpt.py");
    if (torch.ok()) {
        fmt::print("PyTorch {} (OpenBLAS OpenMP build, OMP_NUM_THREADS=2), timed in turns\n",
                   torch.hello()["version"].get<std::string>());
        torch.ask(fmt::format("threads {}", threads));
        torch.ask(model_command());
    } else {
        fmt::print("PyTorch: skipped ({})\n", torch.why());
    }

    Generator gen(0);
    gpt::GPT2LMHeadModel model(gpt2_small(), &gen);
    std::vector<Workload> workloads{prompt_workload(model, f.prompt_tokens, gen)};
    std::vector<int64_t> tokens_per_run{f.prompt_tokens};
    for (int64_t B : f.batches) {
        workloads.push_back(decode_workload(model, B, f.decode_prompt, f.new_tokens, gen));
        tokens_per_run.push_back(B * f.new_tokens);
    }

    fmt::print("\n{:<14} {:>14} {:>14} {:>7} | {:>13} {:>13} {:>7}\n", "workload",
               "gradstack tok/s", "torch tok/s", "ratio", "gradstack MB", "torch MB", "ratio");
    for (size_t w = 0; w < workloads.size(); ++w) {
        const std::string id = workloads[w].name == "prompt" ? "prompt" : workloads[w].name;
        const std::string workload =
            w == 0 ? "prompt" : fmt::format("decode{}", f.batches[w - 1]);
        std::vector<TimedRun> engines{[&, w] { return workloads[w].run().first; }};
        if (torch.ok()) {
            torch.ask(torch_setup(workload, workload, f));
            engines.push_back(torch.run(workload));
        }
        std::vector<double> s = median_seconds(engines, f.common.reps, f.common.warmup);
        double ours = tokens_per_run[w] / s[0];
        double theirs = torch.ok() ? tokens_per_run[w] / s[1] : 0;
        double ours_mb = f.memory ? our_peak_kb(f, workload) / 1024.0 : 0;
        double torch_mb = f.memory && torch.ok() ? torch_peak_kb(f, workload) / 1024.0 : 0;
        fmt::print("{:<14} {:>14.1f} {:>14} {:>7} | {:>13} {:>13} {:>7}\n", id, ours,
                   theirs > 0 ? fmt::format("{:.1f}", theirs) : "-", ratio(ours, theirs),
                   ours_mb > 0 ? fmt::format("{:.0f}", ours_mb) : "-",
                   torch_mb > 0 ? fmt::format("{:.0f}", torch_mb) : "-", ratio(ours_mb, torch_mb));
        std::fflush(stdout);
    }
    fmt::print(
        "\nprompt: one forward of 1 x {} tokens (all logits); decode B=b: after a {}-token prompt "
        "(untimed), {} greedy steps with the cache, b new tokens each.\nratio = gradstack / torch "
        "(speed: higher is better; memory: peak RSS of a fresh process doing that workload, "
        "model included, lower is better).\n",
        f.prompt_tokens, f.decode_prompt, f.new_tokens);
}

void configure(CLI::App& command) {
    auto f = std::make_shared<GptFlags>();
    f->common.threads = {2};  // the fair PyTorch baseline runs on 2 threads
    f->common.reps = 5;
    f->common.warmup = 1;
    add_bench_flags(command, f->common);
    command.add_option("--prompt-tokens", f->prompt_tokens, "tokens of the prompt forward")
        ->check(integer_in(1, 1024))
        ->capture_default_str();
    command.add_option("--decode-prompt", f->decode_prompt, "prompt tokens before decoding")
        ->check(integer_in(1, 1024))
        ->capture_default_str();
    command.add_option("--new-tokens", f->new_tokens, "greedy steps timed when decoding")
        ->check(integer_in(1, 1023))
        ->capture_default_str();
    command.add_option("--batches", f->batches, "decoding batch sizes")
        ->delimiter(',')
        ->check(integer_in(1, 4096))
        ->capture_default_str();
    command.add_flag("!--no-memory", f->memory, "skip the peak-memory measurements");
    command.add_option("--memory-child", f->memory_child)->group("");  // internal, see above
    command.callback([f] {
        check(f->decode_prompt + f->new_tokens <= 1024,
              "[bench gpt] --decode-prompt {} + --new-tokens {} exceed GPT-2's 1024 positions",
              f->decode_prompt, f->new_tokens);
        for (int64_t B : f->batches) {  // each decoding batch is B rows of cache and logits
            gpt::GenerationConfig g;
            g.max_new_tokens = f->new_tokens;
            const auto e = gpt::estimate_generation_memory(gpt2_small(), g, B, f->decode_prompt);
            gpt::check_memory(e.total(), "bench gpt",
                              fmt::format("--batches {}: cache and logits of {} rows", B, B),
                              "lower --batches or --decode-prompt");
        }
        run_gpt(*f);
    });
}

const bool registered = register_benchmark(
    {"gpt", "GPT-2 124M prompt forward, cached decoding (B=1, 8) and peak memory vs PyTorch",
     configure});

}  // namespace
}  // namespace gradstack::apps
