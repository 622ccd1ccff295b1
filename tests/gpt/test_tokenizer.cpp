// The GPT-2 tokenizer against OpenAI's ids (tests/data/tokenizer, copied from the shared
// references), round trips on random Unicode, special tokens and bad input. Needs the GPT-2
// vocabulary (tokenizer_helpers.h says where it looks); the parts are in test_tokenizer_parts.cpp.
#include <boost/test/unit_test.hpp>
#include <fstream>
#include <random>

#include "gpt/tokenizer/utf8.h"
#include "tensor/error.h"
#include "tests/gpt/tokenizer_helpers.h"

using namespace gradstack;
using namespace gradstack::test;
using nlohmann::json;

namespace {

std::vector<json> read_jsonl(const fs::path& path) {
    std::ifstream in(path);
    BOOST_REQUIRE_MESSAGE(in.good(), "cannot open " << path);
    std::vector<json> rows;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) rows.push_back(json::parse(line));
    }
    return rows;
}

fs::path cases_dir() {
    return source_dir() / "tests" / "data" / "tokenizer";
}

void append_utf8(std::string& s, char32_t c) {
    if (c < 0x80) {
        s += static_cast<char>(c);
    } else if (c < 0x800) {
        s += static_cast<char>(0xC0 | (c >> 6));
        s += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        s += static_cast<char>(0xE0 | (c >> 12));
        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (c >> 18));
        s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (c & 0x3F));
    }
}

// Random text: characters from all 17 planes (surrogates excluded), combining marks, runs of every
// kind of whitespace (and of the look-alikes that are not whitespace to Python: U+FEFF, U+200B,
// U+001C-001F), ASCII words, contractions and <|endoftext|>.
std::string random_text(std::mt19937& rng) {
    static const std::vector<char32_t> spaces = {0x09,   0x0A,   0x0B,   0x0C,   0x0D,   0x20,
                                                 0x85,   0xA0,   0x1680, 0x2000, 0x2007, 0x200A,
                                                 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF,
                                                 0x200B, 0x1C,   0x1D,   0x1E,   0x1F,   0x180E};
    static const std::vector<std::string> words = {"the",
                                                   " The",
                                                   "'s",
                                                   "'ll",
                                                   "'D",
                                                   "don't",
                                                   " 2024",
                                                   "...",
                                                   "<|endoftext|>",
                                                   "<|endoftext",
                                                   "\r\n",
                                                   "é",
                                                   "日本語",
                                                   "👨‍👩‍👧",
                                                   "🇺🇸",
                                                   "١٢٣"};
    auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    };
    std::string s;
    const std::size_t parts = pick(30);
    for (std::size_t k = 0; k < parts; ++k) {
        switch (pick(6)) {
            case 0:
                s += words[pick(words.size())];
                break;
            case 1:
                for (std::size_t i = 0, n = 1 + pick(5); i < n; ++i)
                    append_utf8(s, spaces[pick(spaces.size())]);
                break;
            case 2:
                append_utf8(s, 0x300 + static_cast<char32_t>(pick(0x70)));
                break;  // combining
            case 3:
                s += static_cast<char>(0x20 + pick(0x5F));
                break;  // ASCII
            default: {
                for (std::size_t i = 0, n = 1 + pick(pick(2) ? 3 : 100); i < n; ++i) {
                    char32_t c;
                    do {
                        c = static_cast<char32_t>(pick(17) * 0x10000 + pick(0x10000));
                    } while (c >= 0xD800 && c < 0xE000);
                    append_utf8(s, c);
                }
            }
        }
    }
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tokenizer)

BOOST_AUTO_TEST_CASE(encodes_every_reference_case_exactly,
                     *boost::unit_test::precondition(HasGpt2Vocab{})) {
    const auto& t = gpt2();
    const auto cases = read_jsonl(cases_dir() / "encode_cases.jsonl");
    BOOST_REQUIRE_EQUAL(cases.size(), 383u);
    std::size_t passed = 0, special = 0;
    for (const json& c : cases) {
        const std::string text = c["text"];
        const auto ids = t.encode(text);
        bool ok = ids == ids_of(c["ids"]);
        BOOST_TEST(ok, "case " << c["id"] << " (" << c["category"] << ")");
        if (c.contains("ids_eot_special")) {
            ++special;
            const bool ok_special = t.encode(text, true) == ids_of(c["ids_eot_special"]);
            BOOST_TEST(ok_special, "case " << c["id"] << " with special tokens allowed");
            ok = ok && ok_special;
        } else {
            // Without "<|endoftext|>" in the text, allowing special tokens changes nothing.
            BOOST_TEST((t.encode(text, true) == ids));
        }
        BOOST_TEST((t.decode(ids) == text), "case " << c["id"] << " decodes to other bytes");
        passed += ok;
    }
    BOOST_TEST_MESSAGE("encode cases passed: " << passed << " of " << cases.size() << " ("
                                               << special << " with <|endoftext|>)");
    BOOST_TEST(special > 0u);
}

