// Training the discriminator of PPLM (classifier.h's ClassifierHead) on labeled text, as uber's
// run_pplm_discrim_train.py does, on our own autograd:
//   h = mean over t < length of GPT-2's last hidden states (after ln_f) of [<|endoftext|>] + text
//   loss = cross_entropy(W h + b, label)          only W and b learn; GPT-2 is frozen
// with Adam, one checkpoint per epoch and the best epoch (highest test accuracy) kept.
// Three readers give the labeled text: SST-5's PTB trees, label<TAB>text files, and Debian's
// fortunes topic files (one class per file). `gradstack train-discrim` (apps/train_discrim.cpp) is
// a thin layer over this. Read next: discrim_data.cpp (the readers), discrim_train.cpp (the loop).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "gpt/model.h"
#include "gpt/tokenizer/tokenizer.h"
#include "pplm/classifier.h"

namespace gradstack::pplm {

struct LabeledText {
    std::string text;
    int64_t label = 0;  // class id, an index into LabeledData::class_names
};

// What a reader gives: the class names (id = index), the examples, and the held-out sets when the
// data brings its own (SST-5); otherwise `test` is empty and the examples are split 90/10.
struct LabeledData {
    std::vector<std::string> class_names;
    int64_t default_class = 0;  // meta.json's default_class
    std::vector<LabeledText> train;
    std::vector<LabeledText> test;
    std::vector<LabeledText> dev;    // SST-5's dev.txt (evaluated each epoch as well)
    std::vector<std::string> notes;  // what the reader skipped, one line each, for the log
};

// --- SST-5 ---------------------------------------------------------------------------------------

// SST-5's classes by label: very_negative (0), negative, neutral, positive, very_positive (4).
const std::vector<std::string>& sst5_class_names();
// One PTB tree "(3 (2 It) (4 (2 's) ...))": label = the root's number (0..4), text = the leaves in
// order joined by single spaces with the PTB escapes undone (-LRB- ( -RRB- ) -LSB- [ -RSB- ]
// -LCB- { -RCB- } \/ / \* * and the quote tokens `` '' as "). Throws gradstack::Error naming
// `where` (e.g. "train.txt:12") and the column for unbalanced parentheses, a label that is not
// 0..4, a tree without leaves or text after the tree.
LabeledText parse_sst_tree(std::string_view line, const std::string& where = "tree");
// Every non-blank line of `path` as a tree.
std::vector<LabeledText> read_sst_file(const std::string& path);

struct SstFiles {
    std::string train, dev, test;  // dev is "" when dev.txt is absent
};
// `data` is the SST-5 folder or any file in it; train.txt and test.txt must be there.
SstFiles find_sst_files(const std::string& data);
// train.txt, test.txt (and dev.txt) read; default_class 4 (very_positive; see README.md).
LabeledData read_sst5(const std::string& data);

// --- label<TAB>text ------------------------------------------------------------------------------

// Each line "label<TAB>text" (a trailing \r is dropped). As uber's csv reading: an empty line is
// ignored, the text is the second field (further fields are ignored), a line without a tab or with
// an empty label is skipped and counted (LabeledData::notes names the first few, as file:line).
// Classes are the sorted set of labels (uber's get_idx2class), ids in that order; default_class 0.
// Throws when the file cannot be read or has no usable line.
LabeledData read_tsv(const std::string& path);

// --- Debian fortunes -----------------------------------------------------------------------------

// The fortunes of one topic file: they are separated by lines holding only "%". Each is trimmed
// of surrounding blank space, backspaces are applied as a terminal would (the "_\b" overstriking of
// some files), and empty ones are dropped.
std::vector<std::string> split_fortunes(std::string_view file_text);
// The topic files of a fortunes folder, sorted: its regular files, without strfile's index files
// (*.dat) and the *.u8 links.
std::vector<std::string> fortune_topics(const std::string& dir);
// One class per topic (ids in the order given, default_class 0). Throws for an unknown topic,
// listing the available ones, and for a topic with no fortune.
LabeledData read_fortunes(const std::string& dir, const std::vector<std::string>& topics);

// The three above by name: format "sst5", "tsv" or "fortunes" (`topics` only for fortunes).
LabeledData read_labeled_data(const std::string& format, const std::string& data,
                              const std::vector<std::string>& topics);

// --- token ids -----------------------------------------------------------------------------------

struct TokenizedExample {
    std::vector<int64_t> ids;  // bos first, then the text's tokens
    int64_t label = 0;
};

// [bos] + tokenizer.encode(text) for each example (invalid UTF-8 becomes U+FFFD first), keeping
// those of at most `max_length` ids (uber keeps texts of fewer than 100 tokens before the
// prepended one: the same rule for max_length 100). `dropped_per_class` (size n_classes) counts,
// per class, the examples dropped for their length.
std::vector<TokenizedExample> encode_examples(const std::vector<LabeledText>& examples,
                                              const gpt::Tokenizer& tokenizer, int64_t bos_id,
                                              int64_t max_length, int64_t n_classes,
                                              std::vector<int64_t>* dropped_per_class = nullptr);

// A seeded random split: the first floor(train_fraction * n) of a random permutation train, the
// rest test (torch.utils.data.random_split's sizes in uber's script: int(0.9 * n)).
void random_split(const std::vector<TokenizedExample>& all, double train_fraction, uint64_t seed,
                  std::vector<TokenizedExample>& train, std::vector<TokenizedExample>& test);

// --- training ------------------------------------------------------------------------------------

struct DiscrimTrainConfig {
    int64_t epochs = 10;
    int64_t batch_size = 64;
    double lr = 1e-4;  // Adam, PyTorch's defaults otherwise (betas 0.9, 0.999, eps 1e-8)
    // Compute each example's mean hidden state once, then train the head on those (fast epochs);
    // otherwise run the frozen GPT-2 on every batch of every epoch (the same numbers, slower).
    bool cached = false;
    uint64_t seed = 0;  // the head's initialisation and the order of batches
    // Run folder: epoch_N/ and best/ (head.safetensors + meta.json), metrics.csv, metrics.png.
    // "" writes nothing.
    std::string out;
    // Replace an earlier run in `out` (its epoch_*/, best/, metrics.*); without it, an error.
    bool overwrite = false;
};

struct EpochMetrics {
    int64_t epoch = 0;      // 1-based
    double train_loss = 0;  // mean cross-entropy over the epoch's training examples
    double test_loss = 0, test_accuracy = 0;
    double dev_loss = 0, dev_accuracy = 0;  // only when there is a dev set
    bool has_dev = false;
    double seconds = 0;  // training plus evaluation of this epoch
};

// Handed to the progress callback after each batch.
struct BatchProgress {
    std::string phase;              // "cache" (computing hidden states, --cached) or "train"
    int64_t epoch = 0, epochs = 0;  // epoch is 0 in the cache phase
    int64_t done = 0, total = 0;    // batches
    double loss = 0;                // mean training loss of the epoch so far (train phase)
    double examples_per_s = 0;
    double eta_s = 0;  // until the end of this phase (this epoch's training, or the cache)
};

struct DiscrimCallbacks {
    std::function<void(const std::string&)> log;         // one finished line at a time
    std::function<void(const BatchProgress&)> progress;  // may be empty
};

struct DiscrimTrainResult {
    std::vector<EpochMetrics> epochs;
    int64_t best_epoch = 0;       // highest test accuracy; the earliest on ties (as uber's script)
    Discriminator discriminator;  // the head after the last epoch
};

// Throws when `out` holds an earlier run (best/ or epoch_*/) and !overwrite, or is not a folder.
void check_run_folder(const std::string& out, bool overwrite);

// Trains a new ClassifierHead(meta.class_size, n_embd) on `train`, evaluating on `test` (and
// `dev`) after each epoch. `model` is put in eval mode with requires_grad off for good. meta's
// embed_size must be the model's n_embd; labels must be below class_size; train and test must not
// be empty, and every id below the vocabulary size. Throws gradstack::Error otherwise.
DiscrimTrainResult train_discriminator(gpt::GPT2LMHeadModel& model,
                                       const std::vector<TokenizedExample>& train,
                                       const std::vector<TokenizedExample>& test,
                                       const std::vector<TokenizedExample>& dev,
                                       const ClassifierMeta& meta, const DiscrimTrainConfig& config,
                                       const DiscrimCallbacks& callbacks = {});

// Draws metrics.png from metrics.csv in `dir` (losses and test accuracy per epoch) with gnuplot;
// returns false and says why in `why` when gnuplot is missing or fails. Written atomically.
bool plot_discrim_metrics(const std::string& dir, std::string* why = nullptr);

}  // namespace gradstack::pplm
