// `gradstack bench gpt`: GPT-2 124M (random weights, seeded) next to PyTorch running the same math:
// a 128-token prompt forward (tokens/s), greedy decoding with the key/value cache at batch 1 and 8
// (new tokens/s), the same prompt through gpt::generate (the "prompt (gen)" row: what
// `gradstack generate --max-new-tokens 1` runs after loading), and the peak resident memory of
// each engine doing each of those in a fresh process. Timed runs of the two engines interleave,
// and medians are reported.
// Read next: apps/bench/torch_gpt.py (the PyTorch side), gpt/model.h, gpt/generation/generate.h.
#include <fmt/format.h>
#include <sys/resource.h>
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
#include "gpt/generation/generate.h"
#include "gpt/model.h"
#include "tensor/io.h"
#include "tensor/kernels/linalg.h"
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
    bool bf16 = false;            // also the rows with --dtype bf16 (against PyTorch float32)
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

// The user's path: the prompt's first token exactly as `gradstack generate --prompt-ids ...
// --max-new-tokens 1` computes it once the model is loaded, through the same call: gpt::generate
// (prompt and memory checks, eval mode without a graph, a Decoder with the cache on, the
// (1, T, V) logits, the last row checked finite, its argmax and log-probability).
Workload generate_workload(gpt::GPT2LMHeadModel& model, int64_t T, Generator& gen) {
    const std::vector<int64_t> prompt =
        to_vector<int64_t>(randint(0, model.config().vocab_size, {T}, &gen));
    return {"prompt (gen)", [&model, prompt] {
                gpt::GenerationConfig g;  // as apps/generate.cpp sets it for greedy search
                g.max_new_tokens = 1;
                g.eos_token_id = model.config().eos_token_id;
                g.bos_token_id = model.config().bos_token_id;
                auto start = std::chrono::steady_clock::now();
                auto out = gpt::generate(model, {prompt}, g);
                double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                               .count();
                return std::make_pair(s, out[0][0].new_ids);
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
void memory_child(GptFlags f) {
    set_threads(f.common.threads.back());
    // "NAME:bf16": the workload with the weight products in bfloat16.
    const bool bf16 = f.memory_child.ends_with(":bf16");
    if (bf16) f.memory_child.resize(f.memory_child.size() - 5);
    kernels::MatmulPrecisionGuard precision(bf16 ? kernels::MatmulPrecision::bf16
                                                 : kernels::MatmulPrecision::f32);
    Generator gen(0);
    gpt::GPT2LMHeadModel model(gpt2_small(), &gen);
    // "prompt", "generate" or "decodeB" (what run_gpt passes)
    if (f.memory_child == "generate") {
        // The one prompt of `gradstack generate`, as its process runs it: the first forward of a
        // fresh process, whose new memory is touched for the first time (the minor page faults).
        // Answers "peak kB,first call in microseconds,minor faults during it".
        rusage before{}, after{};
        getrusage(RUSAGE_SELF, &before);
        const double s = generate_workload(model, f.prompt_tokens, gen).run().first;
        getrusage(RUSAGE_SELF, &after);
        fmt::print("{},{},{}\n", vmhwm_kb(), static_cast<int64_t>(s * 1e6),
                   after.ru_minflt - before.ru_minflt);
        return;
    }
    const bool prompt = f.memory_child == "prompt";
    check(prompt || f.memory_child.rfind("decode", 0) == 0,
          "[bench gpt] --memory-child must be prompt, generate or decodeB, got '{}'",
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

// What a child process running memory_child answers for one workload: our peak in kB (and, for
// "generate", the first call's microseconds and minor page faults).
std::vector<int64_t> child_answer(const GptFlags& f, const std::string& workload) {
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
    const size_t expected = workload.starts_with("generate") ? 3 : 1;
    check(kb.size() == expected, "[bench gpt] memory child '{}' answered '{}', not {}", cmd,
          excerpt(answer, 40), expected == 1 ? "a size in kB" : "kB,microseconds,faults");
    return kb;
}

std::string torch_setup(const std::string& id, const std::string& workload, const GptFlags& f) {
    if (workload == "prompt") return fmt::format("prompt {} 1 {}", id, f.prompt_tokens);
    if (workload == "generate") return fmt::format("generate {} {}", id, f.prompt_tokens);
    return fmt::format("decode {} {} {} {}", id, workload.substr(6), f.decode_prompt, f.new_tokens);
}

std::string model_command() {
    gpt::GPT2Config c = gpt2_small();
    return fmt::format("model {} {} {} {} {}", c.vocab_size, c.n_positions, c.n_embd, c.n_layer,
                       c.n_head);
}

// A fresh PyTorch process that builds the model and runs the workload once; its peak RSS (and in
// *first_seconds, when given, the time of that first run).
int64_t torch_peak_kb(const GptFlags& f, const std::string& workload,
                      double* first_seconds = nullptr) {
    TorchServer torch("torch_gpt.py");
    if (!torch.ok()) return -1;
    torch.ask(fmt::format("threads {}", f.common.threads.back()));
    torch.ask(model_command());
    torch.ask(torch_setup("w", workload, f));
    const nlohmann::json run = torch.ask("run w");
    if (first_seconds) *first_seconds = run["seconds"].get<double>();
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
    fmt::print("{}\n", blas_line());
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
    // Each row: our workload, its key (memory child, PyTorch work id), tokens per run. The
    // "prompt (gen)" row comes last so that the earlier rows keep their places.
    std::vector<Workload> workloads{prompt_workload(model, f.prompt_tokens, gen)};
    std::vector<std::string> keys{"prompt"};
    std::vector<int64_t> tokens_per_run{f.prompt_tokens};
    for (int64_t B : f.batches) {
        workloads.push_back(decode_workload(model, B, f.decode_prompt, f.new_tokens, gen));
        keys.push_back(fmt::format("decode{}", B));
        tokens_per_run.push_back(B * f.new_tokens);
    }
    workloads.push_back(generate_workload(model, f.prompt_tokens, gen));
    keys.push_back("generate");
    tokens_per_run.push_back(f.prompt_tokens);
    // --bf16: the same workloads again with the weight products in bfloat16 (the weights are
    // packed on the first, untimed, run), each against PyTorch's float32 row.
    std::vector<bool> bf16_row(workloads.size(), false);
    if (f.bf16) {
        const size_t n = workloads.size();
        for (size_t w = 0; w < n; ++w) {
            Workload plain = workloads[w];
            workloads.push_back({plain.name + " bf16", [plain] {
                                     kernels::MatmulPrecisionGuard g(kernels::MatmulPrecision::bf16);
                                     return plain.run();
                                 }});
            keys.push_back(keys[w]);
            tokens_per_run.push_back(tokens_per_run[w]);
            bf16_row.push_back(true);
        }
    }

    fmt::print("\n{:<14} {:>14} {:>14} {:>7} | {:>13} {:>13} {:>7}\n", "workload",
               "gradstack tok/s", "torch tok/s", "ratio", "gradstack MB", "torch MB", "ratio");
    auto engines_of = [&](size_t w) {  // ours, then PyTorch's when it runs
        std::vector<TimedRun> engines{[&, w] { return workloads[w].run().first; }};
        if (torch.ok()) {
            torch.ask(torch_setup(keys[w], keys[w], f));
            engines.push_back(torch.run(keys[w]));
        }
        return engines;
    };
    std::vector<std::vector<double>> seconds(workloads.size());  // per row: ours[, torch's]
    std::vector<int64_t> child;   // the last memory child's answer (see child_answer)
    double torch_first = 0;       // the last fresh PyTorch process's first run, in seconds
    auto print_row = [&](size_t w) {
        const std::vector<double>& s = seconds[w];
        double ours = tokens_per_run[w] / s[0];
        double theirs = torch.ok() ? tokens_per_run[w] / s[1] : 0;
        if (f.memory) child = child_answer(f, keys[w] + (bf16_row[w] ? ":bf16" : ""));
        double ours_mb = f.memory ? child[0] / 1024.0 : 0;
        double torch_mb =
            f.memory && torch.ok() ? torch_peak_kb(f, keys[w], &torch_first) / 1024.0 : 0;
        fmt::print("{:<14} {:>14.1f} {:>14} {:>7} | {:>13} {:>13} {:>7}\n", workloads[w].name,
                   ours, theirs > 0 ? fmt::format("{:.1f}", theirs) : "-", ratio(ours, theirs),
                   ours_mb > 0 ? fmt::format("{:.0f}", ours_mb) : "-",
                   torch_mb > 0 ? fmt::format("{:.0f}", torch_mb) : "-", ratio(ours_mb, torch_mb));
        std::fflush(stdout);
    };
    // The two prompt rows (the bare forward, the same prompt through generate) are timed in one
    // set of turns, all four engines round by round, so that they compare with each other too.
    const size_t gen_row = f.bf16 ? workloads.size() / 2 - 1 : workloads.size() - 1;
    for (size_t w = 0; w < gen_row; ++w) {
        if (w == 0) {
            std::vector<TimedRun> engines = engines_of(0), with_generate = engines_of(gen_row);
            const size_t n = engines.size();
            engines.insert(engines.end(), with_generate.begin(), with_generate.end());
            const std::vector<double> s = median_seconds(engines, f.common.reps, f.common.warmup);
            seconds[0].assign(s.begin(), s.begin() + n);
            seconds[gen_row].assign(s.begin() + n, s.end());
        } else {
            seconds[w] = median_seconds(engines_of(w), f.common.reps, f.common.warmup);
        }
        print_row(w);
    }
    print_row(gen_row);
    const std::vector<int64_t> generate_child = child;
    for (size_t w = gen_row + 1; w < workloads.size(); ++w) {  // the bf16 rows
        seconds[w] = median_seconds(engines_of(w), f.common.reps, f.common.warmup);
        print_row(w);
    }
    child = generate_child;
    if (f.memory) {
        // What `gradstack generate` itself pays: its prompt is the first forward of its process.
        const double ours_first = child[1] / 1e6;
        fmt::print("prompt (gen), first call of a fresh process: gradstack {:.0f} ms ({} minor page "
                   "faults), torch {}; speed ratio {}\n",
                   ours_first * 1e3, child[2],
                   torch.ok() ? fmt::format("{:.0f} ms", torch_first * 1e3) : "-",
                   torch.ok() ? ratio(torch_first, ours_first) : "-");
    }
    fmt::print(
        "\nprompt: one forward of 1 x {} tokens (all logits); decode B=b: after a {}-token prompt "
        "(untimed), {} greedy steps with the cache, b new tokens each; prompt (gen): the same "
        "prompt length through gpt::generate with max_new_tokens 1 (what `gradstack generate` runs "
        "once loaded; PyTorch: the forward with its cache, log_softmax of the last row, argmax)."
        "\nratio = gradstack / torch "
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
    command.add_flag("--bf16", f->bf16,
                     "also each workload with --dtype bf16 (weight products in bfloat16), against "
                     "PyTorch float32");
    command.add_option("--memory-child", f->memory_child)->group("");  // internal, see above
    auto device = std::make_shared<std::string>();
    add_device_option(command, *device);
    command.callback([f, device] {
        if (*device != "cpu") return run_gpt_cuda(resolve_device(*device), f->common.reps);
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
    {"gpt",
     "GPT-2 124M prompt forward (also through generate), cached decoding (B=1, 8) and peak "
     "memory vs PyTorch",
     configure});

}  // namespace
}  // namespace gradstack::apps
