// `gradstack bench gpt --device cuda` and `gradstack bench train --device cuda`: GPT-2 124M on a
// GPU next to PyTorch eager on the same GPU (apps/bench/torch_cuda.py), in float32, TF32 and bf16,
// timed in turns after a device synchronisation. gpt: greedy decoding with the cache at batch 1
// and 16 and a 1024-token prompt forward; train: one AdamW step of B x T tokens, with its model
// FLOPs utilisation against the bf16 GEMM rate measured first (cuBLAS, through kernels::matmul).
// Read next: apps/bench/torch_cuda.py, cuda/README.md.
#include <fmt/format.h>

#include <chrono>

#include "apps/bench.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "gpt/model.h"
#include "nn/optim/adam.h"
#include "tensor/backend.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/linalg.h"
#include "tensor/random.h"

namespace gradstack::apps {

namespace {

gpt::GPT2Config gpt2_124m() {
    gpt::GPT2Config c;
    c.vocab_size = 50257;
    c.n_positions = 1024;
    c.n_embd = 768;
    c.n_layer = 12;
    c.n_head = 12;
    c.resid_pdrop = c.embd_pdrop = c.attn_pdrop = 0;
    return c;
}

// The precisions of a row: float32 matmuls exact, TF32 tensor cores, or the bf16 weight products.
struct Precision {
    const char* name;  // fp32, tf32, bf16 (also torch_cuda.py's word)
    bool tf32;
    kernels::MatmulPrecision matmul;
};
const Precision kPrecisions[] = {{"fp32", false, kernels::MatmulPrecision::f32},
                                 {"tf32", true, kernels::MatmulPrecision::f32},
                                 {"bf16", false, kernels::MatmulPrecision::bf16}};

// Sets the precision for a scope.
class PrecisionScope {
  public:
    explicit PrecisionScope(const Precision& p)
        : matmul_(p.matmul), saved_tf32_(kernels::allow_tf32()) {
        kernels::set_allow_tf32(p.tf32);
    }
    ~PrecisionScope() { kernels::set_allow_tf32(saved_tf32_); }

