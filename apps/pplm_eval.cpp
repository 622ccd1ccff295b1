// `gradstack pplm-eval`: the PPLM paper's evaluation (Tables 4 and 6) on this stack: for N prompts
// and S samples each, plain sampling (B), B with ranking (BR), PPLM (BC) and PPLM with ranking
// (BCR), with attribute accuracy under a separately trained discriminator, bag hit rate,
// perplexity under the base model, distinct-1/2/3 and seconds per token. The evaluation itself:
// pplm/eval.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "apps/pplm_flags.h"
#include "gpt/checkpoint.h"
#include "pplm/eval.h"
#include "tensor/error.h"

namespace gradstack::apps {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The prompts of the PPLM paper's topic and sentiment experiments.
const std::vector<std::string> kPaperPrompts = {
    "The chicken", "The horse", "The pizza", "The potato", "The lake", "The book", "The city",
    "The country", "The movie", "The painting", "The road", "The last time", "The year is 1910.",
    "Once upon a time", "The president of the country"};

std::vector<std::string> read_prompts(const std::string& path) {
    std::error_code ec;
    check(fs::is_regular_file(path, ec), "--prompts {}: not a regular file", path);
    check(fs::file_size(path, ec) <= (16u << 20), "--prompts {}: larger than 16 MiB", path);
    std::ifstream in(path);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty()) out.push_back(line);
    }
    check(!out.empty(), "--prompts {}: no non-empty line", path);
    return out;
}

std::string opt(const std::optional<double>& v, const char* f = "{:.3f}") {
    return v ? fmt::format(fmt::runtime(f), *v) : "-";
}

