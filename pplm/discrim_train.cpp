// The training loop of discrim_train.h (the readers are in discrim_data.cpp). One epoch:
//   for each batch of a fresh random order of the training examples:
//     h = mean_hidden(GPT-2, ids, lengths)   (or the cached rows of h with --cached)  (B, C)
//     loss = cross_entropy(head(h), labels); backward (reaches W and b only); Adam step
//   then the test (and dev) loss and accuracy, a checkpoint, metrics.csv and metrics.png.
#include "pplm/discrim_train.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>

#include "autograd/ops.h"
#include "gpt/trainer.h"
#include "nn/optim/adam.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::pplm {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

// --- training ------------------------------------------------------------------------------------

namespace {

bool is_epoch_dir(const std::string& name) {
    return name.size() > 6 && name.rfind("epoch_", 0) == 0 &&
           std::all_of(name.begin() + 6, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The best/ and epoch_N/ folders of an earlier run in `out`.
std::vector<fs::path> earlier_run(const fs::path& out) {
    std::vector<fs::path> found;
    std::error_code ec;
    if (!fs::is_directory(out, ec)) return found;
    for (const auto& entry : fs::directory_iterator(out, ec)) {
        const std::string name = entry.path().filename().string();
        if (name == "best" || is_epoch_dir(name)) found.push_back(entry.path());
    }
    std::sort(found.begin(), found.end());
    return found;
}

// The inputs of the head for `rows` of `set`: the cached mean hidden states, or GPT-2 run now on
// the rows' ids, right-padded to the longest (the padding is left out of the mean by length).
Tensor head_inputs(gpt::GPT2LMHeadModel& model, const std::vector<TokenizedExample>& set,
                   const Tensor& cache, const std::vector<int64_t>& rows) {
    if (cache.defined()) return index_select(cache, 0, from_vector<int64_t>(rows));
    size_t T = 0;
    for (int64_t r : rows) T = std::max(T, set[r].ids.size());
    const auto R = static_cast<int64_t>(rows.size());
    std::vector<int64_t> ids(R * T, set[rows[0]].ids[0]);  // padding: any valid id
    std::vector<int64_t> lengths(R);
    for (int64_t k = 0; k < R; ++k) {
        const auto& x = set[rows[k]].ids;
        std::copy(x.begin(), x.end(), ids.begin() + k * static_cast<int64_t>(T));
        lengths[k] = static_cast<int64_t>(x.size());
    }
    return mean_hidden(model, from_vector<int64_t>(ids, {R, static_cast<int64_t>(T)}), lengths);
}

Tensor labels_of(const std::vector<TokenizedExample>& set, const std::vector<int64_t>& rows) {
    std::vector<int64_t> y;
    y.reserve(rows.size());
    for (int64_t r : rows) y.push_back(set[r].label);
    return from_vector<int64_t>(y);
}

std::vector<int64_t> rows_of(const std::vector<int64_t>& order, int64_t batch, int64_t B) {
    const auto n = static_cast<int64_t>(order.size());
    return {order.begin() + batch * B, order.begin() + std::min(n, (batch + 1) * B)};
}

int64_t batches_of(size_t n, int64_t B) {
    return (static_cast<int64_t>(n) + B - 1) / B;
}

// metrics.csv rows, rewritten whole (atomically) after each epoch.
constexpr const char* kMetricsHeader = "epoch,train_loss,test_loss,test_accuracy,seconds";

void save_metrics(const fs::path& out, const std::vector<EpochMetrics>& epochs) {
    write_file_atomically((out / "metrics.csv").string(), [&](OutputFile& f) {
        f.write(std::string(kMetricsHeader) + "\n");
        for (const EpochMetrics& m : epochs)
            f.write(fmt::format("{},{:.6f},{:.6f},{:.6f},{:.3f}\n", m.epoch, m.train_loss,
                                m.test_loss, m.test_accuracy, m.seconds));
    });
}

}  // namespace

void check_run_folder(const std::string& out, bool overwrite) {
    std::error_code ec;
    check(!fs::exists(out, ec) || fs::is_directory(out, ec), "--out {}: exists and is not a folder",
          out);
    const std::vector<fs::path> found = earlier_run(out);
    if (!found.empty() && !overwrite)
        fail(
            "--out {} already holds a discriminator run ({}/ ...); pass --overwrite to replace "
            "it, or choose another --out",
            out, found.front().filename().string());
}

bool plot_discrim_metrics(const std::string& dir, std::string* why) {
    const fs::path csv = fs::path(dir) / "metrics.csv";
    // One tic per epoch while they fit (gnuplot would label 1, 1.5, 2, ...).
    std::ifstream in(csv);
    const auto rows = std::count(std::istreambuf_iterator<char>(in), {}, '\n') - 1;
    return gpt::draw_png(
        (fs::path(dir) / "metrics.png").string(),
        fmt::format("set datafile separator ','\n"
                    "set key autotitle columnhead\n"
                    "set multiplot layout 2,1 title 'gradstack train-discrim'\n"
                    "set xlabel 'epoch'\n set ylabel 'cross-entropy'\n set grid\n{1}"
                    "plot '{0}' using 1:2 with linespoints pt 7 ps 0.6 lw 2 title 'train loss', "
                    "'' using 1:3 with linespoints pt 7 ps 0.6 lw 2 title 'test loss'\n"
                    "set ylabel 'accuracy'\n"
                    "plot '{0}' using 1:4 with linespoints pt 7 ps 0.6 lw 2 title 'test accuracy'\n"
                    "unset multiplot\n",
                    csv.string(), rows <= 20 ? "set xtics 1\n" : ""),
        why);
}

DiscrimTrainResult train_discriminator(gpt::GPT2LMHeadModel& model,
                                       const std::vector<TokenizedExample>& train,
                                       const std::vector<TokenizedExample>& test,
                                       const std::vector<TokenizedExample>& dev,
                                       const ClassifierMeta& meta, const DiscrimTrainConfig& c,
                                       const DiscrimCallbacks& callbacks) {
    const gpt::GPT2Config& mc = model.config();
    check(c.epochs >= 1, "--epochs {}: must be >= 1", c.epochs);
    check(c.batch_size >= 1, "--batch-size {}: must be >= 1", c.batch_size);
    check(c.lr > 0 && std::isfinite(c.lr), "--lr {}: must be a finite number > 0", c.lr);
    check(meta.embed_size == mc.n_embd,
          "[train_discriminator] meta.embed_size {} differs from the model's n_embd {}",
          meta.embed_size, mc.n_embd);
    check(meta.class_size >= 2, "[train_discriminator] class_size {} must be >= 2",
          meta.class_size);
    check(!train.empty(), "[train_discriminator] no training examples");
    check(!test.empty(), "[train_discriminator] no test examples");
    for (const auto* set : {&train, &test, &dev})
        for (const TokenizedExample& e : *set) {
            check(e.label >= 0 && e.label < meta.class_size,
                  "[train_discriminator] label {} not in [0, class_size={})", e.label,
                  meta.class_size);
            check(!e.ids.empty() && static_cast<int64_t>(e.ids.size()) <= mc.n_positions,
                  "[train_discriminator] an example of {} tokens; each needs 1..n_positions={}",
                  e.ids.size(), mc.n_positions);
            for (int64_t id : e.ids)
                check(id >= 0 && id < mc.vocab_size,
                      "[train_discriminator] token id {} is outside the model's vocabulary of {}",
                      id, mc.vocab_size);
        }
    auto note = [&](const std::string& line) {
        if (callbacks.log) callbacks.log(line);
    };
    const fs::path out(c.out);
    if (!c.out.empty()) {
        check_run_folder(c.out, c.overwrite);
        std::error_code ec;
        for (const fs::path& p : earlier_run(out)) fs::remove_all(p);
        for (const char* name : {"metrics.csv", "metrics.png"}) fs::remove(out / name, ec);
        fs::create_directories(out);
    }

    // GPT-2 is frozen: no dropout, and no parameter asks for a gradient (mean_hidden also runs
    // without recording, so the graph of a step is the head alone).
    model.eval();
    model.requires_grad_(false);

    const int64_t B = c.batch_size;
    Generator gen(c.seed);  // the head's initialisation, then each epoch's order
    Discriminator d{meta, std::make_shared<ClassifierHead>(meta.class_size, mc.n_embd, &gen)};
    ClassifierHead& head = *d.head;
    nn::Adam opt(head.parameters(), nn::AdamConfig{.lr = c.lr});

    // --cached: every example's mean hidden state, once, in batches of similar lengths (less
    // padding), then put back in the examples' order.
    Tensor train_cache, test_cache, dev_cache;
    if (c.cached) {
        // Each set's examples by length; a batch costs about rows x its longest row (the last),
        // which is what the ETA counts (short batches come first, so batches alone would lie).
        auto by_length = [](const std::vector<TokenizedExample>& set) {
            std::vector<int64_t> order(set.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
                return set[a].ids.size() < set[b].ids.size();
            });
            return order;
        };
        const std::vector<const std::vector<TokenizedExample>*> sets = {&train, &test, &dev};
        std::vector<std::vector<int64_t>> orders;
        int64_t total = 0;
        double total_cost = 0;
        for (const auto* set : sets) {
            orders.push_back(by_length(*set));
            total += batches_of(set->size(), B);
            for (int64_t b = 0; b < batches_of(set->size(), B); ++b) {
                const std::vector<int64_t> rows = rows_of(orders.back(), b, B);
                total_cost += static_cast<double>(rows.size() * (*set)[rows.back()].ids.size());
            }
        }
        int64_t done = 0, examples = 0;
        double cost = 0;
        const auto start = Clock::now();
        std::vector<Tensor> caches;
        for (size_t s = 0; s < sets.size(); ++s) {
            const std::vector<TokenizedExample>& set = *sets[s];
            if (set.empty()) {
                caches.emplace_back();
                continue;
            }
            std::vector<Tensor> parts;
            for (int64_t b = 0; b < batches_of(set.size(), B); ++b) {
                const std::vector<int64_t> rows = rows_of(orders[s], b, B);
                parts.push_back(head_inputs(model, set, Tensor(), rows));  // (rows, C)
                ++done;
                examples += static_cast<int64_t>(rows.size());
                cost += static_cast<double>(rows.size() * set[rows.back()].ids.size());
                if (callbacks.progress) {
                    const double secs = seconds_since(start);
                    callbacks.progress({"cache", 0, c.epochs, done, total, 0,
                                        examples / std::max(secs, 1e-9),
                                        secs / cost * (total_cost - cost)});
                }
            }
            // Row k of the concatenation holds example orders[s][k]: put back with the inverse.
            std::vector<int64_t> inverse(set.size());
            for (size_t k = 0; k < set.size(); ++k) inverse[orders[s][k]] = static_cast<int64_t>(k);
            caches.push_back(index_select(cat(parts, 0), 0, from_vector<int64_t>(inverse)));
        }
        train_cache = caches[0];  // (N, C) each
        test_cache = caches[1];
        dev_cache = caches[2];
        note(fmt::format("cached the mean hidden states of {} examples in {:.1f} s",
                         train.size() + test.size() + dev.size(), seconds_since(start)));
    }

    // Mean loss and accuracy of the head on `set`, in order, without recording.
    auto evaluate = [&](const std::vector<TokenizedExample>& set,
                        const Tensor& cache) -> std::pair<double, double> {
        NoGradGuard no_grad;
        head.eval();
        std::vector<int64_t> order(set.size());
        std::iota(order.begin(), order.end(), 0);
        double loss = 0, correct = 0;
        for (int64_t b = 0; b < batches_of(set.size(), B); ++b) {
            const std::vector<int64_t> rows = rows_of(order, b, B);
            const Tensor logits = head.forward(head_inputs(model, set, cache, rows));  // (R, K)
            const Tensor y = labels_of(set, rows);
            loss += cross_entropy(logits, y, -100, Reduction::sum).item();
            correct += sum(to_dtype(eq(argmax(logits, -1), y), DType::i64)).item();
        }
        head.train();
        const auto n = static_cast<double>(set.size());
        return {loss / n, correct / n};
    };

    DiscrimTrainResult result;
    double best_accuracy = -1;
    bool plot_warned = false;  // a missing gnuplot is said once
    const int64_t batches = batches_of(train.size(), B);
    for (int64_t epoch = 1; epoch <= c.epochs; ++epoch) {
        const auto start = Clock::now();
        head.train();
        const std::vector<int64_t> order =
            to_vector<int64_t>(randperm(static_cast<int64_t>(train.size()), &gen));
        double loss_sum = 0;
        int64_t seen = 0;
        for (int64_t b = 0; b < batches; ++b) {
            const std::vector<int64_t> rows = rows_of(order, b, B);
            const Tensor x = head_inputs(model, train, train_cache, rows);  // (R, C), no grad
            const Tensor loss = cross_entropy(head.forward(x), labels_of(train, rows));
            loss.backward();
            opt.step();
            opt.zero_grad();
            loss_sum += loss.item() * static_cast<double>(rows.size());
            seen += static_cast<int64_t>(rows.size());
            if (callbacks.progress) {
                const double secs = seconds_since(start);
                callbacks.progress(
                    {"train", epoch, c.epochs, b + 1, batches, loss_sum / static_cast<double>(seen),
                     seen / std::max(secs, 1e-9), secs / (b + 1) * (batches - b - 1)});
            }
        }
        EpochMetrics m;
        m.epoch = epoch;
        m.train_loss = loss_sum / static_cast<double>(seen);
        std::tie(m.test_loss, m.test_accuracy) = evaluate(test, test_cache);
        if (!dev.empty()) {
            m.has_dev = true;
            std::tie(m.dev_loss, m.dev_accuracy) = evaluate(dev, dev_cache);
        }
        m.seconds = seconds_since(start);
        result.epochs.push_back(m);
        const bool best = m.test_accuracy > best_accuracy;
        if (best) {
            best_accuracy = m.test_accuracy;
            result.best_epoch = epoch;
        }
        std::string line = fmt::format(
            "epoch {}/{}: train loss {:.4f} | test loss {:.4f}, accuracy {:.2f}% ({}/{})", epoch,
            c.epochs, m.train_loss, m.test_loss, 100 * m.test_accuracy,
            std::llround(m.test_accuracy * static_cast<double>(test.size())), test.size());
        if (m.has_dev)
            line += fmt::format(" | dev loss {:.4f}, accuracy {:.2f}%", m.dev_loss,
                                100 * m.dev_accuracy);
        line += fmt::format(" | {:.1f} s", m.seconds);
        if (!c.out.empty()) {
            // epoch_N/ first, then best/ when this epoch is the best so far: a run stopped at any
            // point leaves a loadable best/.
            save_discriminator(d, (out / fmt::format("epoch_{}", epoch)).string());
            if (best) save_discriminator(d, (out / "best").string());
            save_metrics(out, result.epochs);
        }
        note(line);
        std::string why;
        if (!c.out.empty() && !plot_discrim_metrics(c.out, &why) && !plot_warned) {
            note("warning: metrics.png not drawn: " + why);
            plot_warned = true;
        }
    }

    note("epoch  train_loss  test_loss  test_accuracy");
    for (const EpochMetrics& m : result.epochs)
        note(fmt::format("{:>5}  {:>10.4f}  {:>9.4f}  {:>12.2f}%", m.epoch, m.train_loss,
                         m.test_loss, 100 * m.test_accuracy));
    const EpochMetrics& b = result.epochs[result.best_epoch - 1];
    note(fmt::format("best epoch: {} (test accuracy {:.2f}%, test loss {:.4f}){}", b.epoch,
                     100 * b.test_accuracy, b.test_loss,
                     c.out.empty() ? "" : ", saved as " + (out / "best").string()));
    result.discriminator = d;
    return result;
}

}  // namespace gradstack::pplm
