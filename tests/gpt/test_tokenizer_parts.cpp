// The tokenizer's parts on their own, without the GPT-2 vocabulary: UTF-8 replacement as Python
// does it, the pre-tokenizer's pieces (expected values from Python's `regex` with encoder.py's
// pattern), the two BPE merge loops against each other, and loading a tiny vocabulary (both file
// names, and each kind of broken file).
#include <boost/test/unit_test.hpp>
#include <random>

#include "gpt/tokenizer/bpe.h"
#include "gpt/tokenizer/pretokenizer.h"
#include "gpt/tokenizer/utf8.h"
#include "tensor/error.h"
#include "tests/gpt/tokenizer_helpers.h"
#include "tests/test_util.h"

using gradstack::testing::contains;
using gradstack::testing::error_of;

using namespace gradstack;
using namespace gradstack::test;
using Pieces = std::vector<std::string_view>;
using Ids = std::vector<int64_t>;

namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

}  // namespace

BOOST_AUTO_TEST_SUITE(tokenizer_parts)

BOOST_AUTO_TEST_CASE(utf8_replacement_matches_python) {
    // bytes.decode('utf-8', errors='replace') in Python 3.11, one U+FFFD per maximal subpart.
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"", ""},
        {"abc", "abc"},
        {"caf\xC3\xA9", "caf\xC3\xA9"},
        {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},  // U+1F600, four bytes
        {"\xF0\x9F\x98", kFFFD},                   // cut short: one
        {"\xF0\x9F\x98"
         "a",
         kFFFD + "a"},
        {"\xE0\x80", kFFFD + kFFFD},                          // E0 needs A0-BF next
        {"\xED\xA0\x80", kFFFD + kFFFD + kFFFD},              // a surrogate: three
        {"\xC0\xAF", kFFFD + kFFFD},                          // overlong '/'
        {"\xF4\x90\x80\x80", kFFFD + kFFFD + kFFFD + kFFFD},  // above U+10FFFF
        {"\xF5", kFFFD},
        {"\x80\x80", kFFFD + kFFFD},  // lone continuation bytes
        {"a\xC3", "a" + kFFFD},
        {"\xE2\x82\xAC\xE2\x82", "\xE2\x82\xAC" + kFFFD},
        {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},  // U+10FFFF itself is fine
        {"\xEF\xBB\xBF", "\xEF\xBB\xBF"},          // U+FEFF
    };
    for (const auto& [in, expected] : cases) {
        BOOST_TEST(gpt::utf8_replace_invalid(in) == expected);
        BOOST_TEST((gpt::utf8_invalid_offset(in) == in.size()) == (in == expected));
    }
    BOOST_TEST(gpt::utf8_invalid_offset("abcdefghij\xFFz") == 10u);  // past the 8-byte ASCII skip
    BOOST_TEST(gpt::utf8_invalid_offset("\xC3\xA9\xC3") == 2u);
}

BOOST_AUTO_TEST_CASE(pretokenizer_pieces_match_python_regex) {
    gpt::Pretokenizer p;
    // regex.findall(encoder.py's pattern, text) in Python.
    BOOST_TEST((p.split("Hello world") == Pieces{"Hello", " world"}));
    BOOST_TEST((p.split("a  b") == Pieces{"a", " ", " b"}));
    BOOST_TEST((p.split("I'm here") == Pieces{"I", "'m", " here"}));
    BOOST_TEST((p.split("don'T") == Pieces{"don", "'", "T"}));  // contractions are lower case
    BOOST_TEST((p.split("  hi\n\n") == Pieces{" ", " hi", "\n\n"}));
    BOOST_TEST((p.split("12345 67") == Pieces{"12345", " 67"}));
    BOOST_TEST((p.split("tab\t\tx") == Pieces{"tab", "\t", "\t", "x"}));
    BOOST_TEST((p.split("\xC2\xB2\xE2\x91\xA0\xD9\xA1") == Pieces{"\xC2\xB2\xE2\x91\xA0\xD9\xA1"}));
    // NBSP, NEL and U+3000 are whitespace to Python; U+FEFF, U+200B and U+001C are not.
    BOOST_TEST((p.split("x\xC2\xA0y") == Pieces{"x", "\xC2\xA0", "y"}));
    BOOST_TEST((p.split("a\xC2\x85 b") == Pieces{"a", "\xC2\x85", " b"}));
    BOOST_TEST((p.split("\xE3\x80\x80x") == Pieces{"\xE3\x80\x80", "x"}));
    BOOST_TEST((p.split("a\xEF\xBB\xBF"
                        "b") == Pieces{"a", "\xEF\xBB\xBF", "b"}));
    BOOST_TEST((p.split("a\xE2\x80\x8B"
                        "b") == Pieces{"a", "\xE2\x80\x8B", "b"}));
    BOOST_TEST((p.split("a\x1C b") == Pieces{"a", "\x1C", " b"}));
    // U+180E is whitespace to PCRE2's \s, not to Python's.
    BOOST_TEST((p.split("a\xE1\xA0\x8E" "b") == Pieces{"a", "\xE1\xA0\x8E", "b"}));
    // A combining mark is neither a letter nor a number: "e" + U+0301 + "t" + "é".
    BOOST_TEST((p.split("e\xCC\x81t\xC3\xA9") == Pieces{"e", "\xCC\x81", "t\xC3\xA9"}));
    BOOST_TEST(p.split("").empty());
    // Long runs match in one piece each (no PCRE2 stack limit on the backtracking lookahead).
    const std::string spaces(1 << 20, ' ');
    BOOST_TEST((p.split(spaces + "a") == Pieces{std::string_view(spaces).substr(1), " a"}));
}

