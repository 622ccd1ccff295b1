// Training a GPT-2 language model: from scratch (a config plus a tokenizer) or fine-tuning a
// checkpoint, on text files. AdamW with no decay on biases and LayerNorm weights, warm-up + cosine
// learning rate, global-norm clipping, gradient accumulation, evaluation (validation loss and
// next-token accuracy) with a sample, metrics.csv + metrics.png, and checkpoints in Hugging Face
// layout plus optimizer state that --resume continues from with identical losses.
// `gradstack train` (apps/train.cpp) is a thin layer over this. Read next: trainer.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensor/device.h"

namespace gradstack::gpt {

struct TrainConfig {
    std::vector<std::string> data;  // text files or folders
    std::string out;                // checkpoint, metrics and token cache go here
    std::string tokenizer;          // new model: its tokenizer folder ("" = the GPT-2 one)
    std::string init_from;          // fine-tune this Hugging Face folder instead of a new model
    bool resume = false;            // continue the run saved in `out`
    bool overwrite = false;         // start a new run in an `out` that holds one (see train())

    // A new model (ignored with init_from, except context which must fit n_positions).
    int64_t n_layer = 4, n_head = 4, n_embd = 128;
    int64_t context = 128;  // tokens per training window (n_positions of a new model)
    double dropout = 0.1;

    int64_t steps = 1000;
    int64_t batch_size = 16;
    int64_t grad_accum = 1;  // micro-batches per optimizer step
    double lr = 1e-3, min_lr = 1e-4;
    int64_t warmup = 100;
    double weight_decay = 0.1;
    double beta1 = 0.9, beta2 = 0.99;
    double clip = 1.0;
    double val_fraction = 0.1;
    int64_t eval_every = 100, eval_batches = 10;
    int64_t save_every = 500;
    int64_t log_every = 10;
    uint64_t seed = 1337;
    // Where the model trains (--device); not part of a run's settings: a run saved on one device
    // resumes on another.
    Device device = Device::cpu();
    std::string sample_prompt = "";  // "" starts from <|endoftext|>
    int64_t sample_tokens = 48;
};

struct TrainResult {
    int64_t steps_done = 0;
    double last_train_loss = 0;
    double last_val_loss = 0, last_val_accuracy = 0;
    std::vector<double> train_losses;  // per step run in this call
    bool interrupted = false;
};

// Runs training. Progress goes to `log` (one line per log_every steps and per evaluation).
// `stop` is polled after every step (SIGINT sets it): when set, a checkpoint is saved and the
// result says interrupted. Throws gradstack::Error for bad settings or data, naming them, before
// any work. The run folder (gpt/run_folder.h) keeps every checkpoint as a unit, so a kill at any
// instant leaves a run that --resume continues:
//   - an `out` that already holds a run needs `resume` (continue it) or `overwrite` (start a new
//     one; the old checkpoint stays until the new run's first checkpoint is complete);
//   - `resume` must be given the run's own settings (resumed_config() fills them in from the
//     saved state); one that would change the weights is an error naming it;
//   - a step whose loss or gradient norm is not finite stops the run with an error naming the
//     step; nothing of it is saved and the last checkpoint stays as it was.
TrainResult train(const TrainConfig& config, const std::function<void(const std::string&)>& log,
                  const std::atomic<bool>* stop = nullptr);

// Checks every setting against its allowed range (and that resume and overwrite are not both
// set); throws gradstack::Error naming the flag (--lr, --val-fraction, ...) and the range.
void validate(const TrainConfig& config);

// The run saved in `out`: its latest checkpoint's step and settings (has_settings false for a
// run saved before settings were recorded; `config` then holds only `out`). None when `out`
// holds no complete checkpoint.
struct SavedRun {
    int64_t step = 0;
    TrainConfig config;
    bool has_settings = false;
    std::filesystem::path checkpoint;  // the folder it was read from
};
std::optional<SavedRun> saved_run(const std::string& out);

// The settings a run was saved with (OUT's latest checkpoint, trainer_state.json), with the
// values of `given` for the keys named in `given_keys` (the flags on the command line, as
// TrainConfig member names: "lr", "n_layer", "data", ...). A given key that would change the
// trained weights and differs from the saved value is an error naming the flag, both values and
// the file; the keys that only change what is printed or saved when (log_every, eval_every,
// eval_batches, save_every, sample_prompt, sample_tokens) take the new value. A run saved
// before settings were recorded returns `given` unchanged.
TrainConfig resumed_config(const TrainConfig& given, const std::vector<std::string>& given_keys);

// Draws metrics.png from metrics.csv in `dir` with gnuplot; returns false (and says why in
// `why`) when gnuplot is missing or fails. The PNG is written atomically.
bool plot_metrics(const std::string& dir, std::string* why = nullptr);

// Runs gnuplot on `commands` (everything after the terminal and output lines, which this adds:
// a 1000x700 PNG) to draw `png`, written atomically through `png`.tmp. Returns false (and says
// why in `why`) when gnuplot is missing or fails. plot_metrics and pplm's discriminator plot
// are each one call of it.
bool draw_png(const std::string& png, const std::string& commands, std::string* why = nullptr);

// --- pieces other training loops share (vae/train.cpp) ----------------------------------------

// Whether `dir` holds a tokenizer: vocab.json + merges.txt, or encoder.json + vocab.bpe.
bool has_tokenizer(const std::filesystem::path& dir);
// Copies the tokenizer of `from` into `to_dir` as vocab.json + merges.txt, atomically (nothing
// when they are the same files).
void copy_tokenizer(const std::filesystem::path& from, const std::filesystem::path& to_dir);
// Throws gradstack::Error naming `file` unless its safetensors metadata says "step" = `step`
// (the step `state_file` records): a set of checkpoint files whose writing was cut short.
void check_checkpoint_step(const std::filesystem::path& file, int64_t step,
                           const std::string& state_file = "trainer_state.json");
// "45s", "3m07s", "2h05m": for ETAs in progress lines.
std::string format_duration(double seconds);

// metrics.csv rows, kept in memory and rewritten whole (atomically) after each change; a row is
// a CSV line whose first field is the step.
struct MetricsCsv {
    std::string header;
    std::vector<std::pair<int64_t, std::string>> rows;
    // Reads the rows of `path` up to step `up_to_step` (a resumed run drops later ones).
    void load(const std::filesystem::path& path, int64_t up_to_step);
    void add(int64_t step, const std::string& line) { rows.emplace_back(step, line); }
    void save(const std::filesystem::path& path) const;
};

}  // namespace gradstack::gpt
