// `gradstack tokenize`: GPT-2 tokenization as a filter. Each input line is one JSON string and
// each output line the JSON array of its ids; with --decode, arrays of ids in and strings out.
// Output is flushed line by line so the command can sit at the end of an interactive pipe.
// Input is bounded: a line longer than --max-line-bytes (no newline in /dev/zero) and JSON nested
// deeper than a line can need are errors naming the line, never a hang or a crash.
// The tokenizer itself: gpt/tokenizer/tokenizer.h.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "gpt/tokenizer/tokenizer.h"
#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::apps {

namespace {

using nlohmann::json;

// A line is a string or a flat array of ids: depth 1. Anything deeper is refused before parsing
// (a line of 100,000 '[' would otherwise build, and then print, a 100,000-level value).
constexpr int kMaxLineDepth = 16;

void write_line(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// Reads one line without its '\n' into `line`; false at the end of the input. A line longer than
// max_bytes is an error: reading stops there instead of growing without bound.
bool read_line(std::streambuf& in, std::string& line, std::size_t max_bytes, std::size_t line_no) {
    line.clear();
    bool any = false;
    for (int c = in.sbumpc(); c != std::char_traits<char>::eof(); c = in.sbumpc()) {
        any = true;
        if (c == '\n') return true;
        check(line.size() < max_bytes,
              "[tokenize] line {} is longer than --max-line-bytes {} (no newline within that many "
              "bytes: is the input text with one JSON value per line?)",
              line_no, max_bytes);
        line.push_back(static_cast<char>(c));
    }
    return any;
}

// A value for a message: short JSON for a number or a string, the type for a container.
std::string shown(const json& v) {
    if (v.is_structured()) return "a JSON " + std::string(v.type_name());
    return json_excerpt(v, 40);
}

// One line of --decode input -> the decoded text as a JSON string. Bytes that are not valid
// UTF-8 (a token can hold part of a character) become U+FFFD, as Python's errors='replace'.
std::string decode_line(const gpt::Tokenizer& tokenizer, const json& value) {
    check(value.is_array(), "expected a JSON array of token ids, got a {}", value.type_name());
    std::vector<int64_t> ids;
    ids.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        const json& id = value[i];
        check(id.is_number_integer(), "expected integer token ids, got {} at index {}", shown(id),
              i);
        check(!id.is_number_unsigned() || id.get<uint64_t>() <= uint64_t{INT64_MAX},
              "token id {} at index {} is outside the vocabulary", shown(id), i);
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
    int64_t max_line = 16 << 20;
    app.add_option("--tokenizer", dir,
                   "folder with vocab.json + merges.txt or encoder.json + vocab.bpe (default: "
                   "$GRADSTACK_TOKENIZER, else the GPT-2 files scripts/setup.sh installs in "
                   "data/gpt2-tokenizer)");
    app.add_flag("--allow-special", allow_special,
                 "encode <|endoftext|> as its special id (50256) instead of as text");
    app.add_flag("--decode", decode, "read JSON arrays of ids, print JSON strings");
    app.add_option("--max-line-bytes", max_line, "the longest input line accepted, in bytes")
        ->capture_default_str()
        ->check(integer_in(1, int64_t{1} << 30));
    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    struct stat st {};
    check(fstat(STDIN_FILENO, &st) != 0 || !S_ISDIR(st.st_mode),
          "[tokenize] standard input is a directory; give one JSON value per line on stdin");

    const gpt::Tokenizer tokenizer =
        dir.empty() ? gpt::load_default_tokenizer() : gpt::Tokenizer::from_directory(dir);
    std::ios::sync_with_stdio(false);
    std::string line;
    for (std::size_t line_no = 1;
         read_line(*std::cin.rdbuf(), line, static_cast<std::size_t>(max_line), line_no);
         ++line_no) {
        try {
            const json value = parse_json(line, "stdin", kMaxLineDepth);
            write_line(decode ? decode_line(tokenizer, value)
                              : encode_line(tokenizer, value, allow_special));
        } catch (const Error& e) {
            // (bounded: a parser's message quotes the last token it read, which can be the line)
            fail("[tokenize] line {}: {}", line_no, excerpt(e.what(), 300));
        }
    }
    return 0;
}

const bool registered = register_command(
    {"tokenize", "GPT-2 tokenizer: JSON strings in, JSON arrays of ids out (--decode: reverse)",
     run_tokenize});

}  // namespace

}  // namespace gradstack::apps
