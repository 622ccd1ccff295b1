// The VAE's data: short texts, one per record, tokenized and split. A file with lines holding only
// "%" (Debian's fortunes, /usr/share/games/fortunes) is cut into records there; any other file
// gives one record per non-empty line. Read next: train.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpt/tokenizer/tokenizer.h"

namespace gradstack::vae {

// The records of the files `paths` name (files, or folders: gpt::list_data_files), in order, each
// with its whitespace runs folded to one space and trimmed; empty ones dropped. In folders,
// strfile's index files (*.dat) and links to a file already read are skipped. Throws
// gradstack::Error for a missing path, a file that is not UTF-8 (naming it and the offset), and
// when no record is found at all.
std::vector<std::string> read_records(const std::vector<std::string>& paths);

struct SentenceSet {
    std::vector<std::vector<int64_t>> train, val;  // token ids, 1..max_length each
    int64_t records = 0;       // records read
    int64_t too_long = 0;      // records left out for having more than max_length tokens
};

// Tokenizes each record, leaves out the longer than `max_length` tokens, shuffles with `seed`
// and holds out the last `val_fraction` (at least one sentence when val_fraction > 0 and there
// are >= 2). Throws when no record fits ("all 12 records are longer than --max-length 8").
SentenceSet tokenize_records(const std::vector<std::string>& records, const gpt::Tokenizer& tok,
                             int64_t max_length, double val_fraction, uint64_t seed);

}  // namespace gradstack::vae
