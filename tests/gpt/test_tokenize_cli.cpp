// `gradstack tokenize` run as users run it: the built binary ($GRADSTACK_BIN) with lines piped
// through it, on the tiny vocabulary under both file-name conventions, on GPT-2 when present, and
// with bad lines (the error names the line; the exit code is not 0).
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <sstream>

#include "tests/gpt/cli_helpers.h"

using namespace gradstack::test;

namespace {

// Runs `gradstack tokenize ARGS` with `input` on its standard input.
CliRun tokenize(const std::string& args, const std::string& input) {
    return run_cli("tokenize " + args, "", input);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tokenize_cli)

BOOST_AUTO_TEST_CASE(encodes_and_decodes_lines, *boost::unit_test::precondition(HasGradstackBinary{})) {
    for (const bool openai : {false, true}) {
        TempDir dir;
        write_tiny_tokenizer(dir.path, openai);
        const std::string tok = "--tokenizer " + dir.path.string();
        CliRun r = tokenize(tok, "\" hehe aaa\"\n\"\"\n\"a<|endoftext|>\"\n");
        BOOST_TEST(r.exit_code == 0, r.err);
        // <|endoftext|> is text unless allowed: one token per byte here, no rule applies.
        BOOST_TEST(
            r.out ==
            "[258,257,32,256,97]\n[]\n[97,60,124,101,110,100,111,102,116,101,120,116,124,62]\n");
        r = tokenize(tok + " --allow-special", "\"a<|endoftext|>\"\n");
        BOOST_TEST(r.out == "[97,259]\n");
        // Decoding: half a character (0xC3 alone) becomes U+FFFD, and the output is JSON.
        r = tokenize(tok + " --decode", "[258, 257, 32, 256, 97]\n[195]\n[]\n[34, 10]\n");
        BOOST_TEST(r.exit_code == 0, r.err);
        BOOST_TEST(r.out == "\" hehe aaa\"\n\"\xEF\xBF\xBD\"\n\"\"\n\"\\\"\\n\"\n");
    }
}

BOOST_AUTO_TEST_CASE(gpt2_through_the_pipe, *boost::unit_test::precondition(HasGradstackBinary{}) *
                                                boost::unit_test::precondition(HasGpt2Vocab{})) {
    const std::string tok = "--tokenizer " + gpt2_vocab_dir().string();
    CliRun r = tokenize(tok, "\"Hello world\"\n\"caf\\u00e9 \\ud83d\\ude00\"\n");
    BOOST_TEST(r.exit_code == 0, r.err);
    const std::string expected_2 =
        nlohmann::json(gpt2().encode("caf\xC3\xA9 \xF0\x9F\x98\x80")).dump();
    BOOST_TEST(r.out == "[15496,995]\n" + expected_2 + "\n");
    r = tokenize(tok + " --decode", "[15496, 995]\n");
    BOOST_TEST(r.out == "\"Hello world\"\n");
}

BOOST_AUTO_TEST_CASE(bad_lines_name_the_line, *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir dir;
    write_tiny_tokenizer(dir.path, false);
    const std::string tok = "--tokenizer " + dir.path.string();
    CliRun r = tokenize(tok, "\"ok\"\nnot json\n\"never reached\"\n");
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(r.out == "[111,107]\n");  // the good line before the bad one was printed
    BOOST_TEST(r.err.find("line 2") != std::string::npos, r.err);
    r = tokenize(tok, "\"ok\"\n[1, 2]\n");
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST((r.err.find("line 2") != std::string::npos &&
                r.err.find("JSON string") != std::string::npos),
               r.err);
    r = tokenize(tok + " --decode", "[1]\n[2]\n[260]\n");
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(
        (r.err.find("line 3") != std::string::npos && r.err.find("260") != std::string::npos),
        r.err);
    r = tokenize(tok + " --decode", "[1.5]\n");
    BOOST_TEST((r.exit_code != 0 && r.err.find("line 1") != std::string::npos), r.err);
    r = tokenize(tok + " --decode", "\"text\"\n");
    BOOST_TEST((r.exit_code != 0 && r.err.find("array") != std::string::npos), r.err);
    r = tokenize("--tokenizer " + (dir.path / "absent").string(), "\"x\"\n");
    BOOST_TEST((r.exit_code != 0 && r.err.find("absent") != std::string::npos), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
