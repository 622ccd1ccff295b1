// `gradstack train`: train a GPT-2 language model from scratch or fine-tune a checkpoint on text
// files. The loop lives in gpt/trainer.h; this file maps flags to TrainConfig and turns Ctrl-C
// into "save a checkpoint and stop".
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>

#include "apps/train.h"

#include "apps/cli_common.h"
#include "apps/command.h"
#include "tensor/error.h"

namespace gradstack::apps {
namespace {

std::atomic<bool> interrupted{false};

void on_sigint(int) {
    interrupted.store(true);
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}

}  // namespace

gpt::TrainResult train_with_ctrl_c(const gpt::TrainConfig& config) {
    interrupted.store(false);
    auto previous = std::signal(SIGINT, on_sigint);
    gpt::TrainResult r = gpt::train(config, [](const std::string& line) {
        fmt::print("{}\n", line);
        std::fflush(stdout);
    }, &interrupted);
    std::signal(SIGINT, previous);
    return r;
}

namespace {

int run_train(int argc, char** argv) {
    CLI::App app{"Train a GPT-2 language model on text files (or fine-tune one)"};
    gpt::TrainConfig c;
    app.add_option("--data", c.data, "text files or folders of them (UTF-8); a resumed run keeps its own");
    app.add_option("--out", c.out, "run folder: checkpoints, metrics.csv/png, token cache")->required();
    app.add_option("--init-from", c.init_from, "fine-tune this Hugging Face model folder");
    app.add_flag("--resume", c.resume, "continue the run saved in --out with its saved settings "
                 "(same losses as without stopping)");
    app.add_flag("--overwrite", c.overwrite, "start a new run in an --out that holds one (its "
                 "checkpoint is replaced by the new run's first)");
    app.add_option("--tokenizer", c.tokenizer, "tokenizer folder of a new model (default: GPT-2's)");
    app.add_option("--n-layer", c.n_layer, "new model: transformer blocks")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--n-head", c.n_head, "new model: attention heads")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--n-embd", c.n_embd, "new model: embedding size")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--context", c.context, "tokens per training window (a new model's n_positions)")->check(integer_in(2, kMaxCount))->capture_default_str();
    app.add_option("--dropout", c.dropout, "new model: dropout probability")->check(real_in(0, 1, false, true))->capture_default_str();
    app.add_option("--steps", c.steps, "optimizer steps")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--batch-size", c.batch_size, "windows per micro-batch")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--grad-accum", c.grad_accum, "micro-batches per optimizer step")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--lr", c.lr, "peak learning rate (AdamW)")->check(real_in(0, kInf, true))->capture_default_str();
    app.add_option("--min-lr", c.min_lr, "learning rate at the end of the cosine decay")->check(real_in(0, kInf))->capture_default_str();
    app.add_option("--warmup", c.warmup, "linear warm-up steps")->check(integer_in(0, kMaxCount))->capture_default_str();
    app.add_option("--weight-decay", c.weight_decay, "AdamW weight decay (not on biases/LayerNorm)")->check(real_in(0, 1e6))->capture_default_str();
    app.add_option("--beta2", c.beta2, "AdamW beta2")->check(real_in(0, 1, false, true))->capture_default_str();
    app.add_option("--clip", c.clip, "gradient clipping by global norm")->check(real_in(0, kInf, true))->capture_default_str();
    app.add_option("--val-fraction", c.val_fraction, "last fraction of the tokens kept for validation")->check(real_in(0, 1, true, true))->capture_default_str();
    app.add_option("--eval-every", c.eval_every, "steps between evaluations (and samples)")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--eval-batches", c.eval_batches, "validation batches per evaluation")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--save-every", c.save_every, "steps between checkpoints")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--log-every", c.log_every, "steps between progress lines")->check(integer_in(1, kMaxCount))->capture_default_str();
    app.add_option("--seed", c.seed, "seed of initialisation, dropout and batches")
        ->check(seed_value())
        ->capture_default_str();
    app.add_option("--sample-prompt", c.sample_prompt, "prompt of the sample printed at each evaluation");
    app.add_option("--sample-tokens", c.sample_tokens, "tokens per sample")->check(integer_in(0, kMaxCount))->capture_default_str();
    std::string device_name;
    add_device_option(app, device_name);
    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    const Device device = resolve_device(device_name);

    // A fine-tuned model's shape is the checkpoint's: the flags of a new model contradict it.
    if (!c.init_from.empty()) {
        for (const char* flag : {"--n-layer", "--n-head", "--n-embd", "--dropout", "--tokenizer"})
            check(app.count(flag) == 0, "{} sets up a new model, but --init-from {} fine-tunes a "
                  "saved one (its config.json decides): pass one or the other", flag, c.init_from);
    }
    gpt::validate(c);  // the flags as given (train() checks the merged settings again)
    if (c.resume) {
        // The run's own settings, with the flags given here (a contradiction is an error).
        std::vector<std::string> given;
        for (const CLI::Option* o : app.get_options()) {
            if (o->count() == 0) continue;
            std::string key = o->get_name();
            key.erase(0, key.find_first_not_of('-'));
            std::replace(key.begin(), key.end(), '-', '_');
            if (key != "device") given.push_back(key);  // not a setting of the run
        }
        c = gpt::resumed_config(c, given);
    }
    c.device = device;

    gpt::TrainResult r = train_with_ctrl_c(c);
    fmt::print("metrics: {0}/metrics.csv, plot: {0}/metrics.png, model: {0}\n", c.out);
    return r.interrupted ? 130 : 0;
}

const bool registered = register_command(
    {"train", "train or fine-tune a GPT-2 language model on text files", run_train});

}  // namespace
}  // namespace gradstack::apps
