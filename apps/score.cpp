// `gradstack score`: how likely a GPT-2 finds a text. Prints each token with its id and
// log-probability, then the total negative log-likelihood and the perplexity exp(nll / n).
// The first token is predicted from <|endoftext|> put in front (as lm-eval-harness does) unless
// --no-bos; long texts go through the sliding window of gpt/score.h.
#include "gpt/score.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "gpt/checkpoint.h"
#include "gpt/tokenizer/tokenizer.h"
#include "tensor/kernels/linalg.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::apps {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The longest --file: 64 MiB is about 16 million tokens, days of scoring on a CPU already.
constexpr uint64_t kMaxTextBytes = 64 * kMiB;

// A token's text for display: its bytes, with a partial UTF-8 character shown as U+FFFD.
std::string token_text(const gpt::Tokenizer& tokenizer, int64_t id) {
    return tokenizer.decode_text({id});
}

int run_score(int argc, char** argv) {
    CLI::App app{"log-probability of each token of a text under a GPT-2, total NLL, perplexity"};
    std::string model_dir, tokenizer_dir, text, file;
    bool as_json = false, no_bos = false;
    int64_t stride = 0;
    app.add_option("--model", model_dir,
                   "Hugging Face model folder (config.json, model.safetensors)")
        ->required();
    app.add_option("--tokenizer", tokenizer_dir,
                   "vocab.json + merges.txt or encoder.json + vocab.bpe (default: the model folder "
                   "if it has them, else the GPT-2 files of scripts/setup.sh)");
    auto* text_opt = app.add_option("--text", text, "the text to score");
    auto* file_opt = app.add_option("--file", file,
                                    "read the text to score from this file (a regular file of at "
                                    "most 64 MiB; - reads standard input)");
    text_opt->excludes(file_opt);
    app.add_flag("--json", as_json, "print one JSON object instead of a table");
    app.add_flag("--no-bos", no_bos,
                 "do not put <|endoftext|> in front: the first token is then not scored");
    gpt::LoadOptions load;
    app.add_flag("--allow-nonfinite", load.allow_nonfinite,
                 "load weights that hold NaN or Inf (scoring still stops at the first "
                 "log-probability that is not finite)");
    auto* stride_opt = app.add_option("--stride", stride,
                   "for texts longer than n_positions: tokens between window starts, in [1, "
                   "n_positions - 1] (default n_positions / 2; each token then sees at least "
                   "n_positions / 2 tokens)")
        ->check(integer_in(1, kMaxCount));
    std::string dtype;
    add_dtype_option(app, dtype);
    std::string device_name;
    add_device_option(app, device_name);
    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    const Device device = resolve_device(device_name);  // before any work
    kernels::MatmulPrecisionGuard precision(kernels::parse_matmul_precision(dtype, "--dtype"));
    check(text_opt->count() + file_opt->count() == 1, "[score] give --text or --file");
    if (file_opt->count()) text = read_input_file(file, kMaxTextBytes, "[score] --file", true);
    check(!text.empty(), "[score] {} is empty: nothing to score",
          file_opt->count() ? "--file " + file : std::string("--text"));

    auto model = gpt::load_pretrained(model_dir, load);
    model->to(device);
    const gpt::Tokenizer tokenizer = require_tokenizer(tokenizer_dir, model_dir);
    const gpt::GPT2Config& config = model->config();
    std::vector<int64_t> ids = tokenizer.encode(text);
    check(!ids.empty(), "[score] the text is empty: nothing to score");
    check(no_bos || config.bos_token_id < config.vocab_size,
          "[score] the model's bos_token_id {} is outside its vocabulary; use --no-bos",
          config.bos_token_id);
    const int64_t first = no_bos ? 0 : 1;  // index of the text's first token in `ids`
    if (!no_bos) ids.insert(ids.begin(), config.bos_token_id);
    check(ids.size() >= 2, "[score] one token and --no-bos: nothing to score");
    if (stride == 0) stride = std::max<int64_t>(1, config.n_positions / 2);
    check(stride_opt->count() == 0 || stride <= config.n_positions - 1,
          "[score] --stride {} must be in [1, n_positions - 1] = [1, {}] for this model", stride,
          config.n_positions - 1);
    const std::vector<double> logprobs = gpt::token_logprobs(*model, ids, stride);

    double nll = 0;
    int64_t n = 0;
    nlohmann::ordered_json tokens = nlohmann::ordered_json::array();
    if (!as_json) fmt::print("{:>6} {:>7} {:>10}  token\n", "pos", "id", "logprob");
    for (std::size_t t = first; t < ids.size(); ++t) {
        const bool scored = !std::isnan(logprobs[t]);
        if (scored) nll -= logprobs[t], ++n;
        const std::string piece = token_text(tokenizer, ids[t]);
        nlohmann::ordered_json entry = {{"id", ids[t]}, {"text", piece}, {"logprob", nullptr}};
        if (scored) entry["logprob"] = logprobs[t];
        tokens.push_back(entry);
        if (!as_json)
            fmt::print("{:>6} {:>7} {:>10} {}\n", t - first, ids[t],
                       scored ? fmt::format("{:.4f}", logprobs[t]) : "-",
                       json(piece).dump(-1, ' ', false, json::error_handler_t::replace));
    }
    const double perplexity = std::exp(nll / static_cast<double>(n));
    if (as_json) {
        nlohmann::ordered_json out = {
            {"tokens", tokens}, {"nll", nll}, {"perplexity", perplexity}, {"n_tokens", n}};
        fmt::print("{}\n", out.dump(-1, ' ', false, json::error_handler_t::replace));
    } else {
        fmt::print("tokens scored: {}   nll: {:.4f} nats   perplexity: {:.4f}\n", n, nll,
                   perplexity);
    }
    return 0;
}

const bool registered = register_command(
    {"score", "log-probability of each token of a text, total NLL and perplexity under a GPT-2",
     run_score});

}  // namespace

}  // namespace gradstack::apps
