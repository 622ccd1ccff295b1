// `gradstack bench NAME`: a table of named benchmarks. Each benchmark lives in its own file
// (bench_tensor.cpp, ...) and registers itself with one line at namespace scope:
//     const bool registered = register_benchmark({"tensor", "matmul and memory-bound ops", configure});
// This header also holds what every benchmark shares: the --threads/--reps flags, the median
// timer, and running a Python reference script (PyTorch) that prints JSON.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

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

// Runs fn `warmup` times, then `reps` timed times; returns the median time in seconds.
double median_seconds(const std::function<void()>& fn, int reps, int warmup);
// The same for several engines doing the same work, taken in turns (one rep of each, then the
// next round), so that a burst of load from other processes hits all of them alike.
std::vector<double> median_seconds(const std::vector<std::function<void()>>& fns, int reps,
                                   int warmup);

// Sets OpenMP's (and so OpenBLAS's) thread count for what follows.
void set_threads(int threads);

// A reference script shipped in apps/bench/ (e.g. "torch_tensor.py"), looked up next to the
// binary's source tree (build/bin/../../apps/bench), in share/gradstack/bench, and in the source
// dir compiled in; nullopt when none exists.
std::optional<std::string> find_bench_script(const std::string& name);

// The fair PyTorch baseline (see /work/shared/BENCHMARKS.md): Debian's python3-torch on the
// OpenMP build of OpenBLAS with OMP_NUM_THREADS=2. Runs `/usr/bin/python3 script args` that way
// and parses its stdout as JSON. Returns nullopt (after printing why) when the script cannot run;
// a script that finds no torch prints {"skipped": "reason"}, which is returned as is.
std::optional<nlohmann::json> run_torch_script(const std::string& script_name,
                                               const std::string& args);

}  // namespace gradstack::apps
