// `gradstack demo`: the whole stack in one command. It trains a small GPT-2 on the English
// fortunes that Debian's `fortunes` package installs (or reuses the model trained last time), then
// prints continuations of a few prompts with greedy search, beam search and top-k/top-p sampling
// side by side. With --model DIR it skips training and uses that model (e.g. a downloaded GPT-2).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "apps/pplm_flags.h"
#include "apps/train.h"
#include "gpt/checkpoint.h"
#include "gpt/generation/generate.h"
#include "gpt/tokenizer/tokenizer.h"
#include "gpt/tokenizer/train.h"
#include "gpt/trainer.h"
#include "pplm/discrim_train.h"
#include "pplm/generate.h"
#include "tensor/error.h"
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

// The PPLM part: a discriminator on a few fortunes topics (trained on cached hidden states, a few
// seconds, so always afresh for the model at hand), and the built-in bag whose words this
// vocabulary holds best.
std::shared_ptr<pplm::Discriminator> demo_discriminator(gpt::GPT2LMHeadModel& model,
                                                        const gpt::Tokenizer& tok,
                                                        const std::string& corpus,
                                                        const fs::path& dir,
                                                        const std::vector<std::string>& topics) {
    pplm::LabeledData data = pplm::read_fortunes(corpus, topics);
    auto all = pplm::encode_examples(data.train, tok, eot_prompt(tok, model.config())[0],
                                     std::min<int64_t>(100, model.config().n_positions),
                                     static_cast<int64_t>(topics.size()));
    std::vector<pplm::TokenizedExample> train, test;
    pplm::random_split(all, 0.9, 0, train, test);
    pplm::ClassifierMeta meta;
    meta.class_size = static_cast<int64_t>(topics.size());
    meta.embed_size = model.config().n_embd;
    for (size_t k = 0; k < topics.size(); ++k) meta.class_vocab[topics[k]] = static_cast<int64_t>(k);
    meta.pretrained_model = "gradstack demo";
    pplm::DiscrimTrainConfig c;
    c.epochs = 20;
    c.lr = 3e-3;
    c.cached = true;
    c.out = dir.string();
    c.overwrite = true;
    fmt::print("training a discriminator on fortunes topics {} ({} training, {} test examples, "
               "cached hidden states)\n", fmt::join(topics, ", "), train.size(), test.size());
    auto r = pplm::train_discriminator(model, train, test, {}, meta, c);
    const auto& best = r.epochs[r.best_epoch - 1];
    fmt::print("discriminator: test accuracy {:.1f}% (epoch {}), in {}\n", 100 * best.test_accuracy,
               r.best_epoch, (dir / "best").string());
    return std::make_shared<pplm::Discriminator>(pplm::load_discriminator((dir / "best").string()));
}

std::string best_fitting_bag(const gpt::Tokenizer& tok) {
    std::string best;
    size_t kept = 0;
    for (const std::string& name : pplm::builtin_bags()) {
        if (name == "positive_words") continue;  // a sentiment list, not a topic
        const size_t n = pplm::load_bag(name, tok).ids.size();
        if (n > kept) kept = n, best = name;
    }
    return best;
}