int run_pplm_eval(int argc, char** argv) {
    CLI::App app{
        "Evaluate PPLM as the paper does: B (plain sampling), BR (B ranked), BC (PPLM), BCR (PPLM "
        "ranked) on N prompts x S samples; attribute accuracy under a separate discriminator, bag "
        "hit rate, perplexity, distinct-1/2/3, seconds per token"};
    std::string model_dir, tokenizer_dir, prompts_file, eval_dir, eval_class;
    std::vector<std::string> prompts;
    int64_t num_prompts = 5;
    uint64_t seed = 0;
    bool json_out = false, show = false;
    PplmFlags flags;
    flags.config.length = 20;
    pplm::EvalConfig ec;
    app.add_option("--model", model_dir, "GPT-2 folder")->required();
    app.add_option("--tokenizer", tokenizer_dir, "tokenizer folder (default: as gradstack pplm)");
    auto* p1 = app.add_option("--prompt", prompts, "a prompt (repeatable; <|endoftext|> is put "
                                                   "in front, as gradstack pplm)");
    auto* p2 = app.add_option("--prompts", prompts_file, "a file of prompts, one per line");
    p1->excludes(p2);
    app.add_option("--num-prompts", num_prompts,
                   "without --prompt/--prompts: the first N of the paper's 15 prompts")
        ->capture_default_str()
        ->check(integer_in(1, static_cast<int64_t>(kPaperPrompts.size())));
    add_pplm_flags(app, flags);
    auto* ed = app.add_option("--eval-discrim", eval_dir,
                              "the judging discriminator folder: trained on other data or another "
                              "split, never the steering one");
    app.add_option("--eval-class", eval_class,
                   "the judge's class counted as success (id or name; default: the steering "
                   "class's name, when the judge has it)")
        ->needs(ed);
    app.add_option("--samples", ec.samples, "samples kept per prompt and method")
        ->capture_default_str()
        ->check(integer_in(1, 4096));
    app.add_option("--rank", ec.rank, "candidates per kept sample in BR and BCR")
        ->capture_default_str()
        ->check(integer_in(1, 4096));
    app.add_option("--seed", seed, "sampling seed")->capture_default_str()->check(seed_value());
    app.add_flag("--show-samples", show, "print every kept sample");
    app.add_flag("--json", json_out,
                 "print one JSON object: {\"methods\": [{\"name\", \"samples\", \"accuracy\", "
                 "\"bag_hit_rate\", \"bag_words_per_100\", \"perplexity\", \"dist1\", \"dist2\", "
                 "\"dist3\", \"seconds_per_token\", \"attribute_loss\"}], \"samples\": [...]}");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;
    check_pplm_flags(flags);
    check(num_prompts >= 1 && num_prompts <= static_cast<int64_t>(kPaperPrompts.size()),
          "--num-prompts must be in [1, {}], got {}", kPaperPrompts.size(), num_prompts);
    if (!eval_dir.empty() && !flags.discrim_dir.empty()) {
        std::error_code e1, e2;
        check(fs::weakly_canonical(eval_dir, e1) != fs::weakly_canonical(flags.discrim_dir, e2),
              "--eval-discrim is the steering discriminator ({}); judge with one trained "
              "separately (other data or another split)", eval_dir);
    }
    if (prompts.empty())
        prompts = prompts_file.empty()
                      ? std::vector<std::string>(kPaperPrompts.begin(), kPaperPrompts.begin() + num_prompts)
                      : read_prompts(prompts_file);

    auto model = gpt::load_pretrained(model_dir);
    const gpt::Tokenizer tokenizer = require_tokenizer(tokenizer_dir, model_dir);
    const pplm::AttributeModel attribute = load_attribute(flags, tokenizer, model->config());
    for (const auto& p : prompts) ec.prompts.push_back(eot_prompt(tokenizer, model->config(), p));
    ec.pplm = flags.config;

    std::optional<pplm::EvalJudge> judge;
    if (!eval_dir.empty()) {
        judge.emplace();
        judge->discrim = std::make_shared<pplm::Discriminator>(pplm::load_discriminator(eval_dir));
        if (attribute.has_discrim()) {
            const auto& a = *attribute.discrim;
            const auto& b = *judge->discrim;
            check(a.meta.class_size != b.meta.class_size ||
                      to_vector<float>(a.head->weight) != to_vector<float>(b.head->weight),
                  "--eval-discrim {} holds the same weights as the steering --discrim; judge "
                  "with one trained separately", eval_dir);
        }
        std::string label = eval_class;
        if (label.empty() && attribute.has_discrim())
            for (const auto& [name, id] : attribute.discrim->meta.class_vocab)
                if (id == attribute.class_label) label = name;
        check(!label.empty(), "--eval-class is needed: which class of the judge counts as success");
        auto warn = [](const std::string& m) { fmt::print(stderr, "warning: {}\n", m); };
        judge->class_label = pplm::resolve_class_label(judge->discrim->meta, label, warn);
    }

    Generator gen(seed);
    auto log = [&](const std::string& line) { fmt::print(stderr, "{}\n", line); };
    const pplm::EvalResult r = pplm::evaluate_pplm(*model, attribute, judge, ec, &gen, log);

    if (json_out) {
        json out = {{"prompts", prompts}, {"methods", json::array()}, {"samples", json::array()}};
        auto maybe = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
        for (const auto& m : r.methods)
            out["methods"].push_back({{"name", m.name},
                                      {"samples", m.samples},
                                      {"attribute_loss", m.attribute_loss},
                                      {"accuracy", maybe(m.accuracy)},
                                      {"bag_hit_rate", maybe(m.bag_hit_rate)},
                                      {"bag_words_per_100", maybe(m.bag_words_per_100)},
                                      {"perplexity", m.perplexity},
                                      {"dist1", m.dist1},
                                      {"dist2", m.dist2},
                                      {"dist3", m.dist3},
                                      {"seconds_per_token", m.seconds_per_token}});
        for (const auto& s : r.samples)
            out["samples"].push_back({{"method", s.method},
                                      {"prompt", s.prompt},
                                      {"new_ids", s.new_ids},
                                      {"text", tokenizer.decode_text(s.new_ids)},
                                      {"attribute_loss", s.attribute_loss}});
        const std::string text = out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        std::fwrite(text.data(), 1, text.size(), stdout);
        return 0;
    }
    fmt::print("{} prompts x {} samples, {} tokens each, rank among {}; steering: {}{}\n",
               prompts.size(), ec.samples, ec.pplm.length, ec.rank,
               attribute.has_bow() ? "bag of words" : "", attribute.has_discrim()
                                                              ? (attribute.has_bow() ? " + discriminator" : "discriminator")
                                                              : "");
    fmt::print("{:<5} {:>8} {:>9} {:>8} {:>8} {:>10} {:>6} {:>6} {:>6} {:>9}\n", "", "attr.loss",
               "accuracy", "bag hit", "bag/100", "perplexity", "dist1", "dist2", "dist3",
               "s/token");
    for (const auto& m : r.methods)
        fmt::print("{:<5} {:>8.3f} {:>9} {:>8} {:>8} {:>10.1f} {:>6.3f} {:>6.3f} {:>6.3f} {:>9.4f}\n",
                   m.name, m.attribute_loss, opt(m.accuracy), opt(m.bag_hit_rate),
                   opt(m.bag_words_per_100, "{:.1f}"), m.perplexity, m.dist1, m.dist2, m.dist3,
                   m.seconds_per_token);
    if (!judge) fmt::print("(accuracy: pass --eval-discrim DIR --eval-class L)\n");
    if (show)
        for (const auto& s : r.samples)
            fmt::print("[{} prompt {}] {}{}\n", s.method, s.prompt, prompts[s.prompt],
                       tokenizer.decode_text(s.new_ids));
    return 0;
}

const bool registered = register_command(
    {"pplm-eval", "evaluate PPLM: B, BR, BC, BCR with accuracy, perplexity, distinct-n, speed",
     run_pplm_eval});

}  // namespace

}  // namespace gradstack::apps
