// Evaluating PPLM as the paper's Tables 4 and 6 do, on this stack: for each prompt, S samples
// from four methods:
//   B    plain sampling from the base model (top-k 10, as uber's unperturbed run);
//   BR   B with ranking: each kept sample is the best of R by the steering attribute's loss;
//   BC   PPLM (the steering attribute model, sampling);
//   BCR  BC with ranking, the same way.
// and per method: attribute accuracy under a separate discriminator (never the one that steers),
// the bag hit rate (BoW), perplexity under the base model, distinct-1/2/3 and seconds per token.
// The ranked methods keep one of every R samples of a pool whose first S samples are the unranked
// method's: B and BR (and BC and BCR) share their draws, as independent samples may.
// Read next: eval.cpp; `gradstack pplm-eval` (apps/pplm_eval.cpp) prints the table.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pplm/generate.h"

namespace gradstack::pplm {

struct EvalConfig {
    std::vector<std::vector<int64_t>> prompts;  // token ids, each non-empty
    int64_t samples = 3;   // S kept per prompt and method
    int64_t rank = 3;      // R candidates per kept sample (BR, BCR)
    PplmConfig pplm;       // BC's options; sampling is forced on; length for every method
    int64_t plain_top_k = 10;         // B's top-k
    double plain_temperature = 1.0;   // B's temperature
};

// The judge: a discriminator trained separately from the steering one, and the class that
// counts as success.
struct EvalJudge {
    std::shared_ptr<Discriminator> discrim;
    int64_t class_label = 0;
};

struct MethodMetrics {
    std::string name;                 // "B", "BR", "BC", "BCR"
    int64_t samples = 0;
    double attribute_loss = 0;        // mean steering attribute loss (attribute_losses)
    std::optional<double> accuracy;   // fraction the judge assigns to its class
    std::optional<double> bag_hit_rate;     // fraction of samples with at least one bag word
    std::optional<double> bag_words_per_100;  // bag words per 100 new tokens
    double perplexity = 0;            // mean over samples of exp(mean NLL of the new tokens)
    double dist1 = 0, dist2 = 0, dist3 = 0;  // distinct n-grams / n-grams, per prompt, averaged
    double seconds_per_token = 0;     // generation time per kept token (ranked: R drawn each)
};

struct EvalSample {
    std::string method;
    int64_t prompt = 0;
    std::vector<int64_t> new_ids;
    double attribute_loss = 0;
};

struct EvalResult {
    std::vector<MethodMetrics> methods;  // B, BR, BC, BCR
    std::vector<EvalSample> samples;     // every kept sample
};

// Runs the evaluation. `log` gets one line per prompt. Throws gradstack::Error for bad settings.
EvalResult evaluate_pplm(gpt::GPT2LMHeadModel& model, const AttributeModel& attribute,
                         const std::optional<EvalJudge>& judge, const EvalConfig& config,
                         Generator* gen, const std::function<void(const std::string&)>& log = {});

// Distinct n-grams of `texts` (token ids) over all their n-grams: 0 when there is none.
double distinct_n(const std::vector<std::vector<int64_t>>& texts, int64_t n);

// exp(mean negative log-likelihood of each row's new tokens given the prompt) under `model`.
std::vector<double> perplexities(gpt::GPT2LMHeadModel& model, const std::vector<int64_t>& prompt,
                                 const std::vector<std::vector<int64_t>>& new_ids);

}  // namespace gradstack::pplm
