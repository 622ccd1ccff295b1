// Byte-level BPE training (gpt/tokenizer/train.h): merges worked out by hand on tiny corpora, the
// incremental trainer against a recount-every-merge reference on random text, determinism, round
// trips through Tokenizer, special tokens, bad input, and `gradstack train-tokenizer` itself.
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <random>
#include <sstream>

#include "gpt/tokenizer/pretokenizer.h"
#include "gpt/tokenizer/train.h"
#include "tensor/error.h"
#include "tests/gpt/tokenizer_helpers.h"
#include "tests/test_util.h"

using gradstack::testing::contains;
using gradstack::testing::error_of;

using namespace gradstack;
using namespace gradstack::test;
using Merges = std::vector<std::pair<std::string, std::string>>;

namespace {

gpt::BpeVocabulary train(const std::string& text, int64_t vocab_size, int64_t min_frequency = 1,
                         std::vector<std::string> special = {}) {
    gpt::BpeTrainer t({vocab_size, min_frequency, std::move(special)});
    t.add_text(text);
    return t.train();
}

const std::string G = byte_token(' ');  // "Ġ", the byte-level space

// The reference: plain BPE that recounts every pair after every merge, with the same ids and the
// same tie rule (largest count, then smallest (left id, right id)). Slow and obviously right.
Merges reference_merges(const std::string& text, int64_t vocab_size, int64_t min_frequency) {
    std::map<std::string, uint32_t> id_of;
    std::vector<std::string> tokens;
    std::vector<int> order(256);
    for (int b = 0; b < 256; ++b) order[b] = b;
    std::sort(order.begin(), order.end(),
              [](int x, int y) { return gpt::bytes_to_unicode()[x] < gpt::bytes_to_unicode()[y]; });
    std::vector<uint32_t> byte_id(256);
    for (int b : order) {
        byte_id[b] = static_cast<uint32_t>(tokens.size());
        id_of[byte_token(b)] = byte_id[b];
        tokens.push_back(byte_token(b));
    }
    std::map<std::string, int64_t> counts;
    gpt::Pretokenizer p;
    for (auto piece : p.split(text)) ++counts[std::string(piece)];
    std::vector<std::pair<std::vector<uint32_t>, int64_t>> words;
    for (const auto& [w, n] : counts) {
        std::vector<uint32_t> s;
        for (char c : w) s.push_back(byte_id[static_cast<unsigned char>(c)]);
        words.emplace_back(s, n);
    }
    Merges merges;
    while (static_cast<int64_t>(tokens.size()) < vocab_size) {
        std::map<std::pair<uint32_t, uint32_t>, int64_t> pairs;
        for (const auto& [s, n] : words)
            for (std::size_t i = 0; i + 1 < s.size(); ++i) pairs[{s[i], s[i + 1]}] += n;
        std::pair<uint32_t, uint32_t> best{};
        int64_t best_n = 0;
        for (const auto& [pair, n] : pairs)  // ascending pairs: the first of the largest count
            if (n > best_n) best = pair, best_n = n;
        if (best_n < 1 || best_n < min_frequency) break;
        merges.emplace_back(tokens[best.first], tokens[best.second]);
        const std::string text_ab = tokens[best.first] + tokens[best.second];
        auto [it, inserted] = id_of.emplace(text_ab, static_cast<uint32_t>(tokens.size()));
        if (inserted) tokens.push_back(text_ab);
        for (auto& [s, n] : words) {
            std::vector<uint32_t> out;
            for (std::size_t i = 0; i < s.size();) {
                if (i + 1 < s.size() && s[i] == best.first && s[i + 1] == best.second) {
                    out.push_back(it->second);
                    i += 2;
                } else {
                    out.push_back(s[i++]);
                }
            }
            s = out;
        }
    }
    return merges;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bpe_train)

BOOST_AUTO_TEST_CASE(hand_computed_merges) {
    // Words: "aaab", " aab", " ab". Byte ids in code-point order: a = 64, b = 65, Ġ = 220.
    // Counts: (a a) 3, (a b) 3, (Ġ a) 2: a tie, and (64, 64) < (64, 65), so "a a" first.
    // Then "aa a b", "Ġ aa b", "Ġ a b": (a b) 2 is the only pair left at count 2.
    const std::string text = "aaab aab ab";
    gpt::BpeVocabulary v = train(text, 1000, 2);
    BOOST_TEST((v.merges == Merges{{"a", "a"}, {"a", "b"}}));
    BOOST_TEST(v.tokens.size() == 258u);
    BOOST_TEST(v.tokens[64] == "a");
    BOOST_TEST(v.tokens[220] == G);
    BOOST_TEST(v.tokens[256] == "aa");
    BOOST_TEST(v.tokens[257] == "ab");
    // With min_frequency 1 the count-1 pairs follow, smallest ids first: (Ġ 220, aa 256),
    // (Ġ 220, ab 257), (aa 256, ab 257), (Ġaa 258, b 65); then every word is one token.
    v = train(text, 1000, 1);
    BOOST_TEST(
        (v.merges ==
         Merges{{"a", "a"}, {"a", "b"}, {G, "aa"}, {G, "ab"}, {"aa", "ab"}, {G + "aa", "b"}}));
    BOOST_TEST(v.tokens.size() == 262u);
    // The vocabulary size stops it: 256 + 3.
    v = train(text, 259, 1);
    BOOST_TEST(v.merges.size() == 3u);
    BOOST_TEST(v.tokens.size() == 259u);
}

BOOST_AUTO_TEST_CASE(overlapping_and_adjacent_occurrences) {
    // "aaaa" x2: (a a) counts 3 per word (overlapping), merged left to right: "aa aa"; then
    // (aa aa) -> "aaaa". The neighbour bookkeeping must leave no pair counted twice.
    gpt::BpeVocabulary v = train("aaaa aaaa", 1000, 2);
    // Pieces: "aaaa", " aaaa": (a a) 6 -> aa; (aa aa) 2 -> aaaa; (Ġ aa) 1 stops at min 2.
    BOOST_TEST((v.merges == Merges{{"a", "a"}, {"aa", "aa"}}));
    // "abab" x3 ("\n" is a piece of its own): (a b) 6, (b a) 3 -> "ab ab" -> (ab ab) 3; then
    // every word is one token.
    v = train("abab\nabab\nabab", 1000, 2);
    BOOST_TEST((v.merges == Merges{{"a", "b"}, {"ab", "ab"}}));
}

BOOST_AUTO_TEST_CASE(incremental_equals_recount_on_random_text) {
    std::mt19937 rng(11);
    const std::vector<std::string> alphabet = {"a", "b", "c", " ", " ", "\n", "'", "\xC3\xA9", "1"};
    for (int trial = 0; trial < 30; ++trial) {
        std::string text;
        std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1 - trial % 4);
        for (int i = 0; i < 300 + trial * 40; ++i) text += alphabet[pick(rng)];
        const int64_t vocab_size = 256 + 5 + trial * 7, min_frequency = 1 + trial % 3;
        const Merges expected = reference_merges(text, vocab_size, min_frequency);
        const Merges got = train(text, vocab_size, min_frequency).merges;
        BOOST_TEST_REQUIRE(got.size() == expected.size(), "trial " << trial);
        for (std::size_t i = 0; i < got.size(); ++i)
            BOOST_TEST((got[i] == expected[i]), "trial " << trial << " merge " << i);
    }
}

