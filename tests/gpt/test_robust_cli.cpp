// The CLIs against a hostile user (issue 18): flags out of range, huge, non-numeric or contradicting
// each other fail before any work with a message naming the flag and its range; FIFOs, /dev/zero
// and directories as inputs fail at once; a JSON line nested 100,000 deep is an error, not a
// SIGSEGV; a beam count the machine cannot hold is refused before allocating; NaN weights stop
// generate, score and inspect with an error instead of printing NaN or "Hello!!!!!".
// Flag helpers: apps/cli_common.h; the memory estimate: gpt/generation/memory.h.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <functional>

#include "gpt/checkpoint.h"
#include "gpt/generation/generate.h"
#include "gpt/generation/memory.h"
#include "gpt/score.h"
#include "tensor/npy.h"
#include "tests/gpt/cli_helpers.h"

using namespace gradstack::test;
namespace gpt = gradstack::gpt;

namespace {

fs::path tiny_dir() { return source_dir() / "tests" / "data" / "tiny_gpt2"; }
std::string generate_tiny() { return "generate --model " + tiny_dir().string() + " "; }

// `gradstack ARGS < stdin_path` under `timeout 60`, which turns a hang into exit code 124 so that
// a regression cannot block the suite.
CliRun run_bounded(const std::string& args, const std::string& stdin_path) {
    TempDir dir;
    const std::string command = "timeout 60 " + gradstack_bin().string() + " " + args + " < " +
                                stdin_path + " > " + (dir.path / "out").string() + " 2> " +
                                (dir.path / "err").string();
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file_text(dir.path / "out"),
            read_file_text(dir.path / "err")};
}

// Every failure of this file: exit code 1 (a signal gives -1), "error: " and `word` on stderr,
// nothing on stdout. Standard input: `input`, or the file `stdin_path`.
void expect_error(const std::string& args, const std::string& word, const std::string& input = "",
                  const std::string& stdin_path = "") {
    TempDir dir;
    std::string in = stdin_path.empty() ? "/dev/null" : stdin_path;
    if (!input.empty()) write_text(in = (dir.path / "in").string(), input);
    const CliRun r = run_bounded(args, in);
    BOOST_TEST(r.exit_code == 1, args << " -> exit " << r.exit_code << ": " << r.err);
    BOOST_TEST(contains(r.err, "error: "), args << " -> " << r.err);
    BOOST_TEST(contains(r.err, word), args << " -> " << r.err);
    BOOST_TEST(r.out.empty(), args << " -> " << r.out.substr(0, 200));
}

// The tiny model with `poison` applied to its named parameters, saved into `dir`.
void save_poisoned_model(const fs::path& dir,
                         const std::function<void(const std::string&, float*)>& poison) {
    auto model = gpt::load_pretrained(tiny_dir().string());
    for (auto& [name, p] : model->named_parameters()) poison(name, p.data<float>());
    gpt::save_pretrained(*model, dir.string());
}

