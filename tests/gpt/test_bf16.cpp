// `--dtype bf16` on GPT-2 (tensor/kernels/linalg.h MatmulPrecision): the model's logits under bf16
// against float32 and against the reference kernels' bf16 (the same rounding in float64 loops), a
// KV-cached decode under bf16 equal to the uncached forward, and the CLI flag on generate and
// score (accepted, used, refused when misspelt). The kernels themselves: tests/tensor/
// test_gemm_kernels.cpp (bf16_*).
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "tensor/dispatch.h"
#include "tensor/kernels/linalg.h"
#include "tests/gpt/cli_helpers.h"

using namespace gradstack;
using namespace gradstack::test;

namespace {

fs::path tiny_dir() { return source_dir() / "tests" / "data" / "tiny_gpt2"; }

double max_abs_diff(const Tensor& a, const Tensor& b) {
    const auto va = to_vector<float>(a), vb = to_vector<float>(b);
    double worst = 0;
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(double(va[i]) - vb[i]));
    return worst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bf16_precision)

// The tiny checkpoint's logits (std about 3) under bf16: within 2% of the largest logit of float32
// (bfloat16 keeps 8 bits: each weight and activation is off by up to 2^-9 relative, over two
// layers; seen: 0.08 of 15), not equal to them, and within float32 rounding (1e-4) of the reference kernels' bf16, which rounds the same
// operands and sums in float64.
BOOST_AUTO_TEST_CASE(logits_follow_float32_within_bfloat16_rounding) {
    auto model = gpt::load_pretrained(tiny_dir().string());
    NoGradGuard no_grad;
    model->eval();
    const Tensor ids = from_vector<int64_t>({464, 3797, 3332, 319, 262, 2603, 13, 50256}, {2, 4});
    const Tensor exact = model->forward(ids).logits;
    kernels::MatmulPrecisionGuard bf16(kernels::MatmulPrecision::bf16);
    const Tensor rounded = model->forward(ids).logits;
    Tensor reference;
    {
        KernelSetGuard ref(KernelSet::reference);
        reference = model->forward(ids).logits;
    }
    const double vs_f32 = max_abs_diff(rounded, exact), vs_ref = max_abs_diff(rounded, reference);
    BOOST_TEST_MESSAGE("bf16 vs float32 logits: " << vs_f32 << "; vs reference bf16: " << vs_ref);
    double largest = 0;
    for (float v : to_vector<float>(exact)) largest = std::max(largest, std::abs(double(v)));
    BOOST_TEST(vs_f32 < 0.02 * largest);  // about 2^-9 relative per rounding, a few roundings deep
    BOOST_TEST(vs_f32 > 0.0);
    BOOST_TEST(vs_ref < 1e-4);
}

// Decoding token by token with the cache under bf16 gives the logits of one uncached forward over
// the whole sequence (the packed weights are found again at every step, never stale).
BOOST_AUTO_TEST_CASE(cached_decoding_matches_the_full_forward) {
    auto model = gpt::load_pretrained(tiny_dir().string());
    NoGradGuard no_grad;
    model->eval();
    kernels::MatmulPrecisionGuard bf16(kernels::MatmulPrecision::bf16);
    const std::vector<int64_t> seq = {464, 3797, 3332, 319, 262, 2603};
    const Tensor full = model->forward(from_vector<int64_t>(seq, {1, 6})).logits;
    gpt::ForwardOutput out = model->forward(from_vector<int64_t>({seq[0], seq[1]}, {1, 2}));
    for (size_t t = 2; t < seq.size(); ++t) {
        gpt::ForwardOptions o;
        o.past = std::move(out.presents);
        out = model->forward(from_vector<int64_t>({seq[t]}, {1, 1}), o);
        const Tensor step = select(out.logits, 1, 0);
        const Tensor want = select(full, 1, static_cast<int64_t>(t));
        BOOST_TEST(max_abs_diff(step, want) < 1e-4, "position " << t);
    }
}

BOOST_AUTO_TEST_CASE(generate_and_score_take_the_flag,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    const std::string m = " --model " + tiny_dir().string() + " ";
    const CliRun f32 = run_cli("score" + m + "--text 'The cat sat on the mat.' --json");
    const CliRun b16 = run_cli("score" + m + "--text 'The cat sat on the mat.' --json --dtype bf16");
    BOOST_TEST_REQUIRE(f32.exit_code == 0, f32.err);
    BOOST_TEST_REQUIRE(b16.exit_code == 0, b16.err);
    const double p32 = nlohmann::json::parse(f32.out)["perplexity"].get<double>();
    const double p16 = nlohmann::json::parse(b16.out)["perplexity"].get<double>();
    BOOST_TEST(p16 != p32);                     // bf16 was used
    BOOST_TEST(std::abs(p16 / p32 - 1) < 0.05);  // and stays close
    const CliRun gen = run_cli("generate" + m + "--prompt-ids 464,3797 --max-new-tokens 8 "
                               "--ignore-eos --json --dtype bf16");
    BOOST_TEST_REQUIRE(gen.exit_code == 0, gen.err);
    BOOST_TEST(nlohmann::json::parse(gen.out)["prompts"][0]["outputs"][0]["new_ids"].size() == 8u);
    for (const char* command : {"generate --prompt-ids 1", "score --text x"}) {
        const CliRun bad = run_cli(std::string(command) + m + "--dtype fp16");
        BOOST_TEST(bad.exit_code == 1);
        BOOST_TEST(contains(bad.err, "--dtype: fp16 not in {float32,bf16}"), bad.err);
        BOOST_TEST(bad.out.empty());
    }
}

BOOST_AUTO_TEST_SUITE_END()