BOOST_AUTO_TEST_CASE(deterministic_bit_for_bit) {
    std::string text;
    std::mt19937 rng(3);
    for (int i = 0; i < 3000; ++i)
        text += std::string(1 + rng() % 5, static_cast<char>('a' + rng() % 6)) +
                (rng() % 3 ? " " : "\n");
    TempDir d1, d2;
    train(text, 400, 2, {"<|endoftext|>"}).save(d1.path);
    train(text, 400, 2, {"<|endoftext|>"}).save(d2.path);
    for (const char* name : {"vocab.json", "merges.txt"}) {
        std::ifstream a(d1.path / name, std::ios::binary), b(d2.path / name, std::ios::binary);
        std::stringstream sa, sb;
        sa << a.rdbuf();
        sb << b.rdbuf();
        BOOST_TEST(sa.str().size() > 100u);
        BOOST_TEST((sa.str() == sb.str()), name);
    }
}

BOOST_AUTO_TEST_CASE(round_trip_through_tokenizer) {
    const std::string text =
        "It was the best of times, it was the worst of times, it was the age of wisdom,\n"
        "it was the age of foolishness, it was the epoch of belief, it was the epoch of "
        "incredulity. Caf\xC3\xA9 cr\xC3\xA8me br\xC3\xBBl\xC3\xA9"
        "e \xF0\x9F\x98\x80\xF0\x9F\x98\x80 "
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E 12345 don't   stop\t\ttabs\n\n";
    TempDir dir;
    const gpt::BpeVocabulary v = train(text + text, 330, 2, {"<|endoftext|>", "<pad>"});
    v.save(dir.path);
    const gpt::Tokenizer tok = gpt::Tokenizer::from_directory(dir.path);
    BOOST_TEST(tok.vocab_size() == static_cast<int64_t>(v.tokens.size()));
    BOOST_TEST(tok.merge_count() == v.merges.size());
    BOOST_TEST(tok.eot_id() == 0);
    BOOST_TEST(tok.token_text(1) == "<pad>");
    BOOST_TEST(tok.token_text(2) == "!");  // the byte tokens follow the specials
    for (const std::string& s :
         {text, std::string("unseen words: xylophone \xE2\x82\xAC!"), std::string("")}) {
        const auto ids = tok.encode(s);
        BOOST_TEST(tok.decode(ids) == s);
    }
    // Frequent words became single tokens, so the training text takes far fewer ids than bytes.
    BOOST_TEST(tok.encode(text).size() * 2 < text.size());
    BOOST_TEST((tok.encode(" was") == std::vector<int64_t>{tok.encode(" was")[0]}));
    const auto special = tok.encode("a<|endoftext|>", true);
    BOOST_TEST(special.back() == 0);
}