// A NaN in a weight: refused at load.
void save_nan_model(const fs::path& dir) {
    save_poisoned_model(dir, [](const std::string& name, float* w) {
        if (name == "transformer.ln_f.weight") w[0] = std::nanf("");
    });
}
// Finite weights whose arithmetic is not: ln_f outputs all ones (weight 0, bias 1), and token 5's
// row of wte is 3e38 in each of its 16 dimensions, so its logit, the sum of the 16, is +inf in
// float32 at every position (token 5 is never an input here).
void save_overflowing_model(const fs::path& dir) {
    save_poisoned_model(dir, [](const std::string& name, float* w) {
        if (name == "transformer.ln_f.weight") std::fill_n(w, 16, 0.0f);
        if (name == "transformer.ln_f.bias") std::fill_n(w, 16, 1.0f);
        if (name == "transformer.wte.weight") std::fill_n(w + 5 * 16, 16, 3e38f);
    });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(robust_cli)

BOOST_AUTO_TEST_CASE(flags_out_of_range_fail_before_loading,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    // --model names a folder that does not exist: a flag error proves the flags were checked
    // before anything was loaded.
    const std::string gen = "generate --model /nonexistent --prompt-ids 1 ";
    const std::pair<std::string, std::string> cases[] = {
        // CLI11 alone clamps 2^63 to 2^63 - 1, wraps -1 in an unsigned seed, takes nan and 1e30.
        {gen + "--max-new-tokens 9223372036854775808", "--max-new-tokens: must be an integer in [0, "},
        {gen + "--max-new-tokens 9223372036854775807", "--max-new-tokens: must be an integer"},
        {gen + "--max-new-tokens -1", "--max-new-tokens: must be an integer in [0, "},
        {gen + "--max-new-tokens 1e30", "--max-new-tokens"},
        {gen + "--max-new-tokens abc", "--max-new-tokens"},
        {gen + "--max-new-tokens 010x", "--max-new-tokens"},
        {gen + "--max-new-tokens 2 --sample --seed -1", "--seed: must be an integer in [0, 18446744073709551615]"},
        {gen + "--max-new-tokens 2 --sample --temperature nan", "--temperature: must be a finite number in (0, inf)"},
        {gen + "--max-new-tokens 2 --sample --temperature inf", "--temperature"},
        {gen + "--max-new-tokens 2 --sample --top-p 1e30", "--top-p: must be a finite number in (0, 1]"},
        {gen + "--max-new-tokens 2 --num-beams 0", "--num-beams: must be an integer in [1, "},
        {gen + "--max-new-tokens 2 --repetition-penalty -1", "--repetition-penalty"},
        {gen + "--max-new-tokens 2 --json=maybe", "--json"},
        {"generate --model /nonexistent --prompt-ids 1,99999999999999999999 --max-new-tokens 2",
         "--prompt-ids"},
        {"score --model /nonexistent --text hi --stride 0", "--stride: must be an integer in [1, "},
        {"inspect --model /nonexistent --ids x.npy --out o --past-length 1e3", "--past-length"},
        {"tokenize --max-line-bytes 0", "--max-line-bytes: must be an integer in [1, "},
        {"spirals --hidden 1000000000", "--hidden: must be an integer in [1, 4096]"},
        {"spirals --lr nan", "--lr"},
        {"spirals --seed -1", "--seed"},
        {"pplm --model /nonexistent --prompt hi --bow space --gm-scale 2", "--gm-scale: must be a finite number in [0, 1]"},
        {"pplm --model /nonexistent --prompt hi --bow space --length 9223372036854775808", "--length"},
        {"pplm-eval --model /nonexistent --bow space --samples 0", "--samples"},
        {"graph --model /nonexistent --ids 1,-2 --out g.svg", "--ids"},
        {"train-tokenizer --data x --out y --vocab-size 9223372036854775808", "--vocab-size"},
        {"playground --model /nonexistent --port 70000", "--port"},
        {"bench generate --beams 0", "--beams: must be an integer in [2, 1024]"},
        {"bench generate --n-embd 1e9", "--n-embd"},
        {"bench tensor --reps -1", "--reps"},
    };
    for (const auto& [args, word] : cases) expect_error(args, word);
}

BOOST_AUTO_TEST_CASE(contradicting_flags_are_errors,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    const std::string gen = "generate --model /nonexistent --prompt-ids 1 ";
    const std::pair<std::string, std::string> cases[] = {
        {gen + "--min-new-tokens 10 --max-new-tokens 5",
         "--min-new-tokens 10 is more than --max-new-tokens 5"},
        {gen + "--max-new-tokens 5 --num-return-sequences 3", "--num-return-sequences 3 needs --sample"},
        {gen + "--max-new-tokens 5 --num-beams 2 --num-return-sequences 3",
         "--num-return-sequences 3 is more than --num-beams 2"},
        {gen + "--max-new-tokens 5 --seed 3", "--seed"},  // a seed without sampling
        {gen + "--max-new-tokens 5 --sample --num-beams 2", "--sample"},
    };
    for (const auto& [args, word] : cases) expect_error(args, word);
    // With a real model, a length that does not fit is named, without overflowing the sum.
    expect_error(generate_tiny() + "--prompt-ids 1,2 --max-new-tokens 1000000000",
                 "n_positions = 128");
}

BOOST_AUTO_TEST_CASE(fifos_devices_and_folders_fail_at_once,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir dir;
    const fs::path fifo = dir.path / "fifo";
    BOOST_REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    write_tiny_tokenizer(dir.path, false);
    const std::string score = "score --model " + tiny_dir().string() + " --tokenizer " +
                              dir.path.string() + " --file ";
    const std::string inspect = "inspect --model " + tiny_dir().string() + " --out " +
                                (dir.path / "o").string() + " --ids ";
    for (const std::string& base : {score, inspect}) {
        expect_error(base + "/dev/zero", "/dev/zero");
        expect_error(base + fifo.string(), "FIFO");
        expect_error(base + dir.path.string(), "directory");
        expect_error(base + (dir.path / "absent").string(), "absent");
    }
    BOOST_TEST(!fs::exists(dir.path / "o"));  // inspect wrote nothing
    // "-" is the explicit way to score standard input.
    const CliRun piped = run_cli(score + "-", "", "hello");
    BOOST_TEST(piped.exit_code == 0, piped.err);
    BOOST_TEST(contains(piped.out, "tokens scored: 4"), piped.out);
    // An output that is a FIFO (or a device) is refused rather than renamed over.
    expect_error("graph --model " + tiny_dir().string() + " --ids 1,2 --dot --out " + fifo.string(),
                 "not a regular file");
    BOOST_TEST(fs::is_fifo(fifo));
    // tokenize reads stdin line by line, each line bounded.
    const std::string tok = "tokenize --tokenizer " + dir.path.string();
    expect_error(tok + " --max-line-bytes 1000", "line 1 is longer than --max-line-bytes 1000", "",
                 "/dev/zero");
    expect_error(tok, "standard input is a directory", "", dir.path.string());
}

BOOST_AUTO_TEST_CASE(deep_json_is_an_error_not_a_crash,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir dir;
    write_tiny_tokenizer(dir.path, false);
    const std::string tok = "tokenize --tokenizer " + dir.path.string();
    // 100,000 levels in a 200 KB line: SIGSEGV before (the message printed the value whole).
    const std::string deep = std::string(100000, '[') + std::string(100000, ']') + "\n";
    expect_error(tok + " --decode", "line 1", deep);
    expect_error(tok + " --decode", "nested deeper than", "[3, " + deep);
    // A long bad value is quoted with a bound, not whole.
    const CliRun r = run_cli(tok + " --decode", "timeout 60", "[\"" + std::string(100000, 'x') + "\"]\n");
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.size() < 1000u, r.err.size());
}

