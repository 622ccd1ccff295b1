// `gradstack train-tokenizer`: learns a byte-level BPE vocabulary from text files and writes
// vocab.json + merges.txt, which `gradstack tokenize --tokenizer DIR` and Hugging Face's
// GPT2Tokenizer load. The training itself: gpt/tokenizer/train.h.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "gpt/data.h"
#include "gpt/tokenizer/train.h"
#include "tensor/error.h"

namespace gradstack::apps {

namespace {

int run_train_tokenizer(int argc, char** argv) {
    CLI::App app{
        "Train a byte-level BPE tokenizer (GPT-2's pre-tokenizer and byte alphabet) on text "
        "files; writes vocab.json + merges.txt into --out"};
    std::vector<std::string> data;
    std::string out;
    gpt::BpeTrainOptions options;
    app.add_option("--data", data, "UTF-8 text files, or folders of them (all files inside)")
        ->required();
    app.add_option("--vocab-size", options.vocab_size,
                   "tokens in all: special tokens + 256 byte tokens + merges")
        ->required()
        ->check(integer_in(257, int64_t{1} << 31));
    app.add_option("--min-frequency", options.min_frequency,
                   "stop merging once the most frequent pair occurs fewer times than this")
        ->capture_default_str()
        ->check(integer_in(1, kMaxCount));
    app.add_option("--special", options.special_tokens,
                   "a special token, e.g. <|endoftext|> (repeatable; ids 0, 1, ... in order)");
    app.add_option("--out", out, "folder to write vocab.json and merges.txt into")->required();
    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    std::error_code ec;
    check(!std::filesystem::exists(out, ec) || std::filesystem::is_directory(out, ec),
          "[train-tokenizer] --out {}: exists and is not a folder", out);

    const auto start = std::chrono::steady_clock::now();
    gpt::BpeTrainer trainer(options);  // checks the options before any file is read
    const std::vector<std::filesystem::path> files = gpt::list_data_files(data);
    for (const auto& file : files) trainer.add_file(file);
    const auto counted = std::chrono::steady_clock::now();
    const gpt::BpeVocabulary vocab = trainer.train();
    vocab.save(out);
    const auto end = std::chrono::steady_clock::now();
    const auto seconds = [](auto a, auto b) {
        return std::chrono::duration<double>(b - a).count();
    };
    std::printf(
        "read %zu file(s), %.2f MB, %zu distinct words in %.2f s; learned %zu merges in %.2f s\n"
        "vocabulary: %zu tokens (%zu special + 256 bytes + %zu merged)%s; %.2f s in all\n"
        "wrote %s/vocab.json and %s/merges.txt\n",
        files.size(), static_cast<double>(trainer.byte_count()) / 1e6, trainer.word_count(),
        seconds(start, counted), vocab.merges.size(), seconds(counted, end), vocab.tokens.size(),
        options.special_tokens.size(), vocab.tokens.size() - 256 - options.special_tokens.size(),
        static_cast<int64_t>(vocab.tokens.size()) < options.vocab_size
            ? " (fewer than asked: no pair left at --min-frequency)"
            : "",
        seconds(start, end), out.c_str(), out.c_str());
    return 0;
}

const bool registered = register_command(
    {"train-tokenizer", "learn a byte-level BPE vocabulary (vocab.json + merges.txt) from text",
     run_train_tokenizer});

}  // namespace

}  // namespace gradstack::apps
