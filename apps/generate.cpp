// `gradstack generate`: text from a Hugging Face GPT-2 folder with greedy search, beam search or
// sampling, as generate() does. Several prompts form one left-padded batch. Without --json the
// text streams to the terminal as tokens come (one sequence) or is printed per sequence (several);
// with --json, one JSON object is the only thing on standard output.
// The strategies: gpt/generation/generate.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "gpt/checkpoint.h"
#include "gpt/generation/generate.h"
#include "gpt/generation/memory.h"
#include "gpt/tokenizer/tokenizer.h"
#include "tensor/error.h"
#include "tensor/kernels/linalg.h"

namespace gradstack::apps {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

void write(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
}

int run_generate(int argc, char** argv) {
    CLI::App app{
        "Generate text with a GPT-2 (Hugging Face folder: config.json + model.safetensors). "
        "Greedy by default; --num-beams B for beam search; --sample for sampling."};
    std::string model_dir, tokenizer_dir;
    std::vector<std::string> prompts_text, prompts_ids;
    gpt::GenerationConfig g;
    g.top_k = 50;
    std::string early_stopping = "false";
    bool greedy = false, json_out = false;
    gpt::LoadOptions load;
    app.add_option("--model", model_dir, "model folder (config.json + model.safetensors)")
        ->required();
    app.add_option("--tokenizer", tokenizer_dir,
                   "folder with vocab.json + merges.txt or encoder.json + vocab.bpe (default: the "
                   "model folder when it has them, else data/gpt2-tokenizer)");
    auto* prompt = app.add_option("--prompt", prompts_text, "prompt text (repeatable)");
    auto* prompt_ids = app.add_option("--prompt-ids", prompts_ids,
                                      "prompt as token ids, e.g. 464,3616 (repeatable; \"\" is an "
                                      "empty prompt, which starts from BOS)");
    // Every number is range-checked as it is parsed (cli_common.h), the contradictions between
    // flags right after, both before the model is loaded.
    app.add_option("--max-new-tokens", g.max_new_tokens, "tokens to generate at most")
        ->required()
        ->check(integer_in(0, kMaxCount));
    auto* min_new = app.add_option("--min-new-tokens", g.min_new_tokens,
                                   "EOS is banned before this many (<= --max-new-tokens)")
        ->capture_default_str()
        ->check(integer_in(0, kMaxCount));
    auto* greedy_flag = app.add_flag("--greedy", greedy, "greedy search (the default)");
    auto* beams = app.add_option("--num-beams", g.num_beams, "beam search with B beams")
        ->capture_default_str()
        ->check(integer_in(1, kMaxCount));
    auto* sample = app.add_flag("--sample", g.do_sample, "multinomial sampling");
    greedy_flag->excludes(beams)->excludes(sample);
    beams->excludes(sample);
    app.add_option("--length-penalty", g.length_penalty,
                   "beam score = sum of log-probs / length^x (length counts the prompt)")
        ->capture_default_str()
        ->check(real_in(-kInf, kInf))
        ->needs(beams);
    app.add_option("--early-stopping", early_stopping,
                   "beam search stops a prompt: true (num_beams hypotheses done), false (HF's "
                   "heuristic), never (exact)")
        ->capture_default_str()
        ->check(CLI::IsMember({"true", "false", "never"}))
        ->needs(beams);
    app.add_option("--temperature", g.temperature, "sampling temperature (> 0)")
        ->capture_default_str()
        ->check(real_in(0, kInf, true))
        ->needs(sample);
    app.add_option("--top-k", g.top_k, "sample among the k likeliest tokens (0: all)")
        ->capture_default_str()
        ->check(integer_in(0, kMaxCount))
        ->needs(sample);
    app.add_option("--top-p", g.top_p, "nucleus: the likeliest tokens holding p, in (0, 1]")
        ->capture_default_str()
        ->check(real_in(0, 1, true))
        ->needs(sample);
    app.add_option("--no-repeat-ngram-size", g.no_repeat_ngram_size,
                   "never repeat an n-gram, the prompt's included (0: off)")
        ->capture_default_str()
        ->check(integer_in(0, kMaxCount));
    app.add_option("--repetition-penalty", g.repetition_penalty,
                   "CTRL's penalty on tokens already present (1: off)")
        ->capture_default_str()
        ->check(real_in(0, kInf, true));
    auto* return_seqs = app.add_option("--num-return-sequences", g.num_return_sequences,
                   "sequences per prompt (beam search: <= num beams; sampling: independent draws)")
        ->capture_default_str()
        ->check(integer_in(1, kMaxCount));
    app.add_option("--seed", g.seed, "sampling seed")
        ->capture_default_str()
        ->check(seed_value())
        ->needs(sample);
    app.add_flag("--ignore-eos", g.ignore_eos, "do not stop at EOS: exactly max-new-tokens tokens");
    app.add_flag("--allow-nonfinite", load.allow_nonfinite,
                 "load weights that hold NaN or Inf (generation still stops at the first logit "
                 "that is not finite)");
    app.add_flag("--json", json_out,
                 "print one JSON object: {\"prompts\": [{\"prompt_ids\", \"outputs\": [{\"new_ids\", "
                 "\"text\", \"score\" (beam search), \"logprobs\"}]}]}");
    std::string dtype;
    add_dtype_option(app, dtype);
    std::string device_name;
    add_device_option(app, device_name);
    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    const Device device = resolve_device(device_name);  // before any work
    kernels::MatmulPrecisionGuard precision(kernels::parse_matmul_precision(dtype, "--dtype"));

    check(min_new->count() == 0 || g.min_new_tokens <= g.max_new_tokens,
          "--min-new-tokens {} is more than --max-new-tokens {}: EOS would be banned for longer "
          "than the generation lasts",
          g.min_new_tokens, g.max_new_tokens);
    check(return_seqs->count() == 0 || g.num_return_sequences == 1 || g.do_sample ||
              g.num_beams > 1,
          "--num-return-sequences {} needs --sample (independent draws) or --num-beams B >= {} "
          "(greedy search returns one sequence)",
          g.num_return_sequences, g.num_return_sequences);
    check(g.num_beams == 1 || g.num_return_sequences <= g.num_beams,
          "--num-return-sequences {} is more than --num-beams {}: beam search returns at most "
          "num-beams sequences",
          g.num_return_sequences, g.num_beams);
    g.early_stopping = gpt::parse_early_stopping(early_stopping);
    check(!prompts_text.empty() || !prompts_ids.empty(),
          "give at least one --prompt TEXT or --prompt-ids 1,2,3");
    g.validate();

    std::vector<std::vector<int64_t>> parsed_ids;  // before anything is loaded
    for (const std::string& text : prompts_ids) parsed_ids.push_back(parse_ids(text));

    std::optional<gpt::Tokenizer> tokenizer = find_tokenizer(tokenizer_dir, model_dir);
    check(prompts_text.empty() || tokenizer.has_value(),
          "--prompt needs a tokenizer: pass --tokenizer DIR or run scripts/setup.sh");
    // The prompts in command-line order, text and ids interleaved as given.
    std::vector<std::vector<int64_t>> prompts;
    size_t next_text = 0, next_ids = 0;
    for (const CLI::Option* opt : app.parse_order()) {
        if (opt == prompt) prompts.push_back(tokenizer->encode(prompts_text[next_text++]));
        if (opt == prompt_ids) prompts.push_back(parsed_ids[next_ids++]);
    }

    auto model = gpt::load_pretrained(model_dir, load);
    model->to(device);
    g.eos_token_id = model->config().eos_token_id;
    g.bos_token_id = model->config().bos_token_id;
    const auto ready = gpt::prepare_prompts(prompts, g, model->config());
    // Beams and prompts are rows of one batch: refuse what the machine cannot hold before the
    // first token is printed (gpt/generation/memory.h has the estimate).
    gpt::check_generation_memory(model->config(), g, ready);

    auto text_of = [&](const std::vector<int64_t>& ids) {
        return tokenizer ? tokenizer->decode(ids) : fmt::format("{}", fmt::join(ids, " ")) + " ";
    };
    const bool one_stream =
        !json_out && ready.size() == 1 && g.num_beams == 1 && g.num_return_sequences == 1;
    gpt::TokenCallback stream;
    bool echoed = false;  // the prompt is echoed with the first token, after the first checks
    if (one_stream) {
        stream = [&](int64_t, int64_t token) {
            write((echoed ? "" : text_of(ready[0])) + text_of({token}));
            echoed = true;
        };
    }
    const auto results = gpt::generate(*model, ready, g, nullptr, stream);
    if (one_stream && !echoed) write(text_of(ready[0]));  // max_new_tokens 0

    if (json_out) {
        json out = {{"prompts", json::array()}};
        for (size_t p = 0; p < results.size(); ++p) {
            json entry = {{"prompt_ids", ready[p]}, {"outputs", json::array()}};
            for (const auto& s : results[p]) {
                json o = {{"new_ids", s.new_ids}};
                if (tokenizer) o["text"] = tokenizer->decode_text(s.new_ids);
                if (g.num_beams > 1) o["score"] = s.score;
                o["logprobs"] = s.logprobs;
                entry["outputs"].push_back(std::move(o));
            }
            out["prompts"].push_back(std::move(entry));
        }
        write(out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
    } else if (one_stream) {
        write("\n");
    } else {
        for (size_t p = 0; p < results.size(); ++p)
            for (size_t k = 0; k < results[p].size(); ++k) {
                std::string head = fmt::format("--- prompt {}, sequence {}", p, k);
                if (g.num_beams > 1) head += fmt::format(" (score {:.6f})", results[p][k].score);
                write(head + "\n" + text_of(ready[p]) + text_of(results[p][k].new_ids) + "\n");
            }
    }
    return 0;
}

const bool registered = register_command(
    {"generate", "generate text with a GPT-2: greedy, beam search or sampling (HF semantics)",
     run_generate});

}  // namespace

}  // namespace gradstack::apps
