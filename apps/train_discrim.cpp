// `gradstack train-discrim`: train a PPLM discriminator (a linear head on the mean of a frozen
// GPT-2's last hidden states) on SST-5, a label<TAB>text file or Debian fortunes topics, as uber's
// run_pplm_discrim_train.py. Every flag is checked before any work; then a progress bar per epoch
// (stderr), the test loss and accuracy (stdout), DIR/epoch_N/, DIR/best/, metrics.csv + .png.
// The readers and the loop: pplm/discrim_train.h.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "gpt/checkpoint.h"
#include "gpt/config.h"
#include "pplm/discrim_train.h"
#include "tensor/error.h"

namespace gradstack::apps {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string clock_time(double seconds) {
    const auto s = static_cast<int64_t>(std::max(0.0, seconds));
    if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
    return fmt::format("{}:{:02}", s / 60, s % 60);
}

// The per-batch bar on stderr:
//   epoch 2/10 [########------------] 160/400 batches | loss 0.6213 | 5230 ex/s | ETA 0:03
// On a terminal it is redrawn in place at most 5 times a second; elsewhere (a log file) one line
// is printed at each tenth of the phase.
class ProgressBar {
  public:
    explicit ProgressBar(bool terminal) : terminal_(terminal) {}

    void operator()(const pplm::BatchProgress& p) {
        const bool last = p.done == p.total;
        if (terminal_) {
            const auto now = Clock::now();
            if (!last && p.done > 1 && now - drawn_ < std::chrono::milliseconds(200)) return;
            drawn_ = now;
            fmt::print(stderr, "\r{}   {}", line(p), last ? "\n" : "");
        } else {
            const int64_t tenth = 10 * p.done / p.total;
            if (p.done == 1) printed_tenth_ = 0;
            if (tenth == printed_tenth_ && !last) return;
            printed_tenth_ = tenth;
            fmt::print(stderr, "{}\n", line(p));
        }
        std::fflush(stderr);
    }

  private:
    static std::string line(const pplm::BatchProgress& p) {
        const int filled = static_cast<int>(20 * p.done / std::max<int64_t>(p.total, 1));
        const std::string head = p.phase == "cache" ? std::string("caching hidden states")
                                                    : fmt::format("epoch {}/{}", p.epoch, p.epochs);
        std::string s = fmt::format("{} [{:#<{}}{:-<{}}] {}/{} batches", head, "", filled, "",
                                    20 - filled, p.done, p.total);
        if (p.phase == "train") s += fmt::format(" | loss {:.4f}", p.loss);
        s += fmt::format(" | {:.0f} ex/s | {}", p.examples_per_s,
                         p.done == p.total ? "done" : "ETA " + clock_time(p.eta_s));
        return s;
    }

