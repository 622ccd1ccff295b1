// Shared PPLM flags (see pplm_flags.h).
#include "apps/pplm_flags.h"

#include <fmt/format.h>

#include <filesystem>
#include <limits>

#include "apps/cli_common.h"
#include "tensor/error.h"

namespace gradstack::apps {

void add_pplm_flags(CLI::App& app, PplmFlags& f) {
    pplm::PplmConfig& c = f.config;
    app.add_option("--bow", f.bows,
                   "bag of words (repeatable): a built-in list (" +
                       fmt::format("{}", fmt::join(pplm::builtin_bags(), ", ")) +
                       ") or a file of one word per line");
    app.add_flag("--bow-multi-token", f.bag_options.multi_token,
                 "keep words of several tokens, scored by the probability of their first token "
                 "(run_pplm.py drops them)");
    app.add_flag("--bow-case-insensitive", f.bag_options.case_insensitive,
                 "also steer towards each word with its first letter in upper case");
    auto* discrim = app.add_option("--discrim", f.discrim_dir,
                                   "discriminator folder (head.safetensors + meta.json, as "
                                   "gradstack train-discrim writes)");
    app.add_option("--class-label", f.class_label,
                   "the class to steer towards: an id or a name of meta.json's class_vocab "
                   "(unknown: default_class, with a warning, as run_pplm.py)")
        ->needs(discrim);
    app.add_option("--perturb", f.perturb,
                   "past: the key/value cache (run_pplm.py); hidden: the last token's final hidden "
                   "state (PPLM.jl's variant)")
        ->capture_default_str()
        ->check(CLI::IsMember({"past", "hidden"}));
    app.add_option("--length", c.length, "new tokens")
        ->capture_default_str()
        ->check(integer_in(1, kMaxCount));
    app.add_option("--stepsize", c.stepsize, "gradient step size (0: no steering)")
        ->capture_default_str()
        ->check(real_in(0, kInf));
    app.add_option("--num-iterations", c.num_iterations, "gradient steps per token")
        ->capture_default_str()
        ->check(integer_in(0, 1000));
    app.add_option("--window-length", c.window_length,
                   "perturb only this many past positions (0: all); as run_pplm.py, the window "
                   "covers the FIRST positions of the past")
        ->capture_default_str()
        ->check(integer_in(0, kMaxCount));
    app.add_flag("--decay", c.decay, "linear ramp 1/w .. 1 over the window");
    app.add_option("--gamma", c.gamma, "gradient normalisation exponent")
        ->capture_default_str()
        ->check(real_in(0, kInf));
    app.add_option("--kl-scale", c.kl_scale, "weight of KL(perturbed || unperturbed)")
        ->capture_default_str()
        ->check(real_in(0, kInf));
    app.add_option("--gm-scale", c.gm_scale, "fusion p = p_pert^gm * p_unpert^(1-gm)")
        ->capture_default_str()
        ->check(real_in(0, 1));
    app.add_option("--grad-length", c.grad_length, "steer only the first N tokens")
        ->capture_default_str()
        ->check(integer_in(0, kMaxCount));
    app.add_option("--horizon-length", c.horizon_length, "discriminator look-ahead steps")
        ->capture_default_str()
        ->check(integer_in(1, kMaxCount));
    app.add_option("--temperature", c.temperature, "on the perturbed logits")
        ->capture_default_str()
        ->check(real_in(0, kInf, true));
    app.add_option("--top-k", c.top_k, "keep the k likeliest tokens (0: all)")
        ->capture_default_str()
        ->check(integer_in(0, kMaxCount));
}

void check_pplm_flags(PplmFlags& f) {
    f.config.perturb = f.perturb == "hidden" ? pplm::PerturbTarget::hidden : pplm::PerturbTarget::past;
    check(!f.bows.empty() || !f.discrim_dir.empty(),
          "give a bag of words (--bow NAME|FILE) or a discriminator (--discrim DIR "
          "--class-label N|NAME)");
    // The options on their own, before the model is loaded (its sizes are checked later).
    gpt::GPT2Config loose;
    loose.n_positions = std::numeric_limits<int32_t>::max();
    loose.vocab_size = std::numeric_limits<int32_t>::max();
    f.config.validate(loose, 1, false);
}

pplm::AttributeModel load_attribute(const PplmFlags& f, const gpt::Tokenizer& tokenizer,
                                    const gpt::GPT2Config& config) {
    pplm::AttributeModel attribute;
    // run_pplm.py's -B takes several bags separated by ';': accept that spelling too, unless the
    // value is a file whose name holds a ';'.
    std::vector<std::string> bows;
    for (const std::string& b : f.bows) {
        std::error_code ec;
        if (b.find(';') == std::string::npos || std::filesystem::exists(b, ec)) {
            bows.push_back(b);
            continue;
        }
        size_t start = 0;
        while (start <= b.size()) {
            const size_t end = std::min(b.find(';', start), b.size());
            if (end > start) bows.push_back(b.substr(start, end - start));
            start = end + 1;
        }
    }
    for (const std::string& b : bows) {
        attribute.bags.push_back(pplm::load_bag(b, tokenizer, f.bag_options));
        const auto& bag = attribute.bags.back();
        fmt::print(stderr, "bag '{}': {} words, {} kept, {} dropped (more than one token{})\n",
                   bag.name, bag.words, bag.ids.size(), bag.dropped.size(),
                   f.bag_options.multi_token ? "" : "; --bow-multi-token keeps them");
        for (int64_t id : bag.ids)
            check(id < config.vocab_size,
                  "bag '{}': token {} is not below the model's vocab_size {}", bag.name, id,
                  config.vocab_size);
    }
    if (!f.discrim_dir.empty()) {
        attribute.discrim =
            std::make_shared<pplm::Discriminator>(pplm::load_discriminator(f.discrim_dir));
        pplm::check_compatible(*attribute.discrim, config, f.discrim_dir);
        auto warn = [](const std::string& m) { fmt::print(stderr, "warning: {}\n", m); };
        attribute.class_label =
            f.class_label.empty()
                ? attribute.discrim->meta.default_class
                : pplm::resolve_class_label(attribute.discrim->meta, f.class_label, warn);
    }
    return attribute;
}

std::vector<int64_t> eot_prompt(const gpt::Tokenizer& tokenizer, const gpt::GPT2Config& config,
                                const std::string& text) {
    const int64_t bos = tokenizer.eot_id() >= 0 ? tokenizer.eot_id() : config.bos_token_id;
    check(bos >= 0, "the tokenizer has no <|endoftext|> and the model no bos_token_id: pass "
          "--prompt-ids");
    std::vector<int64_t> ids = {bos};
    for (int64_t id : tokenizer.encode(text, true)) ids.push_back(id);
    return ids;
}

}  // namespace gradstack::apps