BOOST_AUTO_TEST_CASE(bpe_merges_like_encoder_py) {
    // Symbols a=0, b=1; rules (a b)->ab=2 at rank 5, (ab a)->aba=3 at rank 3, (a a)->aa=4 at 0.
    gpt::BpeMerges m;
    m.add(0, 1, 5, 2);
    m.add(2, 0, 3, 3);
    m.add(0, 0, 0, 4);
    for (auto apply : {&gpt::BpeMerges::apply_quadratic, &gpt::BpeMerges::apply_heap}) {
        // All occurrences of the best pair merge before the pairs they create: "ab ab", not
        // "aba b", although (ab a) has the lower rank.
        std::vector<uint32_t> w = {0, 1, 0, 1};
        (m.*apply)(w);
        BOOST_TEST((w == std::vector<uint32_t>{2, 2}));
        w = {0, 0, 0};  // left to right, no overlap: "aa a"
        (m.*apply)(w);
        BOOST_TEST((w == std::vector<uint32_t>{4, 0}));
        w = {1};
        (m.*apply)(w);
        BOOST_TEST((w == std::vector<uint32_t>{1}));
    }
    // A later rule for the same pair replaces the earlier one, as in encoder.py's dict.
    m.add(0, 0, 9, 4);
    std::vector<uint32_t> w = {0, 0, 1};
    m.apply_quadratic(w);
    BOOST_TEST((w == std::vector<uint32_t>{0, 2}));
}

BOOST_AUTO_TEST_CASE(bpe_heap_equals_quadratic_on_random_rules) {
    std::mt19937 rng(7);
    for (int trial = 0; trial < 200; ++trial) {
        // Random rules over a small alphabet: ids 0-3 are symbols, each rule makes a new id.
        gpt::BpeMerges m;
        uint32_t next_id = 4;
        const int rules = 1 + trial % 40;
        std::vector<uint32_t> ranks(rules);
        for (int r = 0; r < rules; ++r) ranks[r] = r;
        std::shuffle(ranks.begin(), ranks.end(), rng);
        for (int r = 0; r < rules; ++r) {
            std::uniform_int_distribution<uint32_t> any(0, next_id - 1);
            m.add(any(rng), any(rng), ranks[r], next_id++);
        }
        std::vector<uint32_t> w(1 + rng() % 300);
        for (auto& s : w) s = rng() % 4;
        auto a = w, b = w;
        m.apply_quadratic(a);
        m.apply_heap(b);
        BOOST_TEST((a == b), "trial " << trial);
    }
}

BOOST_AUTO_TEST_CASE(loads_both_file_name_conventions) {
    for (const bool openai : {false, true}) {
        TempDir dir;
        write_tiny_tokenizer(dir.path, openai);
        const auto t = gpt::Tokenizer::from_directory(dir.path);
        BOOST_TEST(t.vocab_size() == 260);
        BOOST_TEST(t.merge_count() == 3u);
        BOOST_TEST(t.eot_id() == 259);
        // " hehe aaa": pieces " hehe" -> Ġ he he -> Ġhe he; " aaa" -> Ġ aa a.
        BOOST_TEST((t.encode(" hehe aaa") == Ids{258, 257, 32, 256, 97}));
        BOOST_TEST((t.encode("a<|endoftext|>", true) == Ids{97, 259}));
        BOOST_TEST(t.decode({258, 257, 32, 256, 97}) == " hehe aaa");
        BOOST_TEST(t.decode({0xC3, 0xA9}) == "\xC3\xA9");  // byte tokens are raw bytes
        BOOST_TEST(t.decode_text({0xC3}) == kFFFD);        // half a character
    }
}

