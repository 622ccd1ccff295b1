// The `bench` subcommand: finds the named benchmark in the table (see bench.h) and runs it, plus
// the helpers the benchmarks share (median timer, thread count, the PyTorch reference runner).
// Read next: bench_tensor.cpp, the first benchmark.
#include "apps/bench.h"

#include <fmt/format.h>
#include <omp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "gpt/generation/memory.h"
#include "tensor/cpu/blas_core.h"
#include "tensor/cpu/blocked_gemm.h"
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
    if (auto rc = parse_flags(app, argc, argv)) return *rc;  // (the benchmark runs in its callback)
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
        ->check(integer_in(1, 1024))
        ->capture_default_str();
    command.add_option("--reps", flags.reps, "timed repetitions per figure (median reported)")
        ->check(integer_in(1, 1'000'000))
        ->capture_default_str();
    command.add_option("--warmup", flags.warmup, "untimed runs before the timed ones")
        ->check(integer_in(0, 1'000'000))
        ->capture_default_str();
}

void add_shape_flags(CLI::App& command, int64_t& n_layer, int64_t& n_embd, int64_t& n_head) {
    command.add_option("--n-layer", n_layer, "model depth")
        ->capture_default_str()
        ->check(integer_in(1, 256));
    command.add_option("--n-embd", n_embd, "model width (a multiple of --n-head)")
        ->capture_default_str()
        ->check(integer_in(1, 65536));
    command.add_option("--n-head", n_head, "attention heads")
        ->capture_default_str()
        ->check(integer_in(1, 1024));
}

void check_shape(int64_t n_layer, int64_t n_embd, int64_t n_head, int64_t vocab_size,
                 int64_t n_positions) {
    check(n_embd % n_head == 0, "[bench] --n-embd {} must be a multiple of --n-head {}", n_embd,
          n_head);
    // 12 C^2 per block (attention 4 C^2, MLP 8 C^2) plus the embeddings, float32, and as much
    // again for gradients or a reference copy.
    const double C = static_cast<double>(n_embd);
    const double weights = (12.0 * C * C * static_cast<double>(n_layer) +
                            C * static_cast<double>(vocab_size + n_positions)) * 4.0;
    gpt::check_memory(2.0 * weights, "bench",
                      fmt::format("the weights of n_layer {} x n_embd {}", n_layer, n_embd),
                      "lower --n-layer or --n-embd");
}

TimedRun timed(std::function<void()> fn) {
    return [fn = std::move(fn)] {
        auto start = std::chrono::steady_clock::now();
        fn();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
}

double median_seconds(const TimedRun& fn, int reps, int warmup) {
    return median_seconds(std::vector<TimedRun>{fn}, reps, warmup)[0];
}

std::vector<double> median_seconds(const std::vector<TimedRun>& fns, int reps, int warmup) {
    for (const auto& fn : fns)
        for (int i = 0; i < warmup; ++i) fn();
    std::vector<std::vector<double>> times(fns.size());
    for (int i = 0; i < reps; ++i)
        for (size_t f = 0; f < fns.size(); ++f) times[f].push_back(fns[f]());
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
        candidates.push_back(bin / "../../apps/bench" / name);          // build/bin in the source
        candidates.push_back(bin / "../share/gradstack/bench" / name);  // installed
    }
    if (std::string(GRADSTACK_SOURCE_DIR).size())
        candidates.push_back(fs::path(GRADSTACK_SOURCE_DIR) / "apps/bench" / name);
    for (const fs::path& p : candidates)
        if (fs::exists(p, ec)) return fs::weakly_canonical(p, ec).string();
    return std::nullopt;
}

std::string blas_line() {
    const std::string note = cpu::blas_core_note();
    return fmt::format("OpenBLAS kernels: {}{}", cpu::blas_core(),
                       note.empty() ? ""
                                    : fmt::format(" ({}; PyTorch's OpenBLAS gets the same, through "
                                                  "OPENBLAS_CORETYPE)",
                                                  note)) +
           fmt::format("\nfloat32 GEMM: {}", cpu::f32_gemm_note());
}

TorchServer::TorchServer(const std::string& script_name) {
    std::optional<std::string> script = find_bench_script(script_name);
    if (!script) {
        why_ = fmt::format("{} not found next to the binary or in {}/apps/bench", script_name,
                           GRADSTACK_SOURCE_DIR);
        return;
    }
    // Debian's python3 (the fair baseline, python3-torch) unless GRADSTACK_PYTHON names another
    // one: a GPU machine's PyTorch with CUDA lives in its own Python (scripts/gpu_check.sh).
    const char* chosen = std::getenv("GRADSTACK_PYTHON");
    std::string python = chosen && *chosen ? chosen : "/usr/bin/python3";
    if (!std::filesystem::exists(python)) {
        why_ = fmt::format("{} not found", python);
        return;
    }
    std::signal(SIGPIPE, SIG_IGN);  // a script that exits early must not kill us on write
    int in[2], out[2];              // in: we write, the script reads; out: the reverse
    if (pipe(in) != 0 || pipe(out) != 0) {
        why_ = "pipe() failed";
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&actions, fd);
    std::vector<std::string> args{"/usr/bin/env",
                                  "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp",
                                  "OMP_NUM_THREADS=2", python, *script};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    to_ = fdopen(in[1], "w");
    from_ = fdopen(out[0], "r");
    if (rc != 0) {
        why_ = fmt::format("could not start {}: {}", *script, std::strerror(rc));
        return;
    }
    pid_ = pid;
    ok_ = true;
    try {
        hello_ = ask("");  // the script speaks first; an empty line is ignored by it
    } catch (const Error& e) {
        ok_ = false;
        why_ = e.what();
        return;
    }
    if (hello_.contains("skipped")) {
        ok_ = false;
        why_ = hello_["skipped"].get<std::string>();
    }
}

TorchServer::~TorchServer() {
    if (to_) {
        std::fputs("quit\n", to_);
        std::fclose(to_);
    }
    if (from_) std::fclose(from_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
}

nlohmann::json TorchServer::ask(const std::string& command) {
    check(ok_, "[bench] PyTorch reference is not running: {}", why_);
    if (!command.empty()) {
        std::fputs((command + "\n").c_str(), to_);
        std::fflush(to_);
    }
    std::string line;
    char buffer[4096];
    while (std::fgets(buffer, sizeof buffer, from_)) {
        line += buffer;
        if (!line.empty() && line.back() == '\n') break;
    }
    check(!line.empty(), "[bench] the PyTorch reference script stopped answering (after '{}')",
          command);
    nlohmann::json answer = nlohmann::json::parse(line, nullptr, false);
    check(!answer.is_discarded() && !answer.contains("error"),
          "[bench] the PyTorch reference script answered '{}' to '{}'", line, command);
    return answer;
}

TimedRun TorchServer::run(const std::string& id) {
    return [this, id] { return ask("run " + id)["seconds"].get<double>(); };
}

}  // namespace gradstack::apps
