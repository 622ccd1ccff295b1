// `gradstack demo`: the whole stack in one command. It trains a small GPT-2 on the English
// fortunes that Debian's `fortunes` package installs (or reuses the model trained last time), then
// prints continuations of a few prompts with greedy search, beam search and top-k/top-p sampling
// side by side. With --model DIR it skips training and uses that model (e.g. a downloaded GPT-2).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/command.h"
#include "apps/train.h"
#include "gpt/checkpoint.h"
#include "gpt/generation/generate.h"
#include "gpt/tokenizer/tokenizer.h"
#include "gpt/tokenizer/train.h"
#include "gpt/trainer.h"
#include "tensor/io.h"

namespace gradstack::apps {
namespace {

namespace fs = std::filesystem;

// The fortune topic files: plain files without an extension (the .dat indexes are binary and the
// .u8 names are links to the same text).
std::vector<std::string> fortune_files(const fs::path& dir) {
    check(fs::is_directory(dir), "{}: not found; install Debian's fortunes package (scripts/setup.sh "
          "does) or pass --corpus DIR", dir.string());
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && !e.is_symlink() && e.path().extension().empty())
            files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    check(!files.empty(), "{}: no fortune files in it", dir.string());
    return files;
}

int64_t saved_step(const fs::path& run) {
    std::ifstream in(run / "trainer_state.json");
    if (!in) return -1;
    try {
        return nlohmann::json::parse(in).at("step").get<int64_t>();
    } catch (const std::exception&) {
        return -1;
    }
}

// A fortune ends at a line holding only '%' (the corpus's separator): keep the first one.
std::string first_fortune(std::string s) {
    if (auto end = s.find("\n%"); end != std::string::npos) s.resize(end);
    return s;
}

std::string one_line(std::string s) {
    for (char& ch : s)
        if (ch == '\n' || ch == '\t') ch = ' ';
    return s;
}

int run_demo(int argc, char** argv) {
    CLI::App app{"Train a small GPT-2 on fortunes (or use --model) and compare decoding strategies"};
    std::string model_dir, corpus = "/usr/share/games/fortunes";
    std::string run_dir = (fs::path(data_root()).parent_path() / "runs" / "demo").string();
    gpt::TrainConfig c;
    c.n_layer = 4;
    c.n_head = 4;
    c.n_embd = 128;
    c.context = 128;
    c.dropout = 0.0;
    c.steps = 1600;  // about 6 minutes on two cores
    c.batch_size = 16;
    c.lr = 2e-3;
    c.min_lr = 2e-4;
    c.warmup = 50;
    c.eval_every = 200;
    c.save_every = 400;
    c.log_every = 20;
    c.sample_prompt = "The secret of life is";
    int64_t vocab = 4096, new_tokens = 40;
    bool retrain = false;
    app.add_option("--model", model_dir, "use this Hugging Face GPT-2 folder; skip training");
    app.add_option("--corpus", corpus, "folder of fortune files to train on")->capture_default_str();
    app.add_option("--run", run_dir, "where the demo's model, tokenizer and metrics go")->capture_default_str();
    app.add_option("--steps", c.steps, "training steps")->capture_default_str();
    app.add_option("--vocab-size", vocab, "BPE vocabulary trained on the corpus")->capture_default_str();
    app.add_option("--new-tokens", new_tokens, "tokens generated per prompt")->capture_default_str();
    app.add_flag("--retrain", retrain, "train again even when a trained model is in --run");
    CLI11_PARSE(app, argc, argv);

    std::string model_path = model_dir;
    if (model_dir.empty()) {
        model_path = run_dir;
        c.out = run_dir;
        if (!retrain && saved_step(run_dir) >= c.steps && fs::exists(fs::path(run_dir) / "model.safetensors")) {
            fmt::print("reusing the model trained in {} ({} steps; --retrain trains again)\n", run_dir, c.steps);
        } else {
            if (retrain) fs::remove_all(run_dir);
            c.data = fortune_files(corpus);
            fs::path tok_dir = fs::path(run_dir) / "tokenizer";
            if (!fs::exists(tok_dir / "vocab.json")) {
                fmt::print("training a {}-token byte-level BPE vocabulary on {} fortune files\n", vocab, c.data.size());
                gpt::BpeTrainer trainer(gpt::BpeTrainOptions{vocab, 2, {"<|endoftext|>"}});
                for (const auto& f : c.data) trainer.add_file(f);
                trainer.train().save(tok_dir.string());
            }
            c.tokenizer = tok_dir.string();
            c.resume = saved_step(run_dir) > 0;  // an interrupted demo picks up where it stopped
            fmt::print("training a {}-layer GPT-2 ({} dims, context {}) for {} steps on {}\n", c.n_layer,
                       c.n_embd, c.context, c.steps, corpus);
            gpt::TrainResult r = train_with_ctrl_c(c);
            if (r.interrupted) return 130;
            fmt::print("validation loss {:.3f} (perplexity {:.1f}), next-token accuracy {:.1f}%\n",
                       r.last_val_loss, std::exp(r.last_val_loss), 100 * r.last_val_accuracy);
        }
    }

    auto model = gpt::load_pretrained(model_path);
    gpt::Tokenizer tok = fs::exists(fs::path(model_path) / "vocab.json")
                             ? gpt::Tokenizer::from_directory(model_path)
                             : gpt::load_default_tokenizer();
    const std::vector<std::string> prompts = {"You will", "The secret of life is",
                                              "Q: Why did the programmer quit his job?\nA:",
                                              "A computer"};
    struct Strategy {
        std::string name;
        gpt::GenerationConfig config;
    };
    std::vector<Strategy> strategies(3);
    for (auto& s : strategies) {
        s.config.max_new_tokens = new_tokens;
        s.config.eos_token_id = tok.eot_id();
        s.config.bos_token_id = model->config().bos_token_id;
        s.config.no_repeat_ngram_size = 3;
    }
    strategies[0].name = "greedy";
    strategies[1].name = "beam search (4 beams)";
    strategies[1].config.num_beams = 4;
    strategies[1].config.early_stopping = gpt::EarlyStopping::yes;
    strategies[2].name = "sampling (T=0.8, top-k 40, top-p 0.9)";
    strategies[2].config.do_sample = true;
    strategies[2].config.temperature = 0.8;
    strategies[2].config.top_k = 40;
    strategies[2].config.top_p = 0.9;
    strategies[2].config.seed = 7;
    for (const std::string& prompt : prompts) {
        fmt::print("\n=== prompt: {}\n", one_line(prompt));
        std::vector<int64_t> ids = tok.encode(prompt);
        for (const auto& s : strategies) {
            auto out = gpt::generate(*model, {ids}, s.config);
            fmt::print("  {:<40} {}{}\n", s.name + ":", one_line(prompt),
                       one_line(first_fortune(tok.decode_text(out[0][0].new_ids))));
        }
    }
    if (model_dir.empty())
        fmt::print("\nmetrics: {0}/metrics.csv, plot: {0}/metrics.png\n", run_dir);
    return 0;
}

const bool registered = register_command(
    {"demo", "train a small GPT-2 on fortunes (or use --model) and compare decoding strategies",
     run_demo});

}  // namespace
}  // namespace gradstack::apps