BOOST_AUTO_TEST_CASE(decodes_every_reference_case_exactly,
                     *boost::unit_test::precondition(HasGpt2Vocab{})) {
    const auto cases = read_jsonl(cases_dir() / "decode_cases.jsonl");
    BOOST_REQUIRE_EQUAL(cases.size(), 271u);
    std::size_t passed = 0;
    for (const json& c : cases) {
        const bool ok = gpt2().decode_text(ids_of(c["ids"])) == c["text"].get<std::string>();
        BOOST_TEST(ok, "decode case " << c["ids"].dump());
        passed += ok;
    }
    BOOST_TEST_MESSAGE("decode cases passed: " << passed << " of " << cases.size());
}

BOOST_AUTO_TEST_CASE(round_trips_random_unicode, *boost::unit_test::precondition(HasGpt2Vocab{})) {
    std::mt19937 rng(1234);
    for (int i = 0; i < 3000; ++i) {
        const std::string s = random_text(rng);
        BOOST_REQUIRE_EQUAL(gpt::utf8_invalid_offset(s), s.size());
        const auto ids = gpt2().encode(s);
        BOOST_TEST((gpt2().decode(ids) == s), "round trip of " << json(s).dump());
        BOOST_TEST((gpt2().decode_text(ids) == s));
        BOOST_TEST((gpt2().decode(gpt2().encode(s, true)) == s));
    }
}

BOOST_AUTO_TEST_CASE(gpt2_basics, *boost::unit_test::precondition(HasGpt2Vocab{})) {
    const auto& t = gpt2();
    BOOST_TEST(t.vocab_size() == 50257);
    BOOST_TEST(t.merge_count() == 50000u);
    BOOST_TEST(t.eot_id() == 50256);
    BOOST_TEST(t.token_text(262) == "\xC4\xA0the");  // "Ġthe"
    BOOST_TEST(t.token_bytes(262) == " the");
    BOOST_TEST((t.encode("") == std::vector<int64_t>{}));
    BOOST_TEST((t.encode("<|endoftext|>", true) == std::vector<int64_t>{50256}));
    BOOST_TEST(
        (t.encode("<|endoftext|><|endoftext|>", true) == std::vector<int64_t>{50256, 50256}));
    BOOST_TEST(t.decode({50256}) == "<|endoftext|>");
    // A NUL byte is a character like any other.
    BOOST_TEST(t.decode(t.encode(std::string("a\0b", 3))) == std::string("a\0b", 3));
    // The cache gives the same ids as a cold encode.
    const std::string text = "The cat sat on the mat. The cat sat on the mat.";
    const auto warm = t.encode(text);
    t.clear_cache();
    BOOST_TEST((t.encode(text) == warm));
    BOOST_TEST(gpt::tokenizer_encode_mb_per_s(t, text, 3) > 0.0);
}

BOOST_AUTO_TEST_CASE(rejects_bad_input, *boost::unit_test::precondition(HasGpt2Vocab{})) {
    const auto& t = gpt2();
    BOOST_CHECK_THROW(t.encode("ab\xFF"), Error);
    BOOST_CHECK_THROW(t.encode("\xED\xA0\x80"), Error);  // a surrogate
    BOOST_CHECK_THROW(t.encode("\xC0\xAF"), Error);      // overlong
    BOOST_CHECK_THROW(t.encode("\xE2\x82"), Error);      // cut short
    try {
        t.encode("abc\xC3(");
        BOOST_FAIL("expected an Error");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("offset 3") != std::string::npos, e.what());
    }
    BOOST_CHECK_THROW(t.decode({50257}), Error);
    BOOST_CHECK_THROW(t.decode({-1}), Error);
    try {
        t.decode_text({15496, 99999});
        BOOST_FAIL("expected an Error");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("99999") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_SUITE_END()