BOOST_AUTO_TEST_CASE(broken_files_give_errors_naming_the_file) {
    auto load = [](const std::string& vocab, const std::string& merges) {
        return error_of([&] { gpt::Tokenizer::from_strings(vocab, merges, "V.json", "M.txt"); });
    };
    const std::string vocab = tiny_vocab().dump(), merges = tiny_merges();
    BOOST_TEST(load(vocab, merges).empty());

    std::string e = load("{\"a\": 1,", merges);
    BOOST_TEST((contains(e, "V.json") && contains(e, "not valid JSON")), e);
    e = load("[1, 2]", merges);
    BOOST_TEST((contains(e, "V.json") && contains(e, "object")), e);
    e = load(R"({"a": "x"})", merges);
    BOOST_TEST((contains(e, "V.json") && contains(e, "\"a\"")), e);
    auto v = tiny_vocab();
    v["he"] = 97;  // the id of "a"
    e = load(v.dump(), merges);
    BOOST_TEST((contains(e, "V.json") && contains(e, "id 97")), e);
    v = tiny_vocab();
    v.erase(byte_token(0x00));
    e = load(v.dump(), merges);
    BOOST_TEST((contains(e, "V.json") && contains(e, "byte 0x00")), e);

    e = load(vocab, "#version: 0.2\na a\nh e x\n");
    BOOST_TEST((contains(e, "M.txt line 3") && contains(e, "two tokens")), e);
    e = load(vocab, "#version: 0.2\nhe\n");
    BOOST_TEST(contains(e, "M.txt line 2"), e);
    e = load(vocab, "#version: 0.2\na b\n");  // "ab" is not in the vocabulary
    BOOST_TEST((contains(e, "M.txt line 2") && contains(e, "\"ab\"") && contains(e, "V.json")), e);
    e = load(vocab, "#version: 0.2\nzz a\n");
    BOOST_TEST((contains(e, "M.txt line 2") && contains(e, "\"zz\"")), e);
    e = load(vocab, "#version: 0.2\n");
    BOOST_TEST(contains(e, "no merges"), e);
    // Windows line endings are fine.
    BOOST_TEST(load(vocab, "#version: 0.2\r\na a\r\nh e\r\n" + byte_token(' ') + " he\r\n").empty());
}

BOOST_AUTO_TEST_CASE(missing_files_and_folders) {
    TempDir dir;
    std::string e = error_of([&] { gpt::Tokenizer::from_directory(dir.path / "nope"); });
    BOOST_TEST((contains(e, "nope") && contains(e, "no such folder")), e);
    e = error_of([&] { gpt::Tokenizer::from_directory(dir.path); });
    BOOST_TEST((contains(e, "vocab.json") && contains(e, "encoder.json")), e);
    write_text(dir.path / "encoder.json", tiny_vocab().dump());
    e = error_of([&] { gpt::Tokenizer::from_directory(dir.path); });
    BOOST_TEST((contains(e, "vocab.bpe") && contains(e, "missing")), e);
    e = error_of(
        [&] { gpt::Tokenizer::from_files(dir.path / "encoder.json", dir.path / "m.txt"); });
    BOOST_TEST((contains(e, "m.txt") && contains(e, "no such file")), e);
    // The default folder comes from GRADSTACK_TOKENIZER when it is set.
    ::setenv("GRADSTACK_TOKENIZER", (dir.path / "absent").c_str(), 1);
    BOOST_TEST(gpt::default_tokenizer_dir() == dir.path / "absent");
    e = error_of([] { gpt::load_default_tokenizer(); });
    BOOST_TEST((contains(e, "GRADSTACK_TOKENIZER") && contains(e, "absent")), e);
    ::unsetenv("GRADSTACK_TOKENIZER");
    BOOST_TEST(gpt::default_tokenizer_dir().filename() == "gpt2-tokenizer");
}

BOOST_AUTO_TEST_SUITE_END()
