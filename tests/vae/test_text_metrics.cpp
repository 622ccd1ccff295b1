// BLEU, Self-BLEU, distinct-n, diversity and memorisation against hand-computed values.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "tensor/error.h"
#include "vae/text_metrics.h"

using namespace gradstack::vae;
namespace tt = boost::test_tools;

BOOST_AUTO_TEST_SUITE(text_metrics)

BOOST_AUTO_TEST_CASE(bleu_by_hand) {
    Words ref = split_words("the cat sat on the mat");
    BOOST_TEST(corpus_bleu({ref}, {{ref}}) == 100.0, tt::tolerance(1e-9));
    // hyp "the cat sat on a mat": 1-grams 5/6, 2-grams 3/5, 3-grams 2/4, 4-grams 1/3, BP 1.
    Words hyp = split_words("the cat sat on a mat");
    const double want = 100 * std::exp((std::log(5.0 / 6) + std::log(3.0 / 5) + std::log(2.0 / 4) +
                                        std::log(1.0 / 3)) / 4);
    BOOST_TEST(corpus_bleu({hyp}, {{ref}}) == want, tt::tolerance(1e-9));
    // A short hypothesis: "the cat sat on" (c = 4, r = 6): all precisions 1, BP = exp(1 - 6/4).
    BOOST_TEST(corpus_bleu({split_words("the cat sat on")}, {{ref}}) == 100 * std::exp(1 - 1.5),
               tt::tolerance(1e-9));
    // Clipping: "the the the the the" against ref has 1-gram precision 2/5 but no 2-gram match.
    BOOST_TEST(corpus_bleu({split_words("the the the the the")}, {{ref}}) == 0.0);
    BOOST_CHECK_THROW(corpus_bleu({hyp}, {}), gradstack::Error);
}

BOOST_AUTO_TEST_CASE(distinct_diversity_memorisation_self_bleu) {
    std::vector<Words> texts{split_words("a b c a b"), split_words("a b d")};
    // bigrams: ab bc ca ab | ab bd -> 6 total, unique {ab, bc, ca, bd} = 4.
    BOOST_TEST(distinct_n(texts, 2) == 4.0 / 6);
    BOOST_TEST(distinct_n(texts, 1) == 4.0 / 8);
    // trigrams: abc bca cab | abd -> 4 unique of 4; 4-grams: abca bcab -> 2 of 2.
    BOOST_TEST(diversity(texts) == 4.0 / 6 * 1.0 * 1.0, tt::tolerance(1e-12));
    std::vector<Words> train{split_words("x a b c a y")};
    // The texts' 4-grams: abca (in the training text), bcab (not): 1/2.
    BOOST_TEST(memorisation(texts, train) == 0.5);
    std::vector<Words> same{split_words("one two three four five"), split_words("one two three four five")};
    BOOST_TEST(self_bleu(same) == 100.0, tt::tolerance(1e-9));
    std::vector<Words> apart{split_words("one two three four five"), split_words("six seven eight nine ten")};
    BOOST_TEST(self_bleu(apart) == 0.0);
}

BOOST_AUTO_TEST_SUITE_END()
