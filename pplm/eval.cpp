// PPLM evaluation (see eval.h).
#include "pplm/eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "autograd/ops.h"
#include "tensor/error.h"

namespace gradstack::pplm {

double distinct_n(const std::vector<std::vector<int64_t>>& texts, int64_t n) {
    std::set<std::vector<int64_t>> seen;
    int64_t total = 0;
    for (const auto& t : texts)
        for (size_t i = 0; i + n <= t.size(); ++i) {
            seen.insert(std::vector<int64_t>(t.begin() + i, t.begin() + i + n));
            ++total;
        }
    return total == 0 ? 0.0 : static_cast<double>(seen.size()) / static_cast<double>(total);
}

std::vector<double> perplexities(gpt::GPT2LMHeadModel& model, const std::vector<int64_t>& prompt,
                                 const std::vector<std::vector<int64_t>>& new_ids) {
    NoGradGuard no_grad;
    std::vector<double> out;
    const int64_t n = static_cast<int64_t>(prompt.size());
    for (const auto& row : new_ids) {
        const int64_t L = static_cast<int64_t>(row.size());
        if (L == 0) {
            out.push_back(std::nan(""));
            continue;
        }
        std::vector<int64_t> ids = prompt;
        ids.insert(ids.end(), row.begin(), row.end());
        gpt::ForwardOptions o;
        o.use_cache = false;
        Tensor logits = model.forward(from_vector<int64_t>(ids, {1, n + L}), o).logits;
        // Positions n-1 .. n+L-2 predict the new tokens.
        Tensor pred = slice(select(logits, 0, 0), 0, n - 1, n - 1 + L);  // (L, V)
        const double nll = cross_entropy(pred, from_vector<int64_t>(row)).item<double>();
        out.push_back(std::exp(nll));
    }
    return out;
}

namespace {

using Clock = std::chrono::steady_clock;

struct Accumulator {
    std::string name;
    int64_t samples = 0, tokens = 0, hits = 0, bag_tokens = 0, correct = 0;
    double attribute_loss = 0, perplexity = 0, seconds = 0;
    double dist[3] = {0, 0, 0};
    int64_t prompts = 0;
};

}  // namespace

EvalResult evaluate_pplm(gpt::GPT2LMHeadModel& model, const AttributeModel& attribute,
                         const std::optional<EvalJudge>& judge, const EvalConfig& config,
                         Generator* gen, const std::function<void(const std::string&)>& log) {
    const EvalConfig& c = config;
    check(!c.prompts.empty(), "[pplm-eval] no prompts");
    check(c.samples >= 1 && c.samples <= 1000, "--samples must be in [1, 1000], got {}", c.samples);
    check(c.rank >= 1 && c.rank <= 100, "--rank must be in [1, 100], got {}", c.rank);
    check(c.samples * c.rank <= 4096, "--samples x --rank = {} is more than 4096 rows",
          c.samples * c.rank);
    if (judge) {
        check(judge->discrim != nullptr, "[pplm-eval] the judge has no discriminator");
        check(judge->discrim != attribute.discrim,
              "the judging discriminator must not be the one that steers");
        check_compatible(*judge->discrim, model.config(), "--eval-discrim");
        check(judge->class_label >= 0 && judge->class_label < judge->discrim->meta.class_size,
              "--eval-class {} is not a class of the judging discriminator (0..{})",
              judge->class_label, judge->discrim->meta.class_size - 1);
    }
    PplmConfig pplm_config = c.pplm;
    pplm_config.sample = true;
    pplm_config.num_samples = c.samples * c.rank;
    for (const auto& p : c.prompts)
        pplm_config.validate(model.config(), static_cast<int64_t>(p.size()), attribute.has_discrim());
    const int64_t S = c.samples, R = c.rank, L = pplm_config.length;

    std::vector<Accumulator> acc(4);
    const char* names[4] = {"B", "BR", "BC", "BCR"};
    for (int m = 0; m < 4; ++m) acc[m].name = names[m];
    EvalResult result;

    for (size_t pi = 0; pi < c.prompts.size(); ++pi) {
        const auto& prompt = c.prompts[pi];
        // The two pools of S x R samples, timed.
        auto t0 = Clock::now();
        auto plain = generate_unperturbed(model, prompt, L, S * R, true, c.plain_top_k,
                                          c.plain_temperature, gen);
        const double plain_s = std::chrono::duration<double>(Clock::now() - t0).count();
        t0 = Clock::now();
        auto steered = generate_pplm(model, prompt, attribute, pplm_config, gen);
        const double steered_s = std::chrono::duration<double>(Clock::now() - t0).count();

        for (int pool = 0; pool < 2; ++pool) {
            const auto& samples = pool == 0 ? plain : steered;
            std::vector<std::vector<int64_t>> texts;
            for (const auto& s : samples) texts.push_back(s.new_ids);
            // PPLM scored its samples as it generated them; the plain ones are scored here.
            std::vector<double> scores;
            if (pool == 0)
                scores = attribute_losses(model, prompt, texts, attribute);
            else
                for (const auto& s : samples) scores.push_back(s.attribute_loss);
            for (int ranked = 0; ranked < 2; ++ranked) {
                Accumulator& a = acc[2 * pool + ranked];
                std::vector<int64_t> kept;
                for (int64_t g = 0; g < S; ++g) {
                    if (!ranked) {
                        kept.push_back(g);
                        continue;
                    }
                    int64_t best = g * R;
                    for (int64_t k = g * R; k < (g + 1) * R; ++k)
                        if (scores[k] < scores[best]) best = k;
                    kept.push_back(best);
                }
                std::vector<std::vector<int64_t>> chosen;
                for (int64_t k : kept) chosen.push_back(texts[k]);
                const std::vector<double> ppl = perplexities(model, prompt, chosen);
                std::vector<int64_t> classes;
                if (judge) classes = predicted_classes(model, prompt, chosen, *judge->discrim);
                for (size_t j = 0; j < kept.size(); ++j) {
                    a.samples += 1;
                    a.tokens += static_cast<int64_t>(chosen[j].size());
                    a.attribute_loss += scores[kept[j]];
                    a.perplexity += ppl[j];
                    if (judge) a.correct += classes[j] == judge->class_label;
                    if (attribute.has_bow()) {
                        const int64_t n = count_in_bags(attribute.bags, chosen[j]);
                        a.bag_tokens += n;
                        a.hits += n > 0;
                    }
                    result.samples.push_back({a.name, static_cast<int64_t>(pi), chosen[j],
                                              scores[kept[j]]});
                }
                for (int n = 1; n <= 3; ++n) a.dist[n - 1] += distinct_n(chosen, n);
                a.prompts += 1;
                // Time per kept token: the ranked methods drew R samples for each one they kept.
                const double pool_s = pool == 0 ? plain_s : steered_s;
                a.seconds += ranked ? pool_s : pool_s / static_cast<double>(R);
            }
        }
        if (log)
            log(fmt::format("prompt {}/{}: B {:.1f}s, BC {:.1f}s for {} samples of {} tokens each",
                            pi + 1, c.prompts.size(), plain_s, steered_s, S * R, L));
    }

    for (const Accumulator& a : acc) {
        MethodMetrics m;
        m.name = a.name;
        m.samples = a.samples;
        m.attribute_loss = a.attribute_loss / a.samples;
        if (judge) m.accuracy = static_cast<double>(a.correct) / a.samples;
        if (attribute.has_bow()) {
            m.bag_hit_rate = static_cast<double>(a.hits) / a.samples;
            m.bag_words_per_100 = 100.0 * a.bag_tokens / std::max<int64_t>(a.tokens, 1);
        }
        m.perplexity = a.perplexity / a.samples;
        m.dist1 = a.dist[0] / a.prompts;
        m.dist2 = a.dist[1] / a.prompts;
        m.dist3 = a.dist[2] / a.prompts;
        m.seconds_per_token = a.seconds / std::max<int64_t>(a.tokens, 1);
        result.methods.push_back(m);
    }
    return result;
}

}  // namespace gradstack::pplm
