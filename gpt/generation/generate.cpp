// The decoding loops (see generate.h), after transformers 4.30's greedy_search, sample and
// beam_search. Each step: the model's next-token logits for every row (Decoder), the processors
// (and, when sampling, the warpers) on each row, then the strategy's choice. Scores are float32
// as in PyTorch, so ties and rankings come out as Hugging Face's do.
#include "gpt/generation/generate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "autograd/ops.h"
#include "gpt/generation/beam_search.h"
#include "gpt/generation/decoder.h"
#include "gpt/generation/logits_process.h"
#include "gpt/generation/memory.h"

namespace gradstack::gpt {

namespace {

std::span<float> row_of(const Tensor& scores, int64_t r) {
    const int64_t V = scores.size(1);
    return {scores.data<float>() + r * V, static_cast<size_t>(V)};
}

// Bytes per value of the model's weights (and so of its activations and cache).
int64_t model_bytes_per_value(GPT2LMHeadModel& model) {
    return static_cast<int64_t>(itemsize(model.transformer->wte->weight.dtype()));
}

// Eval mode without a graph for the duration of generation; the caller's mode comes back.
class InferenceScope {
public:
    explicit InferenceScope(nn::Module& m) : m_(m), was_training_(m.is_training()) { m.eval(); }
    ~InferenceScope() { m_.train(was_training_); }
    InferenceScope(const InferenceScope&) = delete;
    InferenceScope& operator=(const InferenceScope&) = delete;

private:
    nn::Module& m_;
    bool was_training_;
    NoGradGuard no_grad_;
};

// Greedy search and multinomial sampling: one row per returned sequence, each independent.
std::vector<std::vector<GeneratedSequence>> search(GPT2LMHeadModel& model,
                                                   const std::vector<std::vector<int64_t>>& prompts,
                                                   const GenerationConfig& config, Generator& gen,
                                                   const TokenCallback& on_token) {
    const int64_t P = static_cast<int64_t>(prompts.size());
    const int64_t n = config.do_sample ? config.num_return_sequences : 1;
    std::vector<std::vector<int64_t>> tokens;  // row r = prompt r / n (HF's repeat_interleave)
    for (const auto& p : prompts)
        for (int64_t k = 0; k < n; ++k) tokens.push_back(p);
    const int64_t R = P * n, stop = config.stop_id(), pad = config.pad_id();
    std::vector<GeneratedSequence> out(R);
    std::vector<int64_t> new_tokens(R, 0);
    std::vector<bool> finished(R, false);
    const LogitsProcessorList processors = make_processors(config);
    const LogitsProcessorList warpers =
        config.do_sample ? make_warpers(config) : LogitsProcessorList{};

    Decoder decoder(model, tokens, pad, config.use_cache);
    Tensor scores = config.max_new_tokens > 0 ? decoder.start() : Tensor();
    for (int64_t step = 0; step < config.max_new_tokens; ++step) {
        check_finite_logits(scores, fmt::format("[generate] the model's logits for new token {}",
                                                step + 1));
        apply_processors(processors, scores, tokens, new_tokens);
        std::vector<int64_t> chosen(R, pad);
        if (config.do_sample) {
            apply_processors(warpers, scores, tokens, new_tokens);
            for (int64_t r = 0; r < R; ++r) {
                const auto row = row_of(scores, r);
                check(std::any_of(row.begin(), row.end(), [](float s) { return std::isfinite(s); }),
                      "[generate] every token of row {} is banned at step {}", r, step);
            }
            Tensor draws = multinomial(softmax(scores, -1), 1, false, &gen);  // (R, 1)
            chosen = to_vector<int64_t>(draws);
        } else {
            // argmax: the first of equal maxima, as torch.argmax.
            for (int64_t r = 0; r < R; ++r) {
                const auto row = row_of(scores, r);
                chosen[r] = std::max_element(row.begin(), row.end()) - row.begin();
            }
        }
        for (int64_t r = 0; r < R; ++r) {
            if (finished[r]) {
                chosen[r] = pad;  // HF feeds padding to finished rows; nothing is recorded
                continue;
            }
            const int64_t t = chosen[r];
            out[r].new_ids.push_back(t);
            out[r].logprobs.push_back(static_cast<float>(log_prob_of(row_of(scores, r), t)));
            out[r].score += out[r].logprobs.back();
            tokens[r].push_back(t);
            ++new_tokens[r];
            if (on_token) on_token(r, t);
            if (t == stop) finished[r] = true;
        }
        const bool all_finished = std::all_of(finished.begin(), finished.end(), [](bool f) { return f; });
        if (all_finished || step + 1 == config.max_new_tokens) break;
        scores = decoder.step(chosen);
    }
    std::vector<std::vector<GeneratedSequence>> result(P);
    for (int64_t r = 0; r < R; ++r) result[r / n].push_back(std::move(out[r]));
    return result;
}

// The 2 * num_beams best (beam, token) continuations of prompt b's beams, best first; ties keep
// the lower beam, then the lower token (torch.topk leaves their order unspecified).
std::vector<BeamCandidate> best_candidates(const Tensor& logprobs, int64_t b, int64_t num_beams,
                                           const std::vector<float>& beam_scores) {
    const size_t keep = static_cast<size_t>(2 * num_beams);
    std::vector<BeamCandidate> best;  // sorted best first, at most `keep`
    best.reserve(keep + 1);
    for (int64_t k = 0; k < num_beams; ++k) {
        const auto row = row_of(logprobs, b * num_beams + k);
        for (size_t v = 0; v < row.size(); ++v) {
            const float s = row[v] + beam_scores[k];  // float32, as HF adds them
            if (best.size() == keep && !(s > best.back().score)) continue;
            auto at = std::upper_bound(best.begin(), best.end(), s,
                                       [](float x, const BeamCandidate& c) { return x > c.score; });
            best.insert(at, BeamCandidate{s, static_cast<int64_t>(v), k, row[v]});
            if (best.size() > keep) best.pop_back();
        }
    }
    return best;
}

std::vector<std::vector<GeneratedSequence>> beam_search(
    GPT2LMHeadModel& model, const std::vector<std::vector<int64_t>>& prompts,
    const GenerationConfig& config) {
    const int64_t P = static_cast<int64_t>(prompts.size()), nb = config.num_beams;
    const int64_t stop = config.stop_id(), pad = config.pad_id();
    std::vector<std::vector<BeamRow>> beams(P);
    std::vector<std::vector<float>> beam_scores(P);
    std::vector<int64_t> prompt_len, max_len;
    std::vector<std::vector<int64_t>> rows;  // row b * nb + k = beam k of prompt b
    for (int64_t b = 0; b < P; ++b) {
        prompt_len.push_back(static_cast<int64_t>(prompts[b].size()));
        max_len.push_back(prompt_len.back() + config.max_new_tokens);
        for (int64_t k = 0; k < nb; ++k) {
            beams[b].push_back({prompts[b], {}});
            rows.push_back(prompts[b]);
            // Only beam 0 is live at first: the others start at -1e9 so that the first step
            // does not pick the same token num_beams times.
            beam_scores[b].push_back(k == 0 ? 0.0f : -1e9f);
        }
    }
    BeamSearchScorer scorer(config, max_len);
    const LogitsProcessorList processors = make_processors(config);
    Decoder decoder(model, rows, pad, config.use_cache);
    Tensor scores = config.max_new_tokens > 0 ? decoder.start() : Tensor();
    for (int64_t step = 0; step < config.max_new_tokens; ++step) {
        std::vector<int64_t> new_tokens(P * nb, step);
        check_finite_logits(scores, fmt::format("[generate] the model's logits for new token {}",
                                                step + 1));
        for (int64_t r = 0; r < P * nb; ++r) log_softmax_inplace(row_of(scores, r));
        apply_processors(processors, scores, rows, new_tokens);
        std::vector<int64_t> source(P * nb), next_tokens(P * nb);
        for (int64_t b = 0; b < P; ++b) {
            const bool was_done = scorer.is_done(b);
            std::vector<BeamCandidate> next;
            if (was_done) {
                next = scorer.process(b, {}, beams[b], stop, pad);
            } else {
                next = scorer.process(b, best_candidates(scores, b, nb, beam_scores[b]), beams[b],
                                      stop, pad);
            }
            std::vector<BeamRow> moved(nb);
            for (int64_t k = 0; k < nb; ++k) {
                source[b * nb + k] = b * nb + next[k].beam;
                next_tokens[b * nb + k] = next[k].token;
                beam_scores[b][k] = next[k].score;
                if (was_done) continue;  // a finished prompt's rows only keep the batch's shape
                moved[k] = beams[b][next[k].beam];
                moved[k].tokens.push_back(next[k].token);
                moved[k].logprobs.push_back(next[k].logprob);
            }
            if (!was_done) beams[b] = std::move(moved);
            for (int64_t k = 0; k < nb; ++k) rows[b * nb + k] = beams[b][k].tokens;
        }
        if (scorer.all_done() || step + 1 == config.max_new_tokens) break;
        decoder.reorder(source);
        scores = decoder.step(next_tokens);
    }
    return scorer.finalize(beams, beam_scores, prompt_len, stop);
}

}  // namespace

// Checked before the processors, which set -inf on purpose.
void check_finite_logits(const Tensor& scores, const std::string& what) {
    const int64_t R = scores.size(0);
    for (int64_t r = 0; r < R; ++r) {
        const auto row = row_of(scores, r);
        const auto bad = std::find_if(row.begin(), row.end(), [](float s) { return !std::isfinite(s); });
        if (bad == row.end()) continue;
        fail("{} are not finite ({} for token {} of row {}): its weights or input produce {}; "
             "check the checkpoint (gradstack inspect shows every layer)",
             what, *bad, bad - row.begin(), r, std::isnan(*bad) ? "NaN" : "infinities");
    }
}

std::vector<std::vector<int64_t>> prepare_prompts(const std::vector<std::vector<int64_t>>& prompts,
                                                  const GenerationConfig& config,
                                                  const GPT2Config& model_config) {
    check(!prompts.empty(), "[generate] no prompts");
    std::vector<std::vector<int64_t>> out;
    for (size_t i = 0; i < prompts.size(); ++i) {
        std::vector<int64_t> p = prompts[i];
        if (p.empty()) {
            check(config.bos_token_id >= 0,
                  "[generate] prompt {} is empty and there is no BOS token to start from", i);
            p.push_back(config.bos_token_id);
        }
        for (int64_t id : p)
            check(id >= 0 && id < model_config.vocab_size,
                  "[generate] prompt {} has token id {} outside the vocabulary [0, {})", i, id,
                  model_config.vocab_size);
        const int64_t len = static_cast<int64_t>(p.size());
        // (written as a difference: len + max_new_tokens overflows for max_new_tokens near 2^63)
        check(config.max_new_tokens <= model_config.n_positions - len,
              "[generate] prompt {} has {} tokens; with max_new_tokens = {} that is {}, more than "
              "the model's n_positions = {}",
              i, len, config.max_new_tokens,
              static_cast<double>(len) + static_cast<double>(config.max_new_tokens),
              model_config.n_positions);
        out.push_back(std::move(p));
    }
    return out;
}

std::vector<std::vector<GeneratedSequence>> generate(GPT2LMHeadModel& model,
                                                     const std::vector<std::vector<int64_t>>& prompts,
                                                     const GenerationConfig& config,
                                                     Generator* gen, const TokenCallback& on_token) {
    config.validate();
    const auto rows = prepare_prompts(prompts, config, model.config());
    // Padding is masked out, so its id only has to exist: a small vocabulary without the EOS id
    // pads with 0.
    GenerationConfig c = config;
    if (c.pad_id() >= model.config().vocab_size) c.pad_token_id = 0;
    check_generation_memory(model.config(), c, rows, model_bytes_per_value(model));
    InferenceScope scope(model);
    if (c.num_beams > 1) return beam_search(model, rows, c);
    Generator local(c.seed);
    return search(model, rows, c, gen ? *gen : local, on_token);
}

}  // namespace gradstack::gpt
