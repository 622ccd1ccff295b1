// Shared CLI helpers (see cli_common.h).
#include "apps/cli_common.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>

#include "tensor/backend.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::apps {

namespace fs = std::filesystem;

namespace {

// A decimal integer: an optional '-', then digits, nothing else (no spaces, no '+', no 0x).
template <class T>
std::optional<T> read_integer(std::string_view s, bool& out_of_range) {
    out_of_range = false;
    const std::string_view digits = !s.empty() && s[0] == '-' ? s.substr(1) : s;
    if (digits.empty()) return std::nullopt;
    for (char c : digits)
        if (c < '0' || c > '9') return std::nullopt;
    T value{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc::result_out_of_range) out_of_range = true;
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return value;
}

std::string interval(double lo, double hi, bool lo_open, bool hi_open) {
    return fmt::format("{}{}, {}{}", lo_open || std::isinf(lo) ? "(" : "[", lo, hi,
                       hi_open || std::isinf(hi) ? ")" : "]");
}

}  // namespace

CLI::Validator integer_in(int64_t lo, int64_t hi) {
    const std::string range = fmt::format("[{}, {}]", lo, hi);
    return CLI::Validator(
        [lo, hi, range](std::string& text) -> std::string {
            bool huge = false;
            const std::optional<int64_t> v = read_integer<int64_t>(text, huge);
            if (v && *v >= lo && *v <= hi) return "";
            return fmt::format("must be an integer in {}, got '{}'{}", range, excerpt(text, 40),
                               huge ? " (too large)" : "");
        },
        range);  // --help shows "INT:[lo, hi]"
}

CLI::Validator seed_value() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            bool huge = false;
            if (!text.empty() && text[0] != '-' && read_integer<uint64_t>(text, huge)) return "";
            return fmt::format("must be an integer in [0, {}], got '{}'",
                               std::numeric_limits<uint64_t>::max(), excerpt(text, 40));
        },
        "[0, 2^64 - 1]");
}

CLI::Validator real_in(double lo, double hi, bool lo_open, bool hi_open) {
    const std::string range = interval(lo, hi, lo_open, hi_open);
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            std::string_view s = text;
            if (!s.empty() && s[0] == '+') s.remove_prefix(1);
            double v = 0;
            const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
            const bool number = !s.empty() && ec == std::errc() && end == s.data() + s.size();
            if (number && std::isfinite(v) && (lo_open ? v > lo : v >= lo) &&
                (hi_open ? v < hi : v <= hi))
                return "";
            return fmt::format("must be a finite number in {}, got '{}'", range, excerpt(text, 40));
        },
        range);
}

namespace {

// The class-wide guard behind parse_flags: every numeric option of `app` and its subcommands,
// whatever range its own validator sets (or none), is read strictly: no clamping of 2^63, no
// wrapped -1 for an unsigned option, no nan, inf or 1e999. The guards have no description, so
// --help is unchanged.
void guard_numbers(CLI::App& app) {
    for (CLI::Option* o : app.get_options()) {
        const std::string type = o->get_type_name();
        auto guard = [&](CLI::Validator v) { o->check(CLI::Validator(v).description("")); };
        if (type.rfind("INT", 0) == 0) {
            guard(integer_in(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
        } else if (type.rfind("UINT", 0) == 0) {
            guard(seed_value());
        } else if (type.rfind("FLOAT", 0) == 0) {
            guard(real_in(-kInf, kInf, true, true));
        }
    }
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) guard_numbers(*sub);
}

}  // namespace

CLI::Option* add_dtype_option(CLI::App& app, std::string& dtype) {
    dtype = "float32";
    return app
        .add_option("--dtype", dtype,
                    "precision of the weight products: float32 (exact, Hugging Face's) or bf16 "
                    "(weights and activations rounded to bfloat16, float32 sums: about 2x faster "
                    "decoding; inference only)")
        ->check(CLI::IsMember({"float32", "bf16"}))
        ->capture_default_str();
}

CLI::Option* add_device_option(CLI::App& app, std::string& device) {
    device = "cpu";
    return app
        .add_option("--device", device,
                    "where the model runs: cpu, cuda (the first GPU) or cuda:N (needs a build with "
                    "the CUDA backend and a GPU)")
        ->capture_default_str();
}

Device resolve_device(const std::string& device) {
    const Device d = parse_device(device, "--device");
    check_device(d, "--device");
    return d;
}

std::optional<int> parse_flags(CLI::App& app, int argc, char** argv) {
    guard_numbers(app);
    app.failure_message([](const CLI::App*, const CLI::Error& e) {
        return "error: " + std::string(e.what()) + " (--help lists every flag)\n";
    });
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; a bad flag 1, as every other error of gradstack
        return app.exit(e) == 0 ? 0 : 1;
    }
    return std::nullopt;
}

std::vector<int64_t> parse_ids(const std::string& text, const std::string& flag) {
    std::vector<int64_t> ids;
    if (text.empty()) return ids;
    size_t start = 0;
    while (true) {
        const size_t comma = text.find(',', start);
        const std::string_view part =
            std::string_view(text).substr(start, comma == std::string::npos ? std::string::npos
                                                                             : comma - start);
        bool huge = false;
        const std::optional<int64_t> id = read_integer<int64_t>(part, huge);
        check(id && *id >= 0,
              "{}: '{}' is not a comma-separated list of token ids (integers >= 0); bad part "
              "'{}'{}",
              flag, excerpt(text, 200), excerpt(part, 40), huge ? " (too large)" : "");
        ids.push_back(*id);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return ids;
}

std::optional<gpt::Tokenizer> find_tokenizer(const std::string& tokenizer_dir,
                                             const std::string& model_dir) {
    if (!tokenizer_dir.empty()) return gpt::Tokenizer::from_directory(tokenizer_dir);
    // Any tokenizer file in the model folder means it carries its own: half a pair is an error
    // naming the missing file (from_directory), never a silent fall back to GPT-2's.
    if (gpt::holds_tokenizer_files(model_dir)) return gpt::Tokenizer::from_directory(model_dir);
    if (fs::exists(gpt::default_tokenizer_dir() / "encoder.json") ||
        fs::exists(gpt::default_tokenizer_dir() / "vocab.json"))
        return gpt::load_default_tokenizer();
    return std::nullopt;
}

gpt::Tokenizer require_tokenizer(const std::string& tokenizer_dir, const std::string& model_dir) {
    if (auto t = find_tokenizer(tokenizer_dir, model_dir)) return std::move(*t);
    return gpt::load_default_tokenizer();  // throws with its hint
}

}  // namespace gradstack::apps
