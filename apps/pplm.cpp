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
    std::string model_dir, tokenizer_dir, prompt_text, prompt_ids_text, discrim_dir, class_label;
    std::string perturb = "past";
    std::vector<std::string> bows;
    bool uncond = false, greedy = false, json_out = false;
    pplm::PplmConfig c;
    pplm::BagOptions bag_options;
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
    app.add_option("--bow", bows,
                   "bag of words (repeatable): a built-in list (" +
                       fmt::format("{}", fmt::join(pplm::builtin_bags(), ", ")) +
                       ") or a file of one word per line");
    app.add_flag("--bow-multi-token", bag_options.multi_token,
                 "keep words of several tokens, scored by the probability of their first token "
                 "(run_pplm.py drops them)");
    app.add_flag("--bow-case-insensitive", bag_options.case_insensitive,
                 "also steer towards each word with its first letter in upper case");
    auto* discrim = app.add_option("--discrim", discrim_dir,
                                   "discriminator folder (head.safetensors + meta.json, as "
                                   "gradstack train-discrim writes)");
    app.add_option("--class-label", class_label,
                   "the class to steer towards: an id or a name of meta.json's class_vocab "
                   "(unknown: default_class, with a warning, as run_pplm.py)")
        ->needs(discrim);
    app.add_option("--perturb", perturb,
                   "past: the key/value cache (run_pplm.py); hidden: the last token's final hidden "
                   "state (PPLM.jl's variant)")
        ->capture_default_str()
        ->check(CLI::IsMember({"past", "hidden"}));
    app.add_option("--length", c.length, "new tokens")->capture_default_str();
    app.add_option("--stepsize", c.stepsize, "gradient step size (0: no steering)")
        ->capture_default_str();
    app.add_option("--num-iterations", c.num_iterations, "gradient steps per token")
        ->capture_default_str();
    app.add_option("--window-length", c.window_length,
                   "perturb only this many past positions (0: all); as run_pplm.py, the window "
                   "covers the FIRST positions of the past")
        ->capture_default_str();
    app.add_flag("--decay", c.decay, "linear ramp 1/w .. 1 over the window");
    app.add_option("--gamma", c.gamma, "gradient normalisation exponent")->capture_default_str();
    app.add_option("--kl-scale", c.kl_scale, "weight of KL(perturbed || unperturbed)")
        ->capture_default_str();
    app.add_option("--gm-scale", c.gm_scale,
                   "fusion p = p_pert^gm * p_unpert^(1-gm)")->capture_default_str();
    app.add_option("--grad-length", c.grad_length, "steer only the first N tokens")
        ->capture_default_str();
    app.add_option("--horizon-length", c.horizon_length,
                   "discriminator look-ahead steps")->capture_default_str();
    app.add_option("--temperature", c.temperature, "on the perturbed logits")
        ->capture_default_str();
    app.add_option("--top-k", c.top_k, "keep the k likeliest tokens (0: all)")
        ->capture_default_str();
    auto* sample = app.add_flag("--sample", c.sample, "sample instead of greedy");
    auto* greedy_flag = app.add_flag("--greedy", greedy, "greedy decoding (the default)");
    sample->excludes(greedy_flag);
    app.add_option("--num-samples", c.num_samples, "perturbed samples, run as one batch")
        ->capture_default_str();
    app.add_option("--seed", c.seed, "sampling seed")->capture_default_str();
    app.add_flag("--json", json_out, "print one JSON object (see gradstack pplm's header)");
    CLI11_PARSE(app, argc, argv);

    c.perturb = perturb == "hidden" ? pplm::PerturbTarget::hidden : pplm::PerturbTarget::past;
    check(!bows.empty() || !discrim_dir.empty(),
          "give a bag of words (--bow NAME|FILE) or a discriminator (--discrim DIR "
          "--class-label N|NAME)");
    check(!prompt_text.empty() || !prompt_ids_text.empty() || uncond,
          "give --prompt TEXT, --prompt-ids 1,2,3 or --uncond");
    check(prompt->count() == 0 || !prompt_text.empty(),
          "--prompt is empty; use --uncond to start from <|endoftext|> alone");

    // Everything that can be checked before loading the model: the options themselves.
    gpt::GPT2Config loose;
    loose.n_positions = std::numeric_limits<int32_t>::max();
    loose.vocab_size = std::numeric_limits<int32_t>::max();
    c.validate(loose, 1, false);

    auto warn = [](const std::string& m) { fmt::print(stderr, "warning: {}\n", m); };
    auto model = gpt::load_pretrained(model_dir);
    const gpt::GPT2Config& config = model->config();
    const gpt::Tokenizer tokenizer = require_tokenizer(tokenizer_dir, model_dir);
    check(tokenizer.vocab_size() <= config.vocab_size,
          "the tokenizer has {} tokens but the model's vocab_size is {}: they do not belong "
          "together (pass --tokenizer DIR)",
          tokenizer.vocab_size(), config.vocab_size);
    const int64_t bos = tokenizer.eot_id() >= 0 ? tokenizer.eot_id() : config.bos_token_id;

    std::vector<int64_t> prompt_tokens;
    if (!prompt_ids_text.empty()) {
        prompt_tokens = parse_ids(prompt_ids_text);
        for (int64_t id : prompt_tokens)
            check(id < config.vocab_size, "--prompt-ids: id {} is not below the model's "
                  "vocab_size {}", id, config.vocab_size);
    } else {
        check(bos >= 0, "the tokenizer has no <|endoftext|> and the model no bos_token_id: pass "
              "--prompt-ids");
        prompt_tokens = {bos};
        if (!uncond) {
            // run_pplm.py: tokenizer.encode(bos_token + text), the special token recognised.
            std::vector<int64_t> t = tokenizer.encode(prompt_text, true);
            prompt_tokens.insert(prompt_tokens.end(), t.begin(), t.end());
        }
    }

    pplm::AttributeModel attribute;
    for (const std::string& b : bows) {
        attribute.bags.push_back(pplm::load_bag(b, tokenizer, bag_options));
        const auto& bag = attribute.bags.back();
        fmt::print(stderr, "bag '{}': {} words, {} kept, {} dropped (more than one token{})\n",
                   bag.name, bag.words, bag.ids.size(), bag.dropped.size(),
                   bag_options.multi_token ? "" : "; --bow-multi-token keeps them");
        for (int64_t id : bag.ids)
            check(id < config.vocab_size, "bag '{}': token {} is not below the model's "
                  "vocab_size {}", bag.name, id, config.vocab_size);
    }
    if (!discrim_dir.empty()) {
        attribute.discrim = std::make_shared<pplm::Discriminator>(pplm::load_discriminator(discrim_dir));
        pplm::check_compatible(*attribute.discrim, config, discrim_dir);
        attribute.class_label =
            class_label.empty() ? attribute.discrim->meta.default_class
                                : pplm::resolve_class_label(attribute.discrim->meta, class_label, warn);
    }
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
    auto hits = [&](const std::vector<int64_t>& ids) {
        int64_t n = 0;
        for (int64_t id : ids) n += pplm::in_bags(attribute.bags, id);
        return n;
    };
    auto score_line = [&](const pplm::PplmSample& s) {
        std::string line = fmt::format("attribute loss {:.4f}", s.attribute_loss);
        if (attribute.has_bow()) line += fmt::format(", {} bag words", hits(s.new_ids));
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
