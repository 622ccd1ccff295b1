// `gradstack pplm`: Plug and Play steering of a GPT-2 with bags of words or a discriminator, as
// uber-research/PPLM's run_pplm.py: the unperturbed continuation, then each perturbed sample,
// with its attribute loss. With --json, one JSON object is the only thing on standard output:
//   {"prompt_ids": [...], "unperturbed": {"new_ids", "text", "attribute_loss"},
//    "samples": [{"new_ids", "text", "attribute_loss", "loss_trace"}]}
// The algorithm: pplm/generate.h.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "apps/pplm_flags.h"
#include "gpt/checkpoint.h"
#include "pplm/generate.h"
#include "tensor/error.h"

namespace gradstack::apps {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

void write(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int run_pplm(int argc, char** argv) {
    CLI::App app{
        "Plug and Play Language Model steering (uber-research/PPLM's run_pplm.py): perturb GPT-2's "
        "key/value past (or its last hidden state) along the gradient of a bag-of-words or "
        "discriminator loss. Defaults are run_pplm.py's; decoding is greedy unless --sample, as "
        "in run_pplm.py, whose --sample is an off-by-default flag."};
    std::string model_dir, tokenizer_dir, prompt_text, prompt_ids_text;
    bool uncond = false, greedy = false, json_out = false;
    PplmFlags flags;
    pplm::PplmConfig& c = flags.config;
    app.add_option("--model", model_dir, "GPT-2 folder (config.json + model.safetensors)")
        ->required();
    app.add_option("--tokenizer", tokenizer_dir,
                   "folder with vocab.json + merges.txt or encoder.json + vocab.bpe (default: the "
                   "model folder when it has them, else data/gpt2-tokenizer)");
    auto* prompt = app.add_option("--prompt", prompt_text,
                                  "prompt text; encoded as <|endoftext|> + TEXT, as run_pplm.py");
    auto* prompt_ids = app.add_option("--prompt-ids", prompt_ids_text,
                                      "prompt as token ids, used exactly as given (e.g. 50256,464)");
    auto* uncond_flag = app.add_flag("--uncond", uncond, "start from <|endoftext|> alone");
    prompt->excludes(prompt_ids)->excludes(uncond_flag);
    prompt_ids->excludes(uncond_flag);
    add_pplm_flags(app, flags);
    auto* sample = app.add_flag("--sample", c.sample, "sample instead of greedy");
    auto* greedy_flag = app.add_flag("--greedy", greedy, "greedy decoding (the default)");
    sample->excludes(greedy_flag);
    app.add_option("--num-samples", c.num_samples, "perturbed samples, run as one batch")
        ->capture_default_str()
        ->check(integer_in(1, 4096));
    app.add_option("--seed", c.seed, "sampling seed")
        ->capture_default_str()
        ->check(seed_value())
        ->needs(sample);
    app.add_flag("--json", json_out, "print one JSON object (see gradstack pplm's header)");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;

    check_pplm_flags(flags);
    check(!prompt_text.empty() || !prompt_ids_text.empty() || uncond,
          "give --prompt TEXT, --prompt-ids 1,2,3 or --uncond");
    check(prompt->count() == 0 || !prompt_text.empty(),
          "--prompt is empty; use --uncond to start from <|endoftext|> alone");

    // --prompt-ids is read before anything is loaded (its ids are checked against the model below).
    std::vector<int64_t> prompt_tokens;
    if (!prompt_ids_text.empty()) prompt_tokens = parse_ids(prompt_ids_text);

    auto model = gpt::load_pretrained(model_dir);
    const gpt::GPT2Config& config = model->config();
    const gpt::Tokenizer tokenizer = require_tokenizer(tokenizer_dir, model_dir);
    check(tokenizer.vocab_size() <= config.vocab_size,
          "the tokenizer has {} tokens but the model's vocab_size is {}: they do not belong "
          "together (pass --tokenizer DIR)",
          tokenizer.vocab_size(), config.vocab_size);
    if (!prompt_ids_text.empty()) {
        for (int64_t id : prompt_tokens)
            check(id < config.vocab_size, "--prompt-ids: id {} is not below the model's "
                  "vocab_size {}", id, config.vocab_size);
    } else {
        prompt_tokens = eot_prompt(tokenizer, config, uncond ? "" : prompt_text);
    }

    const pplm::AttributeModel attribute = load_attribute(flags, tokenizer, config);
    c.validate(config, static_cast<int64_t>(prompt_tokens.size()), attribute.has_discrim());

    // Progress on a terminal only: tokens done, tokens/s, ETA.
    const bool progress = isatty(fileno(stderr)) && !json_out;
    auto progress_cb = [&](const char* what, Clock::time_point t0) {
        return [=, &c](int64_t i, const std::vector<int64_t>&) {
            if (!progress) return;
            const double s = seconds_since(t0), rate = (i + 1) / std::max(s, 1e-9);
            fmt::print(stderr, "\r{}: {}/{} tokens, {:.2f} tok/s, ETA {:.0f}s   ", what, i + 1,
                       c.length, rate, (c.length - i - 1) / rate);
            if (i + 1 == c.length) fmt::print(stderr, "\n");
        };
    };

    Generator gen(c.seed);
    auto t0 = Clock::now();
    // run_pplm.py's unperturbed text: generate_text_pplm with its default top_k 10 and
    // temperature 1, greedy or sampled as the perturbed ones.
    auto unpert = pplm::generate_unperturbed(*model, prompt_tokens, c.length, 1, c.sample, 10, 1.0,
                                             &gen, progress_cb("unperturbed", t0));
    const double unpert_s = seconds_since(t0);
    unpert[0].attribute_loss =
        pplm::attribute_losses(*model, prompt_tokens, {unpert[0].new_ids}, attribute)[0];
    t0 = Clock::now();
    auto samples = pplm::generate_pplm(*model, prompt_tokens, attribute, c, &gen,
                                       progress_cb("perturbed", t0));
    const double pert_s = seconds_since(t0);

    if (json_out) {
        json out = {{"prompt_ids", prompt_tokens},
                    {"unperturbed",
                     {{"new_ids", unpert[0].new_ids},
                      {"text", tokenizer.decode_text(unpert[0].new_ids)},
                      {"attribute_loss", unpert[0].attribute_loss}}},
                    {"samples", json::array()}};
        for (const auto& s : samples)
            out["samples"].push_back({{"new_ids", s.new_ids},
                                      {"text", tokenizer.decode_text(s.new_ids)},
                                      {"attribute_loss", s.attribute_loss},
                                      {"loss_trace", s.loss_trace}});
        write(out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
        return 0;
    }
    const bool color = isatty(fileno(stdout));
    auto shown = [&](const std::vector<int64_t>& ids) {
        if (!color || !attribute.has_bow()) return tokenizer.decode_text(ids);
        std::string s;
        for (int64_t id : ids) {
            const std::string t = tokenizer.decode_text({id});
            s += pplm::in_bags(attribute.bags, id) ? "\033[1;31m" + t + "\033[0m" : t;
        }
        return s;
    };
    auto score_line = [&](const pplm::PplmSample& s) {
        std::string line = fmt::format("attribute loss {:.4f}", s.attribute_loss);
        if (attribute.has_bow()) line += fmt::format(", {} bag words", pplm::count_in_bags(attribute.bags, s.new_ids));
        return line;
    };
    const std::string prefix = tokenizer.decode_text(prompt_tokens);
    write(fmt::format("= prompt =\n{}\n\n= unperturbed ({}) =\n{}{}\n\n", prefix,
                      score_line(unpert[0]), prefix, shown(unpert[0].new_ids)));
    for (size_t k = 0; k < samples.size(); ++k)
        write(fmt::format("= perturbed {} ({}) =\n{}{}\n\n", k + 1, score_line(samples[k]), prefix,
                          shown(samples[k].new_ids)));
    write(fmt::format("seconds per token: unperturbed {:.4f}, perturbed {:.4f} ({} sample{} as one "
                      "batch)\n",
                      unpert_s / c.length, pert_s / c.length, samples.size(),
                      samples.size() == 1 ? "" : "s"));
    return 0;
}

const bool registered = register_command(
    {"pplm", "steer GPT-2 with a bag of words or a discriminator (Plug and Play LM)", run_pplm});

}  // namespace

}  // namespace gradstack::apps
