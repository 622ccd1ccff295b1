// `gradstack bench generate`: decoding speed of a GPT-2 (124M shape by default, random weights)
// with the KV cache: greedy and beam-search tokens/s through gpt::generate, and the time of one
// token at cache positions 32, 256 and 768, next to PyTorch running the same loop
// (apps/bench/torch_generate.py). Medians are reported. Unlike bench tensor, each engine's reps
// run as one block (warm-up first): the OpenMP threads of the engine that just ran keep spinning
// for a while after it answers, and on two cores that spinning, not the engine, dominated a
// 30 ms token timed right after it (measured: 29 ms alone, 550 ms interleaved).
// Measured on the 2-core project machine, 2 threads, while other builds ran (noisy; the rows
// below held in several runs): greedy 34-37 tok/s vs PyTorch 14-15 (2.5x); beam-4 1.07-1.09x;
// one token at position 32 / 256 / 768: 29 / 28-33 / 55 ms vs PyTorch 71 / 68-74 / 80 ms.
// Read next: gpt/generation/generate.h, gpt/generation/decoder.h.
#include <fmt/format.h>

#include "apps/bench.h"
#include "autograd/ops.h"
#include "gpt/generation/generate.h"
#include "tensor/error.h"

namespace gradstack::apps {
namespace {

// Median time of each engine, one engine after the other (see the file comment).
std::vector<double> median_in_blocks(const std::vector<TimedRun>& runs, int reps, int warmup) {
    std::vector<double> s;
    for (const TimedRun& run : runs) s.push_back(median_seconds(run, reps, warmup));
    return s;
}

struct GenerateFlags {
    BenchFlags common{{2}, 3, 1};
    int64_t prompt = 8;       // prompt tokens before decoding
    int64_t new_tokens = 32;  // tokens decoded per timed run
    int64_t beams = 4;
    std::vector<int64_t> positions{32, 256, 768};
    int64_t n_layer = 12, n_embd = 768, n_head = 12;
};

std::string ratio(double ours, double theirs) {
    return theirs > 0 ? fmt::format("{:.2f}x", theirs / ours) : "-";
}

void run_generate_bench(const GenerateFlags& f) {
    gpt::GPT2Config c;
    c.n_layer = f.n_layer, c.n_embd = f.n_embd, c.n_head = f.n_head;
    c.embd_pdrop = c.attn_pdrop = c.resid_pdrop = 0;
    Generator gen(0);
    gpt::GPT2LMHeadModel model(c, &gen);
    model.eval();
    fmt::print("gradstack bench generate: GPT-2 n_layer {} n_embd {} n_head {} vocab {} ({:.0f}M "
               "parameters), random weights, float32\n",
               c.n_layer, c.n_embd, c.n_head, c.vocab_size, model.num_parameters() / 1e6);
    fmt::print("{}\n", blas_line());
    TorchServer torch("torch_generate.py");
    if (torch.ok()) {
        fmt::print("PyTorch {} (same loop with its KV cache, OpenMP OpenBLAS), timed in blocks\n",
                   torch.hello()["version"].get<std::string>());
        torch.ask(fmt::format("model {} {} {} {} {}", c.n_layer, c.n_embd, c.n_head, c.vocab_size,
                              c.n_positions));
    } else {
        fmt::print("PyTorch: skipped ({})\n", torch.why());
    }
    std::vector<int64_t> prompt;
    for (int64_t i = 0; i < f.prompt; ++i) prompt.push_back((i * 7919) % 50000);

    for (int threads : f.common.threads) {
        set_threads(threads);
        if (torch.ok()) torch.ask(fmt::format("threads {}", threads));
        fmt::print("\n{} thread(s); batch 1; prompt {} tokens, then {} new (prompt included in "
                   "the time); median of {}\n",
                   threads, f.prompt, f.new_tokens, f.common.reps);
        fmt::print("{:<28} {:>12} {:>12} {:>10}\n", "decode", "gradstack", "torch",
                   "speed-up");
        for (int64_t beams : {int64_t{1}, f.beams}) {
            gpt::GenerationConfig g;
            g.max_new_tokens = f.new_tokens;
            g.ignore_eos = true;
            g.num_beams = beams;
            std::vector<TimedRun> runs{timed([&] { gpt::generate(model, {prompt}, g); })};
            if (torch.ok()) {
                torch.ask(beams == 1 ? fmt::format("greedy g {} {}", f.prompt, f.new_tokens)
                                     : fmt::format("beam g {} {} {}", f.prompt, f.new_tokens, beams));
                runs.push_back(torch.run("g"));
            }
            auto s = median_in_blocks(runs, f.common.reps, std::max(f.common.warmup, 1));
            const double ours = f.new_tokens / s[0], theirs = torch.ok() ? f.new_tokens / s[1] : 0;
            fmt::print("{:<28} {:>8.1f} t/s {:>8} t/s {:>10}\n",
                       beams == 1 ? "greedy" : fmt::format("beam search, {} beams", beams), ours,
                       theirs > 0 ? fmt::format("{:.1f}", theirs) : "-", ratio(s[0], torch.ok() ? s[1] : 0));
        }
        fmt::print("{:<28} {:>12} {:>12} {:>10}\n", "one token at position", "gradstack",
                   "torch", "speed-up");
        for (int64_t pos : f.positions) {
            if (pos + 1 > c.n_positions) continue;
            NoGradGuard ng;
            Tensor ids = randint(0, 50000, {1, pos}, &gen);
            gpt::ForwardOptions prefill;
            std::vector<gpt::KVCache> past = model.forward(ids, prefill).presents;
            Tensor tok = from_vector<int64_t>({11}, {1, 1});
            std::vector<TimedRun> runs{timed([&] {
                gpt::ForwardOptions o;
                o.past = past;
                model.forward(tok, o);
            })};
            if (torch.ok()) {
                torch.ask(fmt::format("step s {}", pos));
                runs.push_back(torch.run("s"));
            }
            auto s = median_in_blocks(runs, f.common.reps + 2, std::max(f.common.warmup, 1));
            fmt::print("{:<28} {:>9.1f} ms {:>9} ms {:>10}\n", pos, s[0] * 1e3,
                       torch.ok() ? fmt::format("{:.1f}", s[1] * 1e3) : "-",
                       ratio(s[0], torch.ok() ? s[1] : 0));
        }
    }
}

void configure(CLI::App& command) {
    auto f = std::make_shared<GenerateFlags>();
    add_bench_flags(command, f->common);
    command.add_option("--prompt", f->prompt, "prompt tokens")
        ->capture_default_str()
        ->check(integer_in(1, 1023));
    command.add_option("--new-tokens", f->new_tokens, "tokens decoded per run")
        ->capture_default_str()
        ->check(integer_in(1, 1023));
    command.add_option("--beams", f->beams, "beams of the beam-search row")
        ->capture_default_str()
        ->check(integer_in(2, 1024));
    command.add_option("--positions", f->positions, "cache positions of the per-token rows")
        ->delimiter(',')
        ->capture_default_str()
        ->check(integer_in(0, 1023));
    add_shape_flags(command, f->n_layer, f->n_embd, f->n_head);
    command.callback([f] {
        check(f->prompt + f->new_tokens <= 1024,
              "[bench generate] --prompt {} + --new-tokens {} must be at most n_positions = 1024",
              f->prompt, f->new_tokens);
        check_shape(f->n_layer, f->n_embd, f->n_head, 50257, 1024);
        run_generate_bench(*f);
    });
}

const bool registered = register_benchmark(
    {"generate", "GPT-2 decoding with the KV cache: greedy/beam tokens/s, per-token time vs PyTorch",
     configure});

}  // namespace
}  // namespace gradstack::apps
