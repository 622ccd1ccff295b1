// Beam search bookkeeping (see beam_search.h), a line-by-line reading of transformers 4.30's
// BeamHypotheses and BeamSearchScorer, with one difference: lengths count a prompt's own tokens,
// not the left padding of a batch, so that a prompt gives the same beams alone or batched.
#include "gpt/generation/beam_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/error.h"

namespace gradstack::gpt {

BeamHypotheses::BeamHypotheses(int64_t num_beams, double length_penalty,
                               EarlyStopping early_stopping, int64_t max_length)
    : num_beams_(num_beams),
      length_penalty_(length_penalty),
      early_stopping_(early_stopping),
      max_length_(max_length) {}

void BeamHypotheses::add(BeamRow row, double sum_logprobs, bool ended_with_eos) {
    const double length = static_cast<double>(row.tokens.size());
    const double score = sum_logprobs / std::pow(length, length_penalty_);
    if (size() < num_beams_ || score > worst_score_) {
        beams_.push_back({score, std::move(row), ended_with_eos});
        if (size() > num_beams_) {
            // HF sorts (score, index) pairs: the lowest score goes, the earliest on a tie; the
            // worst score is then the second lowest.
            std::vector<size_t> order(beams_.size());
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
                return beams_[a].score < beams_[b].score;
            });
            worst_score_ = beams_[order[1]].score;
            beams_.erase(beams_.begin() + static_cast<std::ptrdiff_t>(order[0]));
        } else {
            worst_score_ = std::min(score, worst_score_);
        }
    }
}

bool BeamHypotheses::is_done(double best_sum_logprobs, int64_t cur_len) const {
    if (size() < num_beams_) return false;
    switch (early_stopping_) {
        case EarlyStopping::yes:
            return true;
        case EarlyStopping::heuristic:
            // The best running beam scored at the current length (not exact when
            // length_penalty > 0: a longer sequence divides by more).
            return worst_score_ >= best_sum_logprobs / std::pow(static_cast<double>(cur_len),
                                                                length_penalty_);
        case EarlyStopping::never: {
            // Log-probs only fall as a beam grows, so its best reachable score is its current sum
            // over the largest denominator when length_penalty > 0, over the current one else.
            const double len = length_penalty_ > 0 ? static_cast<double>(max_length_)
                                                    : static_cast<double>(cur_len);
            return worst_score_ >= best_sum_logprobs / std::pow(len, length_penalty_);
        }
    }
    return false;
}

BeamSearchScorer::BeamSearchScorer(const GenerationConfig& config,
                                   const std::vector<int64_t>& max_lengths)
    : num_beams_(config.num_beams),
      num_return_(config.num_return_sequences),
      done_(max_lengths.size(), false) {
    for (int64_t max_length : max_lengths)
        hyps_.emplace_back(config.num_beams, config.length_penalty, config.early_stopping,
                           max_length);
}

bool BeamSearchScorer::all_done() const {
    return std::all_of(done_.begin(), done_.end(), [](bool d) { return d; });
}

std::vector<BeamCandidate> BeamSearchScorer::process(int64_t b,
                                                     const std::vector<BeamCandidate>& candidates,
                                                     const std::vector<BeamRow>& beams,
                                                     int64_t eos, int64_t pad) {
    std::vector<BeamCandidate> next;
    if (done_[b]) {
        // HF keeps feeding a finished prompt's rows pad tokens; their outputs are never used.
        next.assign(num_beams_, BeamCandidate{0, pad, 0, 0});
        return next;
    }
    for (size_t rank = 0; rank < candidates.size(); ++rank) {
        const BeamCandidate& c = candidates[rank];
        if (eos >= 0 && c.token == eos) {
            // An EOS ranked below num_beams would not have been a beam: it is not a hypothesis.
            if (static_cast<int64_t>(rank) >= num_beams_) continue;
            BeamRow row = beams[c.beam];  // the sequence without EOS, as HF stores it
            row.logprobs.push_back(c.logprob);
            hyps_[b].add(std::move(row), c.score, true);
        } else {
            next.push_back(c);
        }
        if (static_cast<int64_t>(next.size()) == num_beams_) break;
    }
    check(static_cast<int64_t>(next.size()) == num_beams_,
          "[beam search] only {} of {} candidates are not EOS: the vocabulary is too small for "
          "{} beams",
          next.size(), candidates.size(), num_beams_);
    const int64_t cur_len = static_cast<int64_t>(beams[0].tokens.size());
    done_[b] = hyps_[b].is_done(candidates[0].score, cur_len);
    return next;
}

std::vector<std::vector<GeneratedSequence>> BeamSearchScorer::finalize(
    const std::vector<std::vector<BeamRow>>& beams, const std::vector<std::vector<float>>& scores,
    const std::vector<int64_t>& prompt_lengths, int64_t eos) {
    std::vector<std::vector<GeneratedSequence>> out(hyps_.size());
    for (size_t b = 0; b < hyps_.size(); ++b) {
        if (!done_[b])
            for (int64_t k = 0; k < num_beams_; ++k) hyps_[b].add(beams[b][k], scores[b][k], false);
        // HF sorts by score (stably) and pops from the end: the best first, and of equal scores
        // the one added last.
        const auto& hs = hyps_[b].beams();
        std::vector<size_t> order(hs.size());
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t x, size_t y) { return hs[x].score < hs[y].score; });
        for (int64_t j = 0; j < num_return_ && j < static_cast<int64_t>(order.size()); ++j) {
            const auto& h = hs[order[order.size() - 1 - static_cast<size_t>(j)]];
            GeneratedSequence s;
            s.new_ids.assign(h.row.tokens.begin() + prompt_lengths[b], h.row.tokens.end());
            if (h.ended_with_eos) s.new_ids.push_back(eos);
            s.logprobs = h.row.logprobs;
            s.score = h.score;
            out[b].push_back(std::move(s));
        }
    }
    return out;
}

}  // namespace gradstack::gpt