  private:
    kernels::MatmulPrecisionGuard matmul_;
    bool saved_tf32_ = false;
};

// A timed run of ours: `fn` between two device synchronisations.
TimedRun timed_on(Device device, std::function<void()> fn) {
    return [device, fn] {
        synchronize(device);
        const auto start = std::chrono::steady_clock::now();
        fn();
        synchronize(device);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
}

std::string ratio(double ours, double theirs) {
    return theirs > 0 ? fmt::format("{:.2f}", ours / theirs) : "-";
}
std::string figure(double v, const char* format = "{:.1f}") {
    return v > 0 ? fmt::format(fmt::runtime(format), v) : "-";
}

// Our rate and PyTorch's for one row, timed in turns; PyTorch's `setup` defines work "w".
std::pair<double, double> turns(TorchServer& torch, const std::string& setup, const TimedRun& ours,
                                int reps, int warmup) {
    std::vector<TimedRun> engines{ours};
    if (torch.ok()) {
        const nlohmann::json r = torch.ask(setup);
        if (!r.contains("skipped")) engines.push_back(torch.run("w"));
    }
    const std::vector<double> s = median_seconds(engines, reps, warmup);
    return {s[0], s.size() > 1 ? s[1] : 0};
}

void open_torch(TorchServer& torch, const gpt::GPT2Config& c) {
    if (!torch.ok()) return fmt::print("PyTorch: skipped ({})\n", torch.why());
    fmt::print("PyTorch {} eager on the same GPU, timed in turns\n",
               torch.hello()["version"].get<std::string>());
    torch.ask(fmt::format("model {} {} {} {} {}", c.vocab_size, c.n_positions, c.n_embd, c.n_layer,
                          c.n_head));
}

// GEMM rate (TFLOP/s) of one n x n x n product at a precision, ours and PyTorch's.
std::pair<double, double> gemm_rate(TorchServer& torch, Device device, const Precision& p,
                                    int64_t n, int reps) {
    Generator gen(1);
    const Tensor a = kernels::to_device(randn({n, n}, DType::f32, &gen), device);
    const Tensor b = kernels::to_device(randn({n, n}, DType::f32, &gen), device);
    Tensor out = empty({n, n}, DType::f32, device);
    PrecisionScope scope(p);
    auto [ours, theirs] =
        turns(torch, fmt::format("gemm w {} {}", n, p.name),
              timed_on(device, [&] { kernels::matmul(out, a, b, false); }), reps, 1);
    const double flop = 2.0 * n * n * n;
    return {flop / ours / 1e12, theirs > 0 ? flop / theirs / 1e12 : 0};
}

}  // namespace

void run_gpt_cuda(Device device, int reps) {
    check_device(device, "--device");
    const gpt::GPT2Config c = gpt2_124m();
    fmt::print("gradstack bench gpt --device {}: GPT-2 124M, random weights, median of {}\n",
               describe_device(device), reps);
    TorchServer torch("torch_cuda.py");
    open_torch(torch, c);
    Generator gen(0);
    gpt::GPT2LMHeadModel model(c, &gen);
    model.to(device);
    NoGradGuard no_grad;
    fmt::print("\n{:<22} {:>15} {:>13} {:>7}\n", "workload", "gradstack tok/s", "torch tok/s",
               "ratio");
    const int64_t P = 32, N = 64;
    for (const Precision& p : kPrecisions) {
        for (int64_t B : {1, 16}) {
            const Tensor ids = randint(0, c.vocab_size, {B, P}, &gen);
            PrecisionScope scope(p);
            TimedRun ours = [&, ids] {
                gpt::ForwardOutput out = model.forward(ids);
                synchronize(device);
                const auto start = std::chrono::steady_clock::now();
                for (int64_t i = 0; i < N; ++i) {
                    Tensor next = unsqueeze(argmax(select(out.logits, 1, -1), -1), 1);  // (B, 1)
                    (void)element_at(next, {0, 0});  // the host reads each token, as generate does
                    gpt::ForwardOptions o;
                    o.past = std::move(out.presents);
                    out = model.forward(next, o);
                }
                synchronize(device);
                return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                    .count();
            };
            auto [s, t] =
                turns(torch, fmt::format("decode w {} {} {} {}", B, P, N, p.name), ours, reps, 1);
            fmt::print("{:<22} {:>15} {:>13} {:>7}\n", fmt::format("decode B={} {}", B, p.name),
                       figure(B * N / s), figure(t > 0 ? B * N / t : 0),
                       t > 0 ? ratio(t, s) : "-");  // rates: (B N / s) / (B N / t)
            std::fflush(stdout);
        }
    }
    fmt::print(
        "\ndecode B=b: a {}-token prompt (untimed), then {} greedy steps with the cache, b new "
        "tokens each; fp32: exact float32 GEMMs; tf32: TF32 tensor cores; bf16: weight "
        "products in bfloat16 (PyTorch: autocast). ratio = gradstack / torch, higher is "
        "better.\n",
        P, N);
}

void run_train_cuda(Device device, int64_t B, int64_t T, int reps) {
    check_device(device, "--device");
    const gpt::GPT2Config c = gpt2_124m();
    fmt::print(
        "gradstack bench train --device {}: GPT-2 124M, one AdamW step of {} x {} tokens, "
        "median of {}\n",
        describe_device(device), B, T, reps);
    TorchServer torch("torch_cuda.py");
    open_torch(torch, c);
    // The matrix rates first: MFU is reported against the measured bf16 rate.
    fmt::print("\n{:<22} {:>15} {:>13} {:>7}\n", "GEMM 8192^3", "gradstack TF/s", "torch TF/s",
               "ratio");
    double bf16_rate = 0;
    for (const Precision& p : kPrecisions) {
        auto [ours, theirs] = gemm_rate(torch, device, p, 8192, reps);
        if (p.matmul == kernels::MatmulPrecision::bf16) bf16_rate = std::max(ours, theirs);
        fmt::print("{:<22} {:>15} {:>13} {:>7}\n", p.name, figure(ours, "{:.1f}"),
                   figure(theirs, "{:.1f}"), ratio(ours, theirs));
    }
    Generator gen(0);
    gpt::GPT2LMHeadModel model(c, &gen);
    model.to(device);
    model.train();
    nn::AdamW opt(model.parameters(), nn::AdamConfig{.lr = 1e-4, .weight_decay = 0.1});
    const Tensor ids = randint(0, c.vocab_size, {B, T + 1}, &gen);
    const Tensor x = kernels::to_device(slice(ids, 1, 0, T), device);
    const Tensor y = kernels::to_device(slice(ids, 1, 1, T + 1), device);
    // Model FLOPs per token: 6 per parameter (forward and backward) plus attention's 12 L T C.
    const double flop_per_token =
        6.0 * static_cast<double>(model.num_parameters()) + 12.0 * c.n_layer * T * c.n_embd;
    fmt::print("\n{:<22} {:>15} {:>13} {:>7} {:>9}\n", "train step", "gradstack tok/s",
               "torch tok/s", "ratio", "our MFU");
    for (const Precision& p : kPrecisions) {
        if (p.matmul == kernels::MatmulPrecision::bf16) {
            // gradstack's bf16 matmul precision is for inference (tensor/kernels/linalg.h).
            fmt::print("{:<22} {:>15}\n", "bf16", "not supported for training (inference only)");
            continue;
        }
        PrecisionScope scope(p);
        TimedRun ours = timed_on(device, [&] {
            Tensor logits = model.forward(x).logits;  // (B, T, V)
            Tensor loss = cross_entropy(reshape(logits, {-1, c.vocab_size}), reshape(y, {-1}));
            loss.backward();
            opt.step();
            opt.zero_grad();
        });
        auto [s, t] = turns(torch, fmt::format("train w {} {} {}", B, T, p.name), ours, reps, 1);
        const double tokens = static_cast<double>(B * T);
        const double mfu = bf16_rate > 0 ? tokens / s * flop_per_token / (bf16_rate * 1e12) : 0;
        fmt::print("{:<22} {:>15} {:>13} {:>7} {:>9}\n", p.name, figure(tokens / s, "{:.0f}"),
                   figure(t > 0 ? tokens / t : 0, "{:.0f}"), t > 0 ? ratio(t, s) : "-",
                   mfu > 0 ? fmt::format("{:.1f}%", 100 * mfu) : "-");
        std::fflush(stdout);
    }
    fmt::print(
        "\nratio = gradstack / torch tokens per second, higher is better; MFU = model FLOPs "
        "(6 per parameter per token + 12 L T C) per second over the measured bf16 GEMM "
        "rate.\n");
}

}  // namespace gradstack::apps
