// Measures of generated text for `gradstack vae eval`, on whitespace-separated words:
// corpus BLEU (Papineni et al. 2002), Self-BLEU (Zhu et al. 2018), distinct-n (Li et al. 2016),
// LD4LG's diversity (product over n = 2..4 of unique / total n-grams) and memorisation (the
// share of generated 4-grams found in the training text). Read next: apps/vae_eval.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gradstack::vae {

using Words = std::vector<std::string>;
Words split_words(const std::string& text);

// Corpus BLEU-4 in [0, 100] of hyps[i] against its references refs[i] (one or more each):
//   p_n = sum_i sum_g min(count_hyp(g), max_r count_r(g)) / sum_i (n-grams of hyp i)
//   BLEU = BP * exp(mean_n log p_n),  BP = min(1, exp(1 - r / c)), c the hypotheses' words, r
//   the references' words (for each hypothesis the reference length closest to its own).
// 0 when some p_n is 0. Throws for sizes that differ or no hypotheses.
double corpus_bleu(const std::vector<Words>& hyps, const std::vector<std::vector<Words>>& refs);

// Mean over i of corpus_bleu({text i}, {all the other texts}) (Texygen's Self-BLEU, without
// smoothing): high means the texts repeat each other. Needs >= 2 texts.
double self_bleu(const std::vector<Words>& texts);

// Unique n-grams / all n-grams over all texts (0 when there are none).
double distinct_n(const std::vector<Words>& texts, int n);
// prod_{n=2..4} distinct_n.
double diversity(const std::vector<Words>& texts);
// The share of the texts' 4-grams that occur in `training` (0 when the texts have none).
double memorisation(const std::vector<Words>& texts, const std::vector<Words>& training);

}  // namespace gradstack::vae