void pplm_demo(gpt::GPT2LMHeadModel& model, const gpt::Tokenizer& tok, const std::string& corpus,
               const fs::path& discrim_dir, int64_t new_tokens) {
    const std::vector<std::string> topics = {"computers", "love", "food"};
    fmt::print("\n=== PPLM: steering the same model with a bag of words and with a discriminator\n");
    auto discrim = demo_discriminator(model, tok, corpus, discrim_dir, topics);
    pplm::AttributeModel bow;
    bow.bags.push_back(pplm::load_bag(best_fitting_bag(tok), tok));
    // Both steer towards computers, one by its words, one by what the discriminator learned of
    // the topic (on this small model, love and food steer less legibly).
    const std::string target = "computers";
    pplm::AttributeModel disc;
    disc.discrim = discrim;
    disc.class_label = discrim->meta.class_vocab.at(target);
    const std::string prompt = "The best thing about";
    const std::vector<int64_t> ids = eot_prompt(tok, model.config(), prompt);

    // Step sizes for this 4-layer, 128-dim model (run_pplm.py's 0.02 barely moves it).
    pplm::PplmConfig c;
    c.length = new_tokens;
    auto plain = pplm::generate_unperturbed(model, ids, c.length, 1, false, 10, 1.0, nullptr)[0];
    c.stepsize = 0.2;
    auto steered_bow = pplm::generate_pplm(model, ids, bow, c, nullptr)[0];
    c.stepsize = 0.1;
    auto steered_disc = pplm::generate_pplm(model, ids, disc, c, nullptr)[0];
    auto p_target = [&](const std::vector<int64_t>& t) {
        return pplm::class_probabilities(model, ids, {t}, *discrim, disc.class_label)[0];
    };
    fmt::print("prompt: {}   (bag '{}': {} single-token words in this vocabulary; discriminator "
               "classes {})\n",
               prompt, bow.bags[0].name, bow.bags[0].ids.size(), fmt::join(topics, ", "));
    auto row = [&](const std::string& name, const std::vector<int64_t>& t) {
        fmt::print("  {:<30} [{} bag words, p({}) {:.2f}] {}{}\n", name + ":", pplm::count_in_bags(bow.bags, t),
                   target, p_target(t), prompt, one_line(first_fortune(tok.decode_text(t))));
    };
    row("plain (greedy)", plain.new_ids);
    row("PPLM bag '" + bow.bags[0].name + "'", steered_bow.new_ids);
    row("PPLM discriminator '" + target + "'", steered_disc.new_ids);
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
    // 14 minutes in all on the 2-core Zen 1 EPYC, about what 1,600 steps took there before its
    // AVX2 kernels: validation loss 4.483, against 4.55 for the 1,600-step schedule.
    c.steps = 1900;
    c.batch_size = 16;
    c.lr = 2e-3;
    c.min_lr = 2e-4;
    c.warmup = 50;
    c.eval_every = 200;
    c.save_every = 400;
    c.log_every = 20;
    c.sample_prompt = "The secret of life is";
    int64_t vocab = 4096, new_tokens = 40;
    bool retrain = false, skip_pplm = false;
    app.add_option("--model", model_dir, "use this Hugging Face GPT-2 folder; skip training");
    app.add_option("--corpus", corpus, "folder of fortune files to train on")->capture_default_str();
    app.add_option("--run", run_dir, "where the demo's model, tokenizer and metrics go")->capture_default_str();
    app.add_option("--steps", c.steps, "training steps")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--vocab-size", vocab, "BPE vocabulary trained on the corpus")->check(integer_in(258, 1 << 20))->capture_default_str();
    app.add_option("--new-tokens", new_tokens, "tokens generated per prompt")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_flag("--retrain", retrain, "train again even when a trained model is in --run");
    app.add_flag("--skip-pplm", skip_pplm, "leave out the PPLM part");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;

    // Every flag is checked before the (minutes-long) training starts.
    check(new_tokens >= 1, "--new-tokens {} must be >= 1", new_tokens);
    check(!model_dir.empty() || new_tokens < c.context, "--new-tokens {} must be in [1, {}]: the "
          "demo model's context is {} tokens", new_tokens, c.context - 1, c.context);
    const gpt::BpeTrainOptions bpe{vocab, 2, {"<|endoftext|>"}};
    gpt::BpeTrainer{bpe};  // checks --vocab-size
    std::string model_path = model_dir;
    if (model_dir.empty()) {
        model_path = run_dir;
        c.out = run_dir;
        c.data = fortune_files(corpus);
        const fs::path tok_dir = fs::path(run_dir) / "tokenizer";
        c.tokenizer = tok_dir.string();
        gpt::validate(c);
        // The run in --run: reused when trained at least --steps, continued when it stopped
        // early (Ctrl-C) on the same schedule; --retrain trains a new one over it (the old model
        // stays until the new run's first checkpoint).
        const std::optional<gpt::SavedRun> saved = retrain ? std::nullopt : gpt::saved_run(run_dir);
        // Without --steps, a run already there keeps its own schedule: one trained before the
        // default changed is reused (or continued), not refused.
        if (saved && saved->has_settings && app.count("--steps") == 0) c.steps = saved->config.steps;
        const bool complete = saved && saved->step >= (saved->has_settings ? saved->config.steps : c.steps);
        if (saved && complete && saved->step >= c.steps) {
            fmt::print("reusing the model trained in {} ({} steps; --retrain trains again)\n", run_dir,
                       saved->step);
        } else {
            if (saved && saved->has_settings && saved->config.steps != c.steps) {
                fail("--steps {}: the demo run in {} {}; pass --steps {} to {} it, or --retrain to "
                     "train a new one for {} steps", c.steps, run_dir,
                     complete ? fmt::format("was trained for {} steps", saved->step)
                              : fmt::format("stopped at step {} of {}", saved->step, saved->config.steps),
                     saved->config.steps, complete ? "use" : "continue", c.steps);
            }
            if (retrain || !fs::exists(tok_dir / "vocab.json")) {
                fmt::print("training a {}-token byte-level BPE vocabulary on {} fortune files\n", vocab, c.data.size());
                gpt::BpeTrainer trainer(bpe);
                for (const auto& f : c.data) trainer.add_file(f);
                trainer.train().save(tok_dir.string());
            }
            c.resume = saved.has_value() && !retrain;  // an interrupted demo picks up where it stopped
            c.overwrite = !c.resume;  // nothing complete to keep, or --retrain
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
    if (!skip_pplm) {
        const fs::path discrim_dir = model_dir.empty()
                                         ? fs::path(run_dir) / "discrim"
                                         : fs::path(run_dir + "-discrim-" + fs::path(model_dir).filename().string());
        pplm_demo(*model, tok, corpus, discrim_dir, new_tokens);
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
