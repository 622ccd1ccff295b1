// `gradstack tokenize`: GPT-2 tokenization as a filter. Each input line is one JSON string and
// each output line the JSON array of its ids; with --decode, arrays of ids in and strings out.
// Output is flushed line by line so the command can sit at the end of an interactive pipe.
// The tokenizer itself: gpt/tokenizer/tokenizer.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/command.h"
#include "gpt/tokenizer/tokenizer.h"
#include "tensor/error.h"

namespace gradstack::apps {

namespace {

using nlohmann::json;

void write_line(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// One line of --decode input -> the decoded text as a JSON string. Bytes that are not valid
// UTF-8 (a token can hold part of a character) become U+FFFD, as Python's errors='replace'.
std::string decode_line(const gpt::Tokenizer& tokenizer, const json& value) {
    check(value.is_array(), "expected a JSON array of token ids, got a {}", value.type_name());
    std::vector<int64_t> ids;
    ids.reserve(value.size());
    for (const json& id : value) {
        check(id.is_number_integer(), "expected integer token ids, got {}", id.dump());
        ids.push_back(id.get<int64_t>());
    }
    return json(tokenizer.decode_text(ids)).dump(-1, ' ', false, json::error_handler_t::strict);
}

std::string encode_line(const gpt::Tokenizer& tokenizer, const json& value, bool allow_special) {
    check(value.is_string(), "expected a JSON string, got a {}", value.type_name());
    return json(tokenizer.encode(value.get_ref<const std::string&>(), allow_special)).dump();
}

int run_tokenize(int argc, char** argv) {
    CLI::App app{
        "GPT-2 byte-level BPE: one JSON string per input line -> one JSON array of ids "
        "per output line (with --decode, the other way round)"};
    std::string dir;
    bool allow_special = false, decode = false;
    app.add_option("--tokenizer", dir,
                   "folder with vocab.json + merges.txt or encoder.json + vocab.bpe (default: "
                   "$GRADSTACK_TOKENIZER, else the GPT-2 files scripts/setup.sh installs in "
                   "data/gpt2-tokenizer)");
    app.add_flag("--allow-special", allow_special,
                 "encode <|endoftext|> as its special id (50256) instead of as text");
    app.add_flag("--decode", decode, "read JSON arrays of ids, print JSON strings");
    CLI11_PARSE(app, argc, argv);

    const gpt::Tokenizer tokenizer =
        dir.empty() ? gpt::load_default_tokenizer() : gpt::Tokenizer::from_directory(dir);
    std::ios::sync_with_stdio(false);
    std::string line;
    for (std::size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
        try {
            const json value = json::parse(line);
            write_line(decode ? decode_line(tokenizer, value)
                              : encode_line(tokenizer, value, allow_special));
        } catch (const json::exception& e) {
            fail("[tokenize] line {}: not valid JSON ({})", line_no, e.what());
        } catch (const Error& e) {
            fail("[tokenize] line {}: {}", line_no, e.what());
        }
    }
    return 0;
}

const bool registered = register_command(
    {"tokenize", "GPT-2 tokenizer: JSON strings in, JSON arrays of ids out (--decode: reverse)",
     run_tokenize});

}  // namespace

}  // namespace gradstack::apps
