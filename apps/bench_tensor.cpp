// `gradstack bench tensor`: float32 matmul GFLOP/s at GPT-2 shapes next to raw OpenBLAS, Eigen
// and PyTorch, and GB/s of memory-bound ops next to the machine's copy bandwidth. Every figure is
// a median after warm-ups, measured in this run, so the ratios are what to read.
// Read next: apps/bench/torch_tensor.py (the PyTorch side), tensor/cpu/matmul.cpp.
#include <cblas.h>
#include <fmt/format.h>
#include <omp.h>

#include <cstring>

// GCC 12 reports false "may be used uninitialized" warnings inside its own AVX-512 intrinsics
// when it inlines Eigen's float GEMM kernels; the pragma must precede the first include of them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>

#include "apps/bench.h"
#include "autograd/ops.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/linalg.h"

namespace gradstack::apps {
namespace {

// The matmul shapes: [M, K] @ [K, N] with K = 768 (GPT-2 small's width); N = 768 (attention
// projection), 2304 (qkv), 3072 (MLP); M = 512 and 4096 rows of tokens.
constexpr int64_t kK = 768;
constexpr int64_t kRows[] = {512, 4096};
constexpr int64_t kCols[] = {768, 2304, 3072};

// b's layout: "KN" is b stored [K, N]; "NK" is b = W^T with W stored [N, K] (nn.Linear weights).
constexpr const char* kLayouts[] = {"KN", "NK"};

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

double gflops(int64_t M, int64_t N, int64_t K, double seconds) {
    return 2.0 * M * N * K / seconds * 1e-9;
}

std::string cell(double v) {
    return v > 0 ? fmt::format("{:.0f}", v) : "-";
}

void matmul_table(const BenchFlags& flags, TorchServer& torch) {
    fmt::print("\nfloat32 matmul [M, {}] @ b, GFLOP/s (median of {} after {} warm-ups)\n", kK,
               flags.reps, flags.warmup);
    fmt::print("  b KN: b stored [K, N]; b NK: b = W^T with W stored [N, K] (a linear weight)\n");
    fmt::print(
        "  gradstack: matmul(a, b), a fresh result each call (like torch.matmul); into: the\n"
        "  kernel writing a preallocated result (like cblas, eigen)\n");
    fmt::print("  ratio = gradstack / engine; best = the fastest other engine\n");
    fmt::print("{:>3} {:>5} {:>5} {:>3} | {:>9} {:>5} {:>6} {:>6} {:>6} | {:>8} {:>8} {:>8}\n",
               "thr", "M", "N", "b", "gradstack", "into", "cblas", "eigen", "torch", "vs cblas",
               "vs torch", "vs best");
    for (int threads : flags.threads) {
        set_threads(threads);
        if (torch.ok()) torch.ask(fmt::format("threads {}", threads));
        for (int64_t M : kRows) {
            for (int64_t N : kCols) {
                for (const std::string layout : kLayouts) {
                    const bool nk = layout == "NK";
                    Tensor a = randn({M, kK});
                    Tensor w = nk ? randn({N, kK}) : randn({kK, N});
                    Tensor b = nk ? transpose(w, 0, 1) : w;  // a view: no copy
                    Tensor c = empty({M, N});
                    const float* pa = a.data<float>();
                    const float* pw = w.data<float>();
                    float* pc = c.data<float>();
                    auto ours = timed([&] { Tensor y = matmul(a, b); });
                    auto ours_into = timed([&] { kernels::matmul(c, a, b, false); });
                    auto blas = timed([&] {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, nk ? CblasTrans : CblasNoTrans, M,
                                    N, kK, 1.0f, pa, kK, pw, nk ? kK : N, 0.0f, pc, N);
                    });
                    Eigen::Map<const RowMajor> ea(pa, M, kK), ew(pw, nk ? N : kK, nk ? kK : N);
                    Eigen::Map<RowMajor> ec(pc, M, N);
                    auto eigen = timed([&] {
                        if (nk)
                            ec.noalias() = ea * ew.transpose();
                        else
                            ec.noalias() = ea * ew;
                    });
                    std::vector<TimedRun> engines{ours, ours_into, blas, eigen};
                    if (torch.ok()) {
                        torch.ask(fmt::format("matmul mm {} {} {} {}", M, kK, N, layout));
                        engines.push_back(torch.run("mm"));
                    }
                    std::vector<double> s = median_seconds(engines, flags.reps, flags.warmup);
                    double g_ours = gflops(M, N, kK, s[0]), g_into = gflops(M, N, kK, s[1]);
                    double g_blas = gflops(M, N, kK, s[2]), g_eigen = gflops(M, N, kK, s[3]);
                    double g_torch = torch.ok() ? gflops(M, N, kK, s[4]) : 0;
                    double best = std::max({g_blas, g_eigen, g_torch});
                    fmt::print(
                        "{:>3} {:>5} {:>5} {:>3} | {:>9.0f} {:>5.0f} {:>6} {:>6} {:>6} | "
                        "{:>8.2f} {:>8} {:>8.2f}\n",
                        threads, M, N, layout, g_ours, g_into, cell(g_blas), cell(g_eigen),
                        cell(g_torch), g_ours / g_blas,
                        g_torch > 0 ? fmt::format("{:.2f}", g_ours / g_torch) : "-", g_ours / best);
                }
            }
        }
    }
}

// The memory-bound table. Each row times one op and reports bytes moved per second, next to the
// machine's copy bandwidth (memcpy of the same tensor, split over the threads) measured first.
class BandwidthTable {
  public:
    BandwidthTable(const BenchFlags& flags, int threads) : flags_(flags), threads_(threads) {}

