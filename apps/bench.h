// `gradstack bench NAME`: a table of named benchmarks. Each benchmark lives in its own file
// (bench_tensor.cpp, ...) and registers itself with one line at namespace scope:
//     const bool registered = register_benchmark({"tensor", "matmul and ...", configure});
// This header also holds what every benchmark shares: the --threads/--reps flags, the median
// timer (engines timed in turns), and a PyTorch reference script run as a server.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli_common.h"

namespace gradstack::apps {

struct Benchmark {
    std::string name;     // gradstack bench NAME
    std::string summary;  // one line for --help
    // Adds the benchmark's flags to its CLI11 subcommand and sets the callback that runs it.
    void (*configure)(CLI::App& command);
};

bool register_benchmark(Benchmark benchmark);

// Flags most benchmarks take: --threads 1,2 (OpenMP thread counts to run at) and --reps N.
struct BenchFlags {
    std::vector<int> threads{1, 2};
    int reps = 7;
    int warmup = 2;
};
void add_bench_flags(CLI::App& command, BenchFlags& flags);

// --n-layer, --n-embd, --n-head of the random GPT-2 a benchmark builds, range-checked as they are
// parsed (apps/cli_common.h); check_shape, called first thing in the benchmark, refuses an n_embd
// that is not a multiple of n_head and weights that would not fit in memory.
void add_shape_flags(CLI::App& command, int64_t& n_layer, int64_t& n_embd, int64_t& n_head);
void check_shape(int64_t n_layer, int64_t n_embd, int64_t n_head, int64_t vocab_size,
                 int64_t n_positions);

// One run of an engine that reports its own time in seconds (see timed()).
using TimedRun = std::function<double()>;
// Wraps work done in this process: the wall time of one call of fn.
TimedRun timed(std::function<void()> fn);

// Runs fn `warmup` times, then `reps` timed times; returns the median time in seconds.
double median_seconds(const TimedRun& fn, int reps, int warmup);
// The same for several engines doing the same work, taken in turns (one rep of each, then the
// next round), so that a burst of load from other processes hits all of them alike.
std::vector<double> median_seconds(const std::vector<TimedRun>& fns, int reps, int warmup);

// "OpenBLAS kernels: Cooperlake (...)": which OpenBLAS kernels run (tensor/cpu/blas_core.h), and
// why when gradstack chose them; every benchmark prints it under its title.
std::string blas_line();

// Sets OpenMP's (and so OpenBLAS's) thread count for what follows.
void set_threads(int threads);

// A reference script shipped in apps/bench/ (e.g. "torch_tensor.py"), looked up next to the
// binary's source tree (build/bin/../../apps/bench), in share/gradstack/bench, and in the source
// dir compiled in; nullopt when none exists.
std::optional<std::string> find_bench_script(const std::string& name);

// A PyTorch reference script running as a server (apps/bench/torch_*.py): one command line in,
// one JSON line out, so that its timed runs can interleave with ours. It runs the fair PyTorch
// baseline (the BLAS and thread count gradstack uses): Debian's python3-torch (/usr/bin/python3) on the
// OpenMP build of OpenBLAS with OMP_NUM_THREADS=2 (GRADSTACK_PYTHON=/path/to/python picks another
// interpreter, e.g. a GPU machine's PyTorch with CUDA).
class TorchServer {
  public:
    // Starts the script. Check ok() afterwards: when the script, python3 or torch is missing,
    // why() says so and every other call is refused.
    explicit TorchServer(const std::string& script_name);
    ~TorchServer();
    TorchServer(const TorchServer&) = delete;
    TorchServer& operator=(const TorchServer&) = delete;

    bool ok() const { return ok_; }
    const std::string& why() const { return why_; }
    const nlohmann::json& hello() const { return hello_; }  // the first line, e.g. the version
    // Sends one command line and returns the parsed answer; throws gradstack::Error on failure.
    nlohmann::json ask(const std::string& command);
    // A TimedRun for "run ID": the time the script measured for one run of its work ID.
    TimedRun run(const std::string& id);

  private:
    bool ok_ = false;
    std::string why_;
    nlohmann::json hello_;
    int pid_ = -1;
    std::FILE* to_ = nullptr;
    std::FILE* from_ = nullptr;
};

// The GPU rows of `bench gpt --device cuda` and `bench train --device cuda` (bench_cuda.cpp): ours
// beside PyTorch eager on the same GPU (apps/bench/torch_cuda.py) in float32, TF32 and bf16.
void run_gpt_cuda(Device device, int reps);
void run_train_cuda(Device device, int64_t batch, int64_t context, int reps);

}  // namespace gradstack::apps