    bool terminal_;
    Clock::time_point drawn_{};
    int64_t printed_tenth_ = 0;
};

// Every flag, before anything is loaded: the values, the model's n_positions, --out, --data.
struct Flags {
    std::string model, data, format, out, tokenizer;
    std::vector<std::string> classes;
    pplm::DiscrimTrainConfig train;
    int64_t max_length = 100;
};

gpt::GPT2Config validate(const Flags& f) {
    check(f.train.epochs >= 1, "--epochs {}: must be >= 1", f.train.epochs);
    check(f.train.batch_size >= 1, "--batch-size {}: must be >= 1", f.train.batch_size);
    check(f.train.lr > 0 && std::isfinite(f.train.lr), "--lr {}: must be a finite number > 0",
          f.train.lr);
    if (f.format == "fortunes") {
        check(f.classes.size() >= 2,
              "--format fortunes needs --classes with at least 2 topic files, e.g. --classes "
              "computers,love,science{}",
              f.classes.empty() ? "" : fmt::format(" (got only '{}')", f.classes.front()));
        std::set<std::string> seen;
        for (const std::string& c : f.classes)
            check(seen.insert(c).second, "--classes: '{}' is listed twice", c);
    } else {
        check(f.classes.empty(),
              "--classes picks fortunes topic files; it is only for --format fortunes (got "
              "--format {})",
              f.format);
    }

    std::error_code ec;
    const fs::path config_path = fs::path(f.model) / "config.json";
    check(fs::is_regular_file(config_path, ec),
          "--model {}: no config.json (expected a Hugging Face GPT-2 folder: config.json + "
          "model.safetensors, e.g. from gradstack download gpt2)",
          f.model);
    gpt::GPT2Config config = gpt::load_config(config_path.string());
    check(f.max_length >= 2 && f.max_length <= config.n_positions,
          "--max-length {}: must be in [2, {}] (the model's n_positions; the count includes the "
          "<|endoftext|> put in front)",
          f.max_length, config.n_positions);

    pplm::check_run_folder(f.out, f.train.overwrite);

    if (f.format == "sst5") {
        pplm::find_sst_files(f.data);
    } else if (f.format == "tsv") {
        check(fs::is_regular_file(f.data, ec) && std::ifstream(f.data).good(),
              "--data {}: not a readable file (--format tsv reads one label<TAB>text per line)",
              f.data);
    } else {
        const std::vector<std::string> topics = pplm::fortune_topics(f.data);
        std::string available;
        for (const std::string& t : topics) available += (available.empty() ? "" : ", ") + t;
        for (const std::string& c : f.classes)
            check(std::find(topics.begin(), topics.end(), c) != topics.end(),
                  "--classes: no topic file '{}' in {}; the topics are: {}", c, f.data,
                  available.empty() ? "(none)" : available);
    }
    return config;
}

void say(const std::string& line) {
    fmt::print("{}\n", line);
    std::fflush(stdout);
}

int run_train_discrim(int argc, char** argv) {
    CLI::App app{
        "Train a PPLM discriminator: a linear head on the mean of a frozen GPT-2's last hidden "
        "states, with <|endoftext|> put in front of each text (uber's run_pplm_discrim_train.py)"};
    Flags f;
    app.add_option("--model", f.model, "the frozen GPT-2 (Hugging Face folder)")->required();
    app.add_option("--data", f.data,
                   "sst5: the folder of train.txt/dev.txt/test.txt or one of them; tsv: the file; "
                   "fortunes: the folder of topic files (e.g. /usr/share/games/fortunes)")
        ->required();
    app.add_option("--format", f.format, "sst5 | tsv (label<TAB>text lines) | fortunes")
        ->required()
        ->check(CLI::IsMember({"sst5", "tsv", "fortunes"}));
    app.add_option("--out", f.out, "run folder: epoch_N/, best/, metrics.csv, metrics.png")
        ->required();
    app.add_option("--epochs", f.train.epochs, "passes over the training examples")
        ->capture_default_str();
    app.add_option("--batch-size", f.train.batch_size, "examples per Adam step")
        ->capture_default_str();
    app.add_option("--lr", f.train.lr, "Adam's learning rate")->capture_default_str();
    app.add_flag("--cached", f.train.cached,
                 "compute each example's mean hidden state once, then train the head on those");
    app.add_option("--max-length", f.max_length,
                   "drop examples longer than this many tokens (<|endoftext|> included)")
        ->capture_default_str();
    app.add_option("--seed", f.train.seed, "seed of the split, the head's init and batch order")
        ->capture_default_str();
    app.add_option("--classes", f.classes,
                   "fortunes: the topic files that are the classes, e.g. computers,love,science")
        ->delimiter(',');
    app.add_option("--tokenizer", f.tokenizer,
                   "vocab.json + merges.txt or encoder.json + vocab.bpe (default: the model folder "
                   "if it has them, else the GPT-2 files of scripts/setup.sh)");
    app.add_flag("--overwrite", f.train.overwrite,
                 "replace an earlier run in --out (its epoch_*/, best/ and metrics)");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    f.train.out = f.out;

    const gpt::GPT2Config config = validate(f);
    const gpt::Tokenizer tokenizer = require_tokenizer(f.tokenizer, f.model);
    check(tokenizer.vocab_size() <= config.vocab_size,
          "--tokenizer: it has {} ids but the model's vocabulary only {}; pass the model's own "
          "tokenizer",
          tokenizer.vocab_size(), config.vocab_size);
    check(config.bos_token_id >= 0 && config.bos_token_id < config.vocab_size,
          "--model {}: bos_token_id {} is outside the vocabulary of {}", f.model,
          config.bos_token_id, config.vocab_size);

    // --- data: read, tokenize, drop the long ones, split
    const auto start = Clock::now();
    pplm::LabeledData data = pplm::read_labeled_data(f.format, f.data, f.classes);
    for (const std::string& line : data.notes) say(line);
    const auto K = static_cast<int64_t>(data.class_names.size());
    std::vector<int64_t> dropped(K, 0), per_set_dropped;
    auto encode = [&](const std::vector<pplm::LabeledText>& set) {
        auto out = pplm::encode_examples(set, tokenizer, config.bos_token_id, f.max_length, K,
                                         &per_set_dropped);
        for (int64_t k = 0; k < K; ++k) dropped[k] += per_set_dropped[k];
        return out;
    };
    std::vector<pplm::TokenizedExample> train = encode(data.train), test, dev;
    if (data.test.empty()) {
        // tsv and fortunes: a seeded 90/10 split of everything kept.
        std::vector<pplm::TokenizedExample> all = std::move(train);
        pplm::random_split(all, 0.9, f.train.seed, train, test);
    } else {
        test = encode(data.test);
        dev = encode(data.dev);
    }
    std::vector<int64_t> count(K, 0), train_count(K, 0);
    for (const auto* set : {&train, &test, &dev})
        for (const auto& e : *set) ++count[e.label];
    for (const auto& e : train) ++train_count[e.label];
    for (int64_t k = 0; k < K; ++k) {
        say(fmt::format(
            "class {} {}: {} examples ({} for training){}", k, data.class_names[k], count[k],
            train_count[k],
            dropped[k] ? fmt::format(", {} longer than {} tokens dropped", dropped[k], f.max_length)
                       : ""));
        check(count[k] > 0, "class {} '{}' has no example{}", k, data.class_names[k],
              dropped[k] ? fmt::format(" left: all {} are longer than --max-length {}", dropped[k],
                                       f.max_length)
                         : "");
    }
    check(!train.empty() && !test.empty(),
          "--data {}: {} example(s) kept: too few for a training and a test set", f.data,
          train.size() + test.size());
    say(fmt::format("data: {} training, {} test{} examples, {} classes ({:.1f} s)", train.size(),
                    test.size(), dev.empty() ? "" : fmt::format(", {} dev", dev.size()), K,
                    std::chrono::duration<double>(Clock::now() - start).count()));

    // --- model, head, training
    auto model = gpt::load_pretrained(f.model);
    say(fmt::format("model: {} ({} layers, n_embd {}), frozen; {}", f.model, config.n_layer,
                    config.n_embd,
                    f.train.cached ? "--cached: hidden states computed once"
                                   : "GPT-2 runs on every batch (--cached is faster)"));
    pplm::ClassifierMeta meta;
    meta.class_size = K;
    meta.embed_size = config.n_embd;
    for (int64_t k = 0; k < K; ++k) meta.class_vocab[data.class_names[k]] = k;
    meta.default_class = data.default_class;
    meta.pretrained_model = f.model;

    ProgressBar bar(isatty(STDERR_FILENO) != 0);
    pplm::DiscrimCallbacks callbacks;
    callbacks.log = say;
    callbacks.progress = [&](const pplm::BatchProgress& p) { bar(p); };
    const pplm::DiscrimTrainResult r =
        pplm::train_discriminator(*model, train, test, dev, meta, f.train, callbacks);
    say(
        fmt::format("metrics: {0}/metrics.csv, plot: {0}/metrics.png, best discriminator: "
                    "{0}/best (epoch {1}); use it with gradstack pplm --discrim {0}/best",
                    f.out, r.best_epoch));
    return 0;
}

const bool registered = register_command(
    {"train-discrim", "train a PPLM discriminator head on a frozen GPT-2 (SST-5, TSV, fortunes)",
     run_train_discrim});

}  // namespace

}  // namespace gradstack::apps
