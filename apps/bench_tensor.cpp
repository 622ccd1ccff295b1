// `gradstack bench tensor`: float32 matmul GFLOP/s at GPT-2 shapes next to raw OpenBLAS, Eigen
// and PyTorch, GB/s of memory-bound ops next to the machine's copy bandwidth, and causal attention
// forward + backward, fused, against the materialised composition (ours and PyTorch's). Every
// figure is a median after warm-ups, measured in this run, so the ratios are what to read.
// Read next: apps/bench/torch_tensor.py (the PyTorch side), tensor/cpu/matmul.cpp.
#include <cblas.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

// GCC 12 reports false "may be used uninitialized" warnings inside its own AVX-512 intrinsics
// when it inlines Eigen's float GEMM kernels; the pragma must precede the first include of them.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <Eigen/Core>

#include "apps/bench.h"
#include "tensor/cpu/blocked_gemm.h"
#include "tensor/cpu/simd_tiles.h"
#include "tensor/cpu/small_gemm.h"
#include "autograd/ops.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/linalg.h"
#include "tensor/kernels/nn.h"

namespace gradstack::apps {
namespace {

// The matmul shapes: [M, K] @ [K, N] with K = 768 (GPT-2 small's width); N = 768 (attention
// projection), 2304 (qkv), 3072 (MLP); M = 512 and 4096 rows of tokens, and the few rows of
// batched decoding and beam search (4, 8, 32: the small-M kernel, tensor/cpu/small_gemm.h), which
// also meet the tied head (N = 50257, b = wte^T).
constexpr int64_t kK = 768;
constexpr int64_t kRows[] = {4, 8, 32, 512, 4096};
constexpr int64_t kCols[] = {768, 2304, 3072};
constexpr int64_t kHeadCols = 50257;
constexpr int64_t kSmallRows = 32;  // rows up to this also run the head shape

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
        "  kernel writing a preallocated result (like cblas, eigen); blocked: gradstack's blocked\n"
        "  {} GEMM (blocked_gemm.h) into the same result, whatever matmul chose. The engines run\n"
        "  in turns on the same a and b (torch on its own copy): a weight that fits in cache may\n"
        "  be warm for all but the first (gradstack)\n",
        cpu::kSimdName);
    fmt::print("  ratio = gradstack / engine; best = the fastest other engine\n");
    fmt::print("{:>3} {:>5} {:>5} {:>3} | {:>9} {:>5} {:>7} {:>6} {:>6} {:>6} | {:>8} {:>8} {:>8}\n",
               "thr", "M", "N", "b", "gradstack", "into", "blocked", "cblas", "eigen", "torch", "vs cblas",
               "vs torch", "vs best");
    for (int threads : flags.threads) {
        set_threads(threads);
        if (torch.ok()) torch.ask(fmt::format("threads {}", threads));
        for (int64_t M : kRows) {
            std::vector<int64_t> cols(std::begin(kCols), std::end(kCols));
            if (M <= kSmallRows) cols.push_back(kHeadCols);
            for (int64_t N : cols) {
                for (const std::string layout : kLayouts) {
                    if (N == kHeadCols && layout != std::string("NK")) continue;  // wte^T only
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
                    auto blocked = timed([&] {
                        if (M > cpu::kSmallGemmMaxRows)
                            cpu::blocked_gemm_f32(M, N, kK, pa, kK, 1, pw, nk ? kK : N, nk, pc, N,
                                              false);
                    });
                    Eigen::Map<const RowMajor> ea(pa, M, kK), ew(pw, nk ? N : kK, nk ? kK : N);
                    Eigen::Map<RowMajor> ec(pc, M, N);
                    auto eigen = timed([&] {
                        if (nk)
                            ec.noalias() = ea * ew.transpose();
                        else
                            ec.noalias() = ea * ew;
                    });
                    std::vector<TimedRun> engines{ours, ours_into, blas, eigen, blocked};
                    if (torch.ok()) {
                        torch.ask(fmt::format("matmul mm {} {} {} {}", M, kK, N, layout));
                        engines.push_back(torch.run("mm"));
                    }
                    std::vector<double> s = median_seconds(engines, flags.reps, flags.warmup);
                    double g_ours = gflops(M, N, kK, s[0]), g_into = gflops(M, N, kK, s[1]);
                    double g_blas = gflops(M, N, kK, s[2]), g_eigen = gflops(M, N, kK, s[3]);
                    double g_torch = torch.ok() ? gflops(M, N, kK, s[5]) : 0;
                    double g_blocked = gflops(M, N, kK, s[4]);
                    double best = std::max({g_blas, g_eigen, g_torch});
                    fmt::print(
                        "{:>3} {:>5} {:>5} {:>3} | {:>9.0f} {:>5.0f} {:>7} {:>6} {:>6} {:>6} | "
                        "{:>8.2f} {:>8} {:>8.2f}\n",
                        threads, M, N, layout, g_ours, g_into,
                        M > cpu::kSmallGemmMaxRows ? cell(g_blocked) : "-", cell(g_blas), cell(g_eigen),
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

// Attention forward + backward at the Tiny Shakespeare recipe's shape (head dim 8) and GPT-2
// small's (head dim 64), T = S = 256, with the recipe's attention dropout 0.2: the fused op
// against the composition it replaced (scores, causal where, softmax, dropout, matmul: every
// (B, nh, T, T) tensor materialised, forward and backward) and against PyTorch 1.13's
// composition (q @ k^T / sqrt, masked_fill, softmax, dropout, @ v, what a torch user of that
// version runs: it has no fused CPU attention).
struct AttentionShape {
    int64_t B, nh, T, hs;
};
constexpr AttentionShape kAttentionShapes[] = {{32, 16, 256, 8}, {4, 12, 256, 64}};
constexpr double kAttentionDropout = 0.2;

Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, Generator& gen) {
    const int64_t T = q.size(2), hs = q.size(3);
    Tensor scores = matmul(q, transpose(k, -2, -1)) / std::sqrt(static_cast<double>(hs));
    Tensor causal = le(reshape(arange(T), {1, T}), reshape(arange(T), {T, 1}));
    scores = where(causal, scores, scalar_like(scores, std::numeric_limits<float>::lowest()));
    return matmul(dropout(softmax(scores, -1), kAttentionDropout, true, &gen), v);
}

void attention_table(const BenchFlags& flags, TorchServer& torch) {
    fmt::print(
        "\nfloat32 causal attention forward + backward, T = S = 256, dropout {}, ms (median of "
        "{} after {} warm-ups)\n  fused: scaled_dot_product_attention; composed: the same in "
        "separate ops\n  (gradstack before the fused op); ratio = engine / fused\n",
        kAttentionDropout, flags.reps, flags.warmup);
    fmt::print("{:>3} {:>3} {:>3} {:>3} | {:>8} {:>8} {:>8} | {:>8} {:>8}\n", "thr", "B", "nh",
               "hs", "fused", "composed", "torch", "composed", "torch");
    for (int threads : flags.threads) {
        set_threads(threads);
        if (torch.ok()) torch.ask(fmt::format("threads {}", threads));
        for (const AttentionShape& a : kAttentionShapes) {
            const Shape shape{a.B, a.nh, a.T, a.hs};
            Tensor q0 = randn(shape), k0 = randn(shape), v0 = randn(shape), gy = randn(shape);
            Generator gen(0);
            // Fresh leaves per run, so gradients never accumulate across runs.
            auto fwd_bwd = [&](bool fused) {
                return timed([&, fused] {
                    Tensor q = q0.detach().requires_grad_(), k = k0.detach().requires_grad_();
                    Tensor v = v0.detach().requires_grad_();
                    Tensor y = fused ? scaled_dot_product_attention(q, k, v, Tensor(),
                                                                    kAttentionDropout, &gen)
                                     : composed_attention(q, k, v, gen);
                    y.backward(gy);
                });
            };
            std::vector<TimedRun> engines{fwd_bwd(true), fwd_bwd(false)};
            if (torch.ok()) {
                torch.ask(fmt::format("attention attn {} {} {} {} {}", a.B, a.nh, a.T, a.hs,
                                      kAttentionDropout));
                engines.push_back(torch.run("attn"));
            }
            std::vector<double> s = median_seconds(engines, flags.reps, flags.warmup);
            const double torch_s = torch.ok() ? s[2] : 0;
            fmt::print("{:>3} {:>3} {:>3} {:>3} | {:>8.1f} {:>8.1f} {:>8} | {:>8.2f} {:>8}\n",
                       threads, a.B, a.nh, a.hs, s[0] * 1e3, s[1] * 1e3,
                       torch_s > 0 ? fmt::format("{:.1f}", torch_s * 1e3) : "-", s[1] / s[0],
                       torch_s > 0 ? fmt::format("{:.2f}", torch_s / s[0]) : "-");
        }
    }
}

void run_tensor(const BenchFlags& flags, const std::vector<std::string>& tables) {
    fmt::print("gradstack bench tensor: threads {}, OpenBLAS {}\n", fmt::join(flags.threads, ","),
               openblas_get_config());
    fmt::print("{}\n", blas_line());
    TorchServer torch("torch_tensor.py");
    if (torch.ok())
        fmt::print(
            "PyTorch {} (OpenBLAS OpenMP build, OMP_NUM_THREADS=2), timed in turns with "
            "the others\n",
            torch.hello()["version"].get<std::string>());
    else
        fmt::print("PyTorch: skipped ({})\n", torch.why());
    auto wanted = [&](const std::string& name) {
        return std::find(tables.begin(), tables.end(), name) != tables.end();
    };
    if (wanted("matmul")) matmul_table(flags, torch);
    if (wanted("memory")) memory_table(flags, torch);
    if (wanted("attention")) attention_table(flags, torch);
}

void configure(CLI::App& command) {
    auto flags = std::make_shared<BenchFlags>();
    auto tables = std::make_shared<std::vector<std::string>>(
        std::vector<std::string>{"matmul", "memory", "attention"});
    add_bench_flags(command, *flags);
    command.add_option("--tables", *tables, "which tables to run")
        ->delimiter(',')
        ->check(CLI::IsMember({"matmul", "memory", "attention"}))
        ->capture_default_str();
    command.callback([flags, tables] { run_tensor(*flags, *tables); });
}

const bool registered = register_benchmark(
    {"tensor",
     "float32 matmul GFLOP/s, memory-bound op GB/s and attention ms vs OpenBLAS, Eigen, PyTorch",
     configure});

}  // namespace
}  // namespace gradstack::apps
