// What `gradstack pplm` and `gradstack pplm-eval` share: the attribute model flags (--bow,
// --discrim, --class-label) and the perturbation flags with run_pplm.py's defaults, and turning
// them into a pplm::AttributeModel. Defined in pplm_flags.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "gpt/model.h"
#include "gpt/tokenizer/tokenizer.h"
#include "pplm/generate.h"

namespace gradstack::apps {

struct PplmFlags {
    std::vector<std::string> bows;
    pplm::BagOptions bag_options;
    std::string discrim_dir, class_label;
    std::string perturb = "past";
    pplm::PplmConfig config;  // length, stepsize, ... (num_samples, sample, seed: the caller's)
};

// Adds --bow, --bow-multi-token, --bow-case-insensitive, --discrim, --class-label, --perturb,
// --length, --stepsize, --num-iterations, --window-length, --decay, --gamma, --kl-scale,
// --gm-scale, --grad-length, --horizon-length, --temperature and --top-k.
void add_pplm_flags(CLI::App& app, PplmFlags& flags);

// After parsing: sets config.perturb, checks that an attribute model was given and that the
// options are valid on their own (before any model is loaded).
void check_pplm_flags(PplmFlags& flags);

// Loads the bags (printing, on stderr, how many words each kept and dropped) and the
// discriminator, checked against the model; the class label resolved as run_pplm.py does.
pplm::AttributeModel load_attribute(const PplmFlags& flags, const gpt::Tokenizer& tokenizer,
                                    const gpt::GPT2Config& config);

// run_pplm.py's prompt: <|endoftext|> (the tokenizer's, else the model's bos_token_id), then
// `text` encoded with the special token recognised, as tokenizer.encode(bos_token + text).
// Throws when there is no such id.
std::vector<int64_t> eot_prompt(const gpt::Tokenizer& tokenizer, const gpt::GPT2Config& config,
                                const std::string& text = "");

}  // namespace gradstack::apps
