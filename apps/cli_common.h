// Small pieces several subcommands share: strict number flags (validators that name the flag and
// its range), reading "--prompt-ids 1,2,3", and finding the tokenizer of a model folder. Defined
// in cli_common.cpp. (Bounded file reads and JSON: tensor/io.h, tensor/json.h.)
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gpt/tokenizer/tokenizer.h"
#include "tensor/device.h"

namespace gradstack::apps {

// ---- strict number flags ----
// CLI11 on its own clamps 2^63 to 2^63 - 1 (strtoll), wraps "-1" into 2^64 - 1 for an unsigned
// option (strtoull), reads "010" as octal 8 and takes "nan", "inf" and "1e999" for a double. These
// validators see the option's text before CLI11 converts it and accept only a plain decimal number
// inside the range; CLI11 then fails with the flag's name, before any work starts:
//     --max-new-tokens: must be an integer in [0, 1000000], got '9223372036854775808'
// Use one on every numeric option: app.add_option("--top-k", k)->check(integer_in(0, kMaxCount)).

// The upper bound of counts that have no natural one (tokens, steps, sizes): it keeps sums such
// as prompt + max_new_tokens far from overflow; the real limit (n_positions, memory) is checked
// once the model is known.
inline constexpr int64_t kMaxCount = 1'000'000'000;

// An integer in [lo, hi] (decimal digits with an optional '-').
CLI::Validator integer_in(int64_t lo, int64_t hi);
// A seed: an integer in [0, 2^64 - 1].
CLI::Validator seed_value();
// A finite real number in the interval from lo to hi, each end excluded when *_open:
// real_in(0, inf, true) is "> 0". nan and inf are never accepted.
CLI::Validator real_in(double lo, double hi, bool lo_open = false, bool hi_open = false);
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// Parses the flags as CLI11_PARSE does, but a bad flag prints "error: --top-p: must be ..." (the
// form every other failure of gradstack has). Returns the exit code when the command should stop
// there (--help: 0; a bad flag: 1, as any other error), nullopt to go on:
//     if (auto rc = parse_flags(app, argc, argv)) return *rc;
std::optional<int> parse_flags(CLI::App& app, int argc, char** argv);

// --dtype float32|bf16 of the inference commands (generate, score): the precision of the weight
// products (tensor/kernels/linalg.h MatmulPrecision). float32, the default, is Hugging Face's
// math; bf16 rounds weights and activations to bfloat16 for the products (faster, inference
// only). CLI11 refuses any other value, naming the flag. Apply it after parsing with
// kernels::MatmulPrecisionGuard(kernels::parse_matmul_precision(dtype, "--dtype")).
CLI::Option* add_dtype_option(CLI::App& app, std::string& dtype);

// --device cpu|cuda[:N] of every command that computes: where the model's weights live and its
// ops run (default cpu). Resolve it after parsing with resolve_device, which throws naming the flag
// ("--device: cuda:0 is not available: no CUDA device: ...", "--device: 'gpu' is not a device").
CLI::Option* add_device_option(CLI::App& app, std::string& device);
Device resolve_device(const std::string& device);

// "1,2,3" -> {1, 2, 3}; "" -> {}. Each id a decimal integer in [0, 2^63 - 1]. Throws
// gradstack::Error naming `flag` and the bad part.
std::vector<int64_t> parse_ids(const std::string& text, const std::string& flag = "--prompt-ids");

// --tokenizer DIR when given; else the model folder when it holds vocab.json or encoder.json
// (what `gradstack download` and `gradstack train` put there); else the GPT-2 files of
// scripts/setup.sh when present; else none.
std::optional<gpt::Tokenizer> find_tokenizer(const std::string& tokenizer_dir,
                                             const std::string& model_dir);
// The same, but a missing tokenizer is an error with a hint (load_default_tokenizer's).
gpt::Tokenizer require_tokenizer(const std::string& tokenizer_dir, const std::string& model_dir);

}  // namespace gradstack::apps
