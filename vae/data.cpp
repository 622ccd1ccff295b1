// Reading and splitting the VAE's texts (see data.h).
#include "vae/data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/ranges.h>

#include "gpt/data.h"
#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace gradstack::vae {

namespace fs = std::filesystem;

namespace {

std::string fold_spaces(const std::string& text) {
    std::string out;
    bool space = false;
    for (char c : text) {
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

// Cuts `text` at lines that hold only "%" when it has such a line, else at every line.
void split_records(const std::string& text, std::vector<std::string>& out) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    bool percent = false;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        percent = percent || line == "%";
        lines.push_back(line);
    }
    std::string current;
    for (const std::string& line : lines) {
        if (!percent || line == "%") {
            std::string record = fold_spaces(percent ? current : line);
            if (!record.empty()) out.push_back(record);
            current.clear();
            continue;
        }
        current += line + "\n";
    }
    if (percent && !fold_spaces(current).empty()) out.push_back(fold_spaces(current));
}

}  // namespace

std::vector<std::string> read_records(const std::vector<std::string>& paths) {
    std::vector<std::string> records;
    std::set<fs::path> seen;
    for (const fs::path& file : gpt::list_data_files(paths)) {
        if (file.extension() == ".dat") continue;  // strfile's index of a fortunes file
        const fs::path real = fs::weakly_canonical(file);
        if (!seen.insert(real).second) continue;   // fortunes' *.u8 links
        // The texts are held in memory: a regular file of at most 1 GiB (tensor/io.h).
        const std::string text = read_input_file(file.string(), 1024 * kMiB, "--data");
        gpt::check_utf8(text, file.string());
        split_records(text, records);
    }
    check(!records.empty(), "--data: no text in {} (every file is empty)",
          fmt::format("{}", fmt::join(paths, ", ")));
    return records;
}

SentenceSet tokenize_records(const std::vector<std::string>& records, const gpt::Tokenizer& tok,
                             int64_t max_length, double val_fraction, uint64_t seed) {
    check(max_length >= 1, "--max-length must be >= 1, got {}", max_length);
    check(val_fraction >= 0 && val_fraction < 1, "--val-fraction must be in [0, 1), got {}",
          val_fraction);
    SentenceSet set;
    set.records = static_cast<int64_t>(records.size());
    std::vector<std::vector<int64_t>> all;
    for (const std::string& r : records) {
        std::vector<int64_t> ids = tok.encode(r);
        if (ids.empty()) continue;
        if (static_cast<int64_t>(ids.size()) > max_length) {
            ++set.too_long;
            continue;
        }
        all.push_back(std::move(ids));
    }
    check(!all.empty(), "--data: all {} records are longer than --max-length {}", set.records,
          max_length);
    Generator gen(seed);
    std::vector<int64_t> order = to_vector<int64_t>(randperm(static_cast<int64_t>(all.size()), &gen));
    int64_t n_val = static_cast<int64_t>(static_cast<double>(all.size()) * val_fraction);
    if (val_fraction > 0 && all.size() >= 2) n_val = std::max<int64_t>(n_val, 1);
    const int64_t n_train = static_cast<int64_t>(all.size()) - n_val;
    for (int64_t i = 0; i < static_cast<int64_t>(all.size()); ++i)
        (i < n_train ? set.train : set.val).push_back(all[order[i]]);
    return set;
}

}  // namespace gradstack::vae
