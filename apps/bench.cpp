// The `bench` subcommand: finds the named benchmark in the table (see bench.h) and runs it, plus
// the helpers the benchmarks share (median timer, thread count, the PyTorch reference runner).
// Read next: bench_tensor.cpp, the first benchmark.
#include "apps/bench.h"

#include <fmt/format.h>
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/command.h"
#include "tensor/error.h"

#ifndef GRADSTACK_SOURCE_DIR
#define GRADSTACK_SOURCE_DIR ""
#endif

namespace gradstack::apps {

namespace {

std::vector<Benchmark>& benchmark_table() {
    static std::vector<Benchmark> table;
    return table;
}

int run_bench(int argc, char** argv) {
    CLI::App app{"Runs a benchmark and prints its figures and ratios to the best other engine.",
                 "gradstack bench"};
    app.require_subcommand(1);
    auto list = benchmark_table();
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.name < b.name; });
    for (const Benchmark& b : list) b.configure(*app.add_subcommand(b.name, b.summary));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return 0;
}

const bool registered = register_command(
    {"bench", "speed figures: gradstack bench tensor (matmul, memory-bound ops) ...", run_bench});

}  // namespace

bool register_benchmark(Benchmark benchmark) {
    benchmark_table().push_back(std::move(benchmark));
    return true;
}

void add_bench_flags(CLI::App& command, BenchFlags& flags) {
    command.add_option("--threads", flags.threads, "OpenMP thread counts to run at, e.g. 1,2")
        ->delimiter(',')
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    command.add_option("--reps", flags.reps, "timed repetitions per figure (median reported)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    command.add_option("--warmup", flags.warmup, "untimed runs before the timed ones")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
}

double median_seconds(const std::function<void()>& fn, int reps, int warmup) {
    return median_seconds(std::vector<std::function<void()>>{fn}, reps, warmup)[0];
}

std::vector<double> median_seconds(const std::vector<std::function<void()>>& fns, int reps,
                                   int warmup) {
    for (const auto& fn : fns)
        for (int i = 0; i < warmup; ++i) fn();
    std::vector<std::vector<double>> times(fns.size());
    for (int i = 0; i < reps; ++i) {
        for (size_t f = 0; f < fns.size(); ++f) {
            auto start = std::chrono::steady_clock::now();
            fns[f]();
            auto stop = std::chrono::steady_clock::now();
            times[f].push_back(std::chrono::duration<double>(stop - start).count());
        }
    }
    std::vector<double> medians;
    for (auto& t : times) {
        std::sort(t.begin(), t.end());
        size_t n = t.size();
        medians.push_back(n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]));
    }
    return medians;
}

void set_threads(int threads) {
    omp_set_num_threads(threads);
    Eigen::setNbThreads(threads);
}

std::optional<std::string> find_bench_script(const std::string& name) {
    namespace fs = std::filesystem;
    std::vector<fs::path> candidates;
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        fs::path bin = exe.parent_path();
        candidates.push_back(bin / "../../apps/bench" / name);         // build/bin in the source
        candidates.push_back(bin / "../share/gradstack/bench" / name);  // installed
    }
    if (std::string(GRADSTACK_SOURCE_DIR).size())
        candidates.push_back(fs::path(GRADSTACK_SOURCE_DIR) / "apps/bench" / name);
    for (const fs::path& p : candidates)
        if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
    return std::nullopt;
}

std::optional<nlohmann::json> run_torch_script(const std::string& script_name,
                                               const std::string& args) {
    std::optional<std::string> script = find_bench_script(script_name);
    if (!script) {
        fmt::print("PyTorch: skipped ({} not found next to the binary or in {})\n", script_name,
                   GRADSTACK_SOURCE_DIR);
        return std::nullopt;
    }
    if (!std::filesystem::exists("/usr/bin/python3")) {
        fmt::print("PyTorch: skipped (/usr/bin/python3 not found)\n");
        return std::nullopt;
    }
    std::string command = fmt::format(
        "env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2 "
        "/usr/bin/python3 '{}' {}",
        *script, args);
    std::FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
        fmt::print("PyTorch: skipped (could not run {})\n", command);
        return std::nullopt;
    }
    std::string out;
    char buffer[4096];
    while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    int status = pclose(pipe);
    if (status != 0) {
        fmt::print("PyTorch: skipped ({} exited with status {})\n", *script, status);
        return std::nullopt;
    }
    try {
        return nlohmann::json::parse(out);
    } catch (const nlohmann::json::exception& e) {
        fmt::print("PyTorch: skipped (could not parse the output of {}: {})\n", *script, e.what());
        return std::nullopt;
    }
}

}  // namespace gradstack::apps