BOOST_AUTO_TEST_CASE(files_format) {
    const gpt::BpeVocabulary v = train("aaab aab ab", 1000, 2, {"<s>"});
    BOOST_TEST(v.merges_txt() == "#version: 0.2\na a\na b\n");
    const nlohmann::json j = nlohmann::json::parse(v.vocab_json());
    BOOST_TEST(j.size() == 259u);
    BOOST_TEST(j["<s>"] == 0);
    BOOST_TEST(j["!"] == 1);
    BOOST_TEST(j[G] == 221);
    BOOST_TEST(j["ab"] == 258);
    BOOST_TEST(v.vocab_json().rfind("{\"<s>\":0,\"!\":1,", 0) == 0u);  // in id order
}

BOOST_AUTO_TEST_CASE(bad_input) {
    BOOST_TEST(contains(error_of([] { gpt::BpeTrainer({256, 1, {}}); }), "--vocab-size 256"));
    BOOST_TEST(contains(error_of([] {
                            gpt::BpeTrainer({258, 1, {"<a>", "<b>"}});
                        }),
                        "256 byte tokens + 2 special token(s) = 258"));
    BOOST_TEST(contains(error_of([] { gpt::BpeTrainer({300, 0, {}}); }), "--min-frequency"));
    BOOST_TEST(contains(error_of([] { gpt::BpeTrainer({300, 1, {"<x>", "<x>"}}); }), "twice"));
    BOOST_TEST(contains(error_of([] { gpt::BpeTrainer({300, 1, {""}}); }), "empty"));
    BOOST_TEST(contains(error_of([] { gpt::BpeTrainer({300, 1, {"!"}}); }), "byte token"));
    // Nothing to learn from.
    BOOST_TEST(contains(error_of([] { gpt::BpeTrainer({300, 1, {}}).train(); }), "empty"));
    BOOST_TEST(contains(error_of([] {
                            gpt::BpeTrainer t({300, 1, {}});
                            t.add_text("");
                            t.train();
                        }),
                        "empty"));
    BOOST_TEST(contains(error_of([] { train("a\nb\nc", 300, 1); }), "nothing to merge"));
    BOOST_TEST(contains(error_of([] { train("ab cd", 300, 2); }), "--min-frequency 2"));
    // Not UTF-8: the file and the byte offset.
    TempDir dir;
    write_text(dir.path / "latin1.txt", "caf\xC3\xA9 ok\ncaf\xE9\n");
    const std::string e = error_of([&] {
        gpt::BpeTrainer t({300, 1, {}});
        t.add_file(dir.path / "latin1.txt");
    });
    BOOST_TEST(contains(e, "latin1.txt: not valid UTF-8 at byte 12 (0xE9)"), e);
    BOOST_TEST(contains(error_of([&] {
                            gpt::BpeTrainer t({300, 1, {}});
                            t.add_file(dir.path / "missing.txt");
                        }),
                        "missing.txt: no such file"));
}

