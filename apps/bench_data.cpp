// `gradstack bench data`: the speed of the language-model data path on one text file: training a
// byte-level BPE vocabulary, tokenizing the file into a token file (cold tokenizer cache, the
// first run of `gradstack train`), mapping it again (a cache hit, every later run), and drawing
// batches of context windows. Read next: gpt/data.h, gpt/tokenizer/train.h.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "apps/bench.h"
#include "gpt/data.h"
#include "gpt/tokenizer/train.h"
#include "tensor/error.h"

namespace gradstack::apps {
namespace {

namespace fs = std::filesystem;

struct DataFlags {
    std::string file =
        std::string(GRADSTACK_SOURCE_DIR) + "/../shared/data/tinyshakespeare/input.txt";
    int64_t vocab_size = 8192;
    int reps = 3;
};

double seconds_of(const std::function<void()>& fn) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Median of `reps` runs of fn (which returns its own time).
double median_of(int reps, const std::function<double()>& fn) {
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) t.push_back(fn());
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void tokenize_rows(const std::string& name, const gpt::Tokenizer& tok, const fs::path& file,
                   const DataFlags& flags, const fs::path& scratch) {
    const double mb = static_cast<double>(fs::file_size(file)) / 1e6;
    int n = 0;
    const double cold = median_of(flags.reps, [&] {
        tok.clear_cache();
        const fs::path dir = scratch / fmt::format("{}-{}", name, n++);
        return seconds_of([&] { gpt::TokenFile::open({file}, tok, dir); });
    });
    const gpt::TokenFile f = gpt::TokenFile::open({file}, tok, scratch / (name + "-0"));
    const double hit = median_of(flags.reps, [&] {
        return seconds_of([&] { gpt::TokenFile::open({file}, tok, scratch / (name + "-0")); });
    });
    fmt::print("{:<26} {:>9} {:>10.2f} {:>10.1f} {:>12.3f} {:>10.2f}\n", name, f.size(),
               static_cast<double>(fs::file_size(file)) / static_cast<double>(f.size()), mb / cold,
               hit * 1e3, static_cast<double>(fs::file_size(f.path())) / 1e6);
}

void run_data(const DataFlags& flags) {
    const fs::path file(flags.file);
    check(fs::is_regular_file(file), "[bench data] {}: no such file (pass --file)", flags.file);
    const double mb = static_cast<double>(fs::file_size(file)) / 1e6;
    fmt::print("data path on {} ({:.2f} MB), one thread, median of {}\n", file.string(), mb,
               flags.reps);
    const fs::path scratch =
        fs::temp_directory_path() / fmt::format("gradstack_bench_data_{}", ::getpid());
    fs::create_directories(scratch);

    // BPE training: counting words, then the merges.
    gpt::BpeVocabulary vocab;
    double count_s = 0;
    const double train_s = median_of(flags.reps, [&] {
        gpt::BpeTrainer trainer({flags.vocab_size, 2, {"<|endoftext|>"}});
        count_s = seconds_of([&] { trainer.add_file(file); });
        return count_s + seconds_of([&] { vocab = trainer.train(); });
    });
    fmt::print(
        "\nBPE training, vocab {}: {:.2f} s ({:.2f} s counting words, {:.1f} MB/s), "
        "{} tokens, {} merges\n",
        flags.vocab_size, train_s, count_s, mb / count_s, vocab.tokens.size(), vocab.merges.size());
    vocab.save(scratch / "trained");

    fmt::print("\n{:<26} {:>9} {:>10} {:>10} {:>12} {:>10}\n", "tokenizer", "tokens", "bytes/tok",
               "miss MB/s", "hit ms", "file MB");
    fmt::print("  miss: UTF-8 check + tokenize + write the token file, tokenizer cache emptied\n");
    fmt::print("  hit: find, map and check the cached token file\n");
    tokenize_rows(fmt::format("trained (vocab {})", vocab.tokens.size()),
                  gpt::Tokenizer::from_directory(scratch / "trained"), file, flags, scratch);
    try {
        tokenize_rows("GPT-2 (vocab 50257)", gpt::load_default_tokenizer(), file, flags, scratch);
    } catch (const Error& e) {
        fmt::print("GPT-2: skipped ({})\n", e.what());
    }

    // Batches: B = 32 windows of T + 1 = 257 ids, as in the Tiny Shakespeare recipe.
    const gpt::Tokenizer tok = gpt::Tokenizer::from_directory(scratch / "trained");
    const gpt::TokenFile f = gpt::TokenFile::open({file}, tok, scratch / "batches");
    const auto split = gpt::split_tokens(f.size(), 0.1);
    gpt::BatchSampler sampler(f, split.train, 32, 256, 1);
    const int batches = 1000;
    const double batch_s = seconds_of([&] {
        for (int i = 0; i < batches; ++i) sampler.next();
    });
    fmt::print("\nbatches (32, 256): {:.1f} us each ({:.0f} M tokens/s)\n", batch_s / batches * 1e6,
               batches * 32.0 * 256 / batch_s / 1e6);
    fs::remove_all(scratch);
}

void configure(CLI::App& command) {
    auto flags = std::make_shared<DataFlags>();
    command.add_option("--file", flags->file, "a UTF-8 text file")->capture_default_str();
    command.add_option("--vocab-size", flags->vocab_size, "BPE vocabulary to train")
        ->capture_default_str()
        ->check(integer_in(258, int64_t{1} << 31));
    command.add_option("--reps", flags->reps, "timed runs (median)")
        ->capture_default_str()
        ->check(integer_in(1, 1'000'000));
    command.callback([flags] { run_data(*flags); });
}

const bool registered = register_benchmark(
    {"data", "BPE training, tokenizing into the token cache, cache hits and batch sampling",
     configure});

}  // namespace
}  // namespace gradstack::apps
