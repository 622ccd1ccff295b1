// --device on the commands that compute (generate, score, train, bench): a bad value or a device
// the machine lacks is an error naming the flag, before any work; on a GPU machine with the CUDA
// backend built, `--device cuda` gives the tokens `--device cpu` gives.
#include <boost/test/unit_test.hpp>

#include "tests/gpt/cli_helpers.h"

using namespace gradstack::test;

namespace {

fs::path tiny_dir() {
    return source_dir() / "tests" / "data" / "tiny_gpt2";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(device_cli)

BOOST_AUTO_TEST_CASE(a_bad_device_is_named, *boost::unit_test::precondition(HasGradstackBinary{})) {
    const std::string model = " --model " + tiny_dir().string();
    for (const std::string& command :
         {"generate" + model + " --prompt-ids 1,2 --max-new-tokens 2", "score" + model + " --text hi",
          std::string("bench gpt"), std::string("bench train")}) {
        for (const char* bad : {"gpu", "cuda:", "cuda:-1", "cpu0"}) {
            const CliRun r = run_cli(command + " --device " + bad);
            BOOST_TEST(r.exit_code == 1, command << " --device " << bad);
            BOOST_TEST(contains(r.err, std::string("--device: '") + bad + "' is not a device"),
                       command << ": " << r.err);
        }
    }
    TempDir dir;
    const CliRun r = run_cli("train --data " + tiny_dir().string() + "/config.json --out " +
                             (dir.path / "run").string() + " --device tpu");
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(contains(r.err, "--device: 'tpu' is not a device"), r.err);
    BOOST_TEST(!fs::exists(dir.path / "run"));  // nothing was started
}

BOOST_AUTO_TEST_CASE(cuda_gives_the_cpus_tokens_or_says_why_it_cannot,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    const std::string base =
        "generate --model " + tiny_dir().string() + " --prompt-ids 1,2,3 --max-new-tokens 8 --json";
    const CliRun cpu = run_cli(base + " --device cpu");
    BOOST_REQUIRE_MESSAGE(cpu.exit_code == 0, cpu.err);
    const CliRun gpu = run_cli(base + " --device cuda");
    if (gpu.exit_code == 0) {
        BOOST_TEST(gpu.out == cpu.out);  // greedy: the same tokens and log-probabilities
    } else {
        BOOST_TEST(gpu.exit_code == 1);
        BOOST_TEST(contains(gpu.err, "--device: cuda:0 is not available: "), gpu.err);
        BOOST_TEST(gpu.out.empty());
    }
    // A device index past the machine's devices is always refused.
    const CliRun far = run_cli(base + " --device cuda:63");
    BOOST_TEST(far.exit_code == 1);
    BOOST_TEST(contains(far.err, "--device: cuda:63 is not available"), far.err);
}

BOOST_AUTO_TEST_SUITE_END()