BOOST_AUTO_TEST_CASE(beams_the_machine_cannot_hold_are_refused,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    // The estimate: 60000 beams on a 1-token prompt return (60000, 1, 50257) float32 logits in
    // the first forward, 12 GB (what the issue measured), whatever the model's depth.
    gpt::GPT2Config c = gpt::load_config((tiny_dir() / "config.json").string());
    gpt::GenerationConfig g;
    g.num_beams = 60000;
    g.max_new_tokens = 5;
    const gpt::MemoryEstimate e = gpt::estimate_generation_memory(c, g, 1, 1);
    BOOST_TEST(e.prompt_forward >= 60000.0 * 50257 * 4);
    BOOST_TEST(e.kv_cache == 2.0 * 2 * c.n_layer * 60000 * 6 * c.n_embd * 4);
    g.num_beams = 4;  // a sensible request is far below any machine
    BOOST_TEST(gpt::estimate_generation_memory(c, g, 1, 1).total() < 1e8);
    // Ten million beams (2 TB of logits) are refused before anything is allocated, by the
    // library and by the CLI, which names the estimate and what is available.
    auto model = gpt::load_pretrained(tiny_dir().string());
    g.num_beams = 10'000'000;
    g.max_new_tokens = 3;
    BOOST_TEST(contains(gradstack::testing::error_of([&] { gpt::generate(*model, {{1}}, g); }),
                        "MemAvailable"));
    expect_error(generate_tiny() + "--prompt-ids 1 --max-new-tokens 3 --num-beams 10000000",
                 "num_beams 10000000 x 1 prompt(s)");
    expect_error(generate_tiny() + "--prompt-ids 1 --max-new-tokens 3 --sample "
                                   "--num-return-sequences 10000000",
                 "MemAvailable");
    // inspect: a batch whose forward and backward need 1.3 TB (16384 x 128 tokens, their logits
    // alone 0.4 TB) is refused before the weights load, and nothing is written.
    TempDir dir;
    const fs::path ids = dir.path / "big.npy";
    gradstack::save_npy(ids.string(), gradstack::zeros({16384, 128}, gradstack::DType::i64));
    expect_error("inspect --model " + tiny_dir().string() + " --ids " + ids.string() + " --out " +
                     (dir.path / "o").string(),
                 "B = 16384, T = 128");
    BOOST_TEST(!fs::exists(dir.path / "o"));
    // The benchmarks' random models and decoding batches are estimated the same way.
    expect_error("bench generate --n-embd 65536 --n-head 1", "MemAvailable");
    expect_error("bench gpt --batches 4096 --decode-prompt 1000 --new-tokens 24 --no-memory",
                 "--batches 4096");
}