BOOST_AUTO_TEST_CASE(cli_trains_and_reports) {
    if (!fs::exists(gradstack_bin())) {
        BOOST_TEST_MESSAGE("no gradstack binary at " << gradstack_bin() << "; skipped");
        return;
    }
    TempDir dir;
    fs::create_directories(dir.path / "corpus");
    write_text(dir.path / "corpus" / "b.txt", "the cat sat on the mat\nthe cat ate\n");
    write_text(dir.path / "corpus" / "a.txt", "then the theme of the thesis\n");
    const std::string run = gradstack_bin().string() + " train-tokenizer --data " +
                            (dir.path / "corpus").string() + " --vocab-size 270 --special " +
                            "'<|endoftext|>' --out " + (dir.path / "tok").string() + " > " +
                            (dir.path / "log").string() + " 2>&1";
    int status = std::system(run.c_str());
    std::ifstream in(dir.path / "log");
    std::stringstream log;
    log << in.rdbuf();
    BOOST_TEST(WEXITSTATUS(status) == 0, log.str());
    BOOST_TEST(contains(log.str(), "read 2 file(s)"), log.str());
    // Only 7 pairs occur twice or more (the default --min-frequency 2), so it stops early.
    BOOST_TEST(contains(log.str(),
                        "vocabulary: 264 tokens (1 special + 256 bytes + 7 merged) "
                        "(fewer than asked"),
               log.str());
    const gpt::Tokenizer tok = gpt::Tokenizer::from_directory(dir.path / "tok");
    BOOST_TEST(tok.decode(tok.encode("the cat")) == "the cat");
    BOOST_TEST(tok.encode(" the").size() == 1u);
    // Bad input: exit code 1 and an error line.
    write_text(dir.path / "bad.txt", "ok\xFF");
    status =
        std::system((gradstack_bin().string() + " train-tokenizer --data " +
                     (dir.path / "bad.txt").string() + " --vocab-size 300 --out " +
                     (dir.path / "tok2").string() + " > " + (dir.path / "log2").string() + " 2>&1")
                        .c_str());
    std::ifstream in2(dir.path / "log2");
    std::stringstream log2;
    log2 << in2.rdbuf();
    BOOST_TEST(WEXITSTATUS(status) == 1);
    BOOST_TEST(contains(log2.str(), "bad.txt: not valid UTF-8 at byte 2"), log2.str());
    BOOST_TEST(!fs::exists(dir.path / "tok2" / "vocab.json"));
}

BOOST_AUTO_TEST_SUITE_END()