    // The hook: one row named `name` for `fn`, which moves `bytes` bytes per call (reads plus
    // writes). Returns the GB/s. The first row should be the copy reference.
    double row(const std::string& name, int64_t bytes, const std::function<void()>& fn) {
        return timed_row(name, bytes, timed(fn));
    }

    // The same for a run that times itself (the PyTorch reference).
    double timed_row(const std::string& name, int64_t bytes, const TimedRun& run) {
        double seconds = median_seconds(run, flags_.reps, flags_.warmup);
        double gbps = static_cast<double>(bytes) / seconds * 1e-9;
        if (copy_gbps_ == 0) copy_gbps_ = gbps;
        fmt::print("{:>3}  {:<32} {:>7.1f} {:>8.2f}\n", threads_, name, gbps, gbps / copy_gbps_);
        return gbps;
    }

  private:
    const BenchFlags& flags_;
    int threads_;
    double copy_gbps_ = 0;
};

void memory_table(const BenchFlags& flags, TorchServer& torch) {
    const Shape shape{4096, kK};
    const int64_t n = numel(shape), f32 = 4;
    fmt::print(
        "\nmemory-bound float32 ops on {}, GB/s (bytes read + written per second); "
        "vs copy = GB/s / memcpy GB/s\n",
        shape_str(shape));
    fmt::print("{:>3}  {:<32} {:>7} {:>8}\n", "thr", "op", "GB/s", "vs copy");
    for (int threads : flags.threads) {
        set_threads(threads);
        BandwidthTable t(flags, threads);
        Tensor x = randn(shape), y = randn(shape), dst = empty(shape);
        const char* src = static_cast<const char*>(x.raw_data());
        char* out = static_cast<char*>(dst.raw_data());
        const int64_t nbytes = n * f32;
        t.row("memcpy (reference)", 2 * nbytes, [&] {
        // One contiguous chunk per thread, as a parallel copy kernel would split it.
#pragma omp parallel
            {
                int64_t parts = omp_get_num_threads(), i = omp_get_thread_num();
                int64_t lo = nbytes * i / parts, hi = nbytes * (i + 1) / parts;
                std::memcpy(out + lo, src + lo, hi - lo);
            }
        });
        t.row("copy_ (gradstack)", 2 * nbytes, [&] { kernels::copy_(dst, x); });
        t.row("add (x + y, new tensor)", 3 * nbytes, [&] { Tensor z = x + y; });
        Tensor w = randn({kK}), b = randn({kK});
        t.row("softmax (last dim)", 2 * nbytes, [&] { Tensor z = softmax(x, -1); });
        t.row("layer_norm (last dim)", 2 * nbytes, [&] { Tensor z = layer_norm(x, w, b, 1e-5); });
        if (torch.ok()) {
            torch.ask(fmt::format("threads {}", threads));
            for (const char* op : {"add", "softmax", "layer_norm"})
                torch.ask(fmt::format("{} {} {} {}", op, op, shape[0], shape[1]));
            t.timed_row("add (torch)", 3 * nbytes, torch.run("add"));
            t.timed_row("softmax (torch)", 2 * nbytes, torch.run("softmax"));
            t.timed_row("layer_norm (torch)", 2 * nbytes, torch.run("layer_norm"));
        }
    }
}

void run_tensor(const BenchFlags& flags) {
    fmt::print("gradstack bench tensor: threads {}, OpenBLAS {}\n", fmt::join(flags.threads, ","),
               openblas_get_config());
    TorchServer torch("torch_tensor.py");
    if (torch.ok())
        fmt::print(
            "PyTorch {} (OpenBLAS OpenMP build, OMP_NUM_THREADS=2), timed in turns with "
            "the others\n",
            torch.hello()["version"].get<std::string>());
    else
        fmt::print("PyTorch: skipped ({})\n", torch.why());
    matmul_table(flags, torch);
    memory_table(flags, torch);
}

void configure(CLI::App& command) {
    auto flags = std::make_shared<BenchFlags>();
    add_bench_flags(command, *flags);
    command.callback([flags] { run_tensor(*flags); });
}

const bool registered = register_benchmark(
    {"tensor", "float32 matmul GFLOP/s and memory-bound op GB/s vs OpenBLAS, Eigen, PyTorch",
     configure});

}  // namespace
}  // namespace gradstack::apps