BOOST_AUTO_TEST_CASE(nan_weights_are_refused_at_load,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir dir;
    const fs::path nan_model = dir.path / "nan";
    save_nan_model(nan_model);
    write_tiny_tokenizer(dir.path, false);
    const std::string tok = " --tokenizer " + dir.path.string();
    const fs::path ids = dir.path / "ids.npy";
    gradstack::save_npy(ids.string(), gradstack::from_vector<int64_t>({1, 2, 3}, {1, 3}));
    const std::string m = " --model " + nan_model.string() + " ";
    // The tensor is named, with the way to look at it anyway.
    expect_error("generate" + m + "--prompt-ids 1 --max-new-tokens 3", "transformer.ln_f.weight");
    expect_error("score" + m + "--text hello" + tok, "--allow-nonfinite");
    expect_error("inspect" + m + "--ids " + ids.string() + " --out " + (dir.path / "a").string(),
                 "transformer.ln_f.weight");
    BOOST_TEST(!fs::exists(dir.path / "a" / "logits.npy"));
    // Loaded anyway, the NaN logits still stop generation and scoring.
    const std::string allow = "--allow-nonfinite ";
    expect_error("generate" + m + allow + "--prompt-ids 1 --max-new-tokens 3", "not finite");
    expect_error("score" + m + allow + "--text hello" + tok, "are not finite");
    // inspect --allow-nonfinite writes the NaN files, which is what it is for.
    const CliRun r = run_cli("inspect" + m + allow + "--ids " + ids.string() + " --out " +
                             (dir.path / "b").string());
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(fs::exists(dir.path / "b" / "logits.npy"));
}

BOOST_AUTO_TEST_CASE(nonfinite_logits_stop_generate_score_and_inspect,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    // Finite weights, NaN arithmetic: before, exit 0 with "Hello!!!!!", "perplexity: -nan",
    // "(score nan)" or a folder of NaN .npy files.
    TempDir dir;
    const fs::path bad = dir.path / "overflow";
    save_overflowing_model(bad);
    write_tiny_tokenizer(dir.path, false);
    const std::string m = " --model " + bad.string() + " ";
    expect_error("generate" + m + "--prompt-ids 1 --max-new-tokens 3",
                 "[generate] the model's logits for new token 1 are not finite");
    expect_error("generate" + m + "--prompt-ids 1 --max-new-tokens 3 --num-beams 2", "not finite");
    expect_error("generate" + m + "--prompt-ids 1 --max-new-tokens 3 --sample --json", "not finite");
    expect_error("score" + m + "--text hello --tokenizer " + dir.path.string(),
                 "[score] the model's log-probabilities for token 1 are not finite");
    const fs::path ids = dir.path / "ids.npy";
    gradstack::save_npy(ids.string(), gradstack::from_vector<int64_t>({1, 2, 3}, {1, 3}));
    expect_error("inspect" + m + "--ids " + ids.string() + " --out " + (dir.path / "o").string(),
                 "logits.npy would hold inf");
    BOOST_TEST(!fs::exists(dir.path / "o" / "logits.npy"));
    // The same through the library.
    auto model = gpt::load_pretrained(bad.string());
    gpt::GenerationConfig g;
    g.max_new_tokens = 2;
    BOOST_TEST(contains(gradstack::testing::error_of([&] { gpt::generate(*model, {{1, 2}}, g); }), "not finite"));
    BOOST_TEST(contains(gradstack::testing::error_of([&] { gpt::token_logprobs(*model, {1, 2, 3}, 1); }),
                        "not finite"));
    // A healthy model passes every check.
    const CliRun ok = run_cli("inspect --model " + tiny_dir().string() + " --ids " + ids.string() +
                              " --out " + (dir.path / "c").string());
    BOOST_TEST(ok.exit_code == 0, ok.err);
}

BOOST_AUTO_TEST_SUITE_END()
