// gpt::train end to end on a tiny corpus: the loss falls, --resume replays the same losses,
// checkpoints load for generation, a damaged checkpoint is a clear error, and Ctrl-C on
// `gradstack train` saves and exits.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/generation/generate.h"
#include "gpt/tokenizer/train.h"
#include "gpt/trainer.h"
#include "tests/gpt/cli_helpers.h"
#include "tests/gpt/train_helpers.h"

using namespace gradstack;
using namespace gradstack::gpt;
using gradstack::test::TempDir;
namespace fs = std::filesystem;

using gradstack::test::Corpus;
using gradstack::test::quiet;
using gradstack::test::tiny_config;

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(loss_falls_and_checkpoint_generates) {
    Corpus corpus;
    TempDir out;
    TrainConfig c = tiny_config(corpus, out.path.string());
    TrainResult r = train(c, quiet);
    BOOST_TEST(r.steps_done == 30);
    BOOST_TEST(r.train_losses.front() > 5.0);  // about log(300) at the start
    BOOST_TEST(r.last_train_loss < 0.5 * r.train_losses.front(), "losses " << r.train_losses.front() << " -> " << r.last_train_loss);
    BOOST_TEST(r.last_val_accuracy > 0.3);
    for (const char* f : {"config.json", "model.safetensors", "optimizer.safetensors",
                          "trainer_state.json", "metrics.csv", "vocab.json", "merges.txt"})
        BOOST_TEST(fs::exists(out.path / f), f);
    auto model = load_pretrained(out.path.string());
    GenerationConfig g;
    g.max_new_tokens = 5;
    g.eos_token_id = -1;
    auto seqs = generate(*model, {{1, 2, 3}}, g);
    BOOST_TEST(seqs[0][0].new_ids.size() == 5u);
    std::ifstream csv(out.path / "metrics.csv");
    std::string header;
    std::getline(csv, header);
    BOOST_TEST(header == "step,train_loss,val_loss,val_accuracy,lr,tokens_per_s,elapsed_s");
}

BOOST_AUTO_TEST_CASE(resume_gives_the_same_losses) {
    Corpus corpus;
    TempDir a, b;
    TrainResult whole = train(tiny_config(corpus, a.path.string()), quiet);
    // Stop after step 12 (the log callback runs after each step with log_every = 1).
    std::atomic<bool> stop{false};
    int logged = 0;
    TrainResult first = train(tiny_config(corpus, b.path.string()), [&](const std::string& line) {
        if (line.rfind("step", 0) == 0 && ++logged == 12) stop = true;
    }, &stop);
    BOOST_TEST(first.interrupted);
    BOOST_TEST(first.steps_done == 12);
    TrainConfig again = tiny_config(corpus, b.path.string());
    again.resume = true;
    TrainResult rest = train(again, quiet);
    BOOST_TEST(rest.steps_done == 30);
    BOOST_REQUIRE(rest.train_losses.size() == 18u);
    for (size_t i = 0; i < 18; ++i) BOOST_TEST(rest.train_losses[i] == whole.train_losses[12 + i]);
}

BOOST_AUTO_TEST_CASE(damaged_checkpoints_are_clear_errors) {
    Corpus corpus;
    TempDir out;
    TrainConfig c = tiny_config(corpus, out.path.string());
    c.steps = 4;
    train(c, quiet);
    c.resume = true;
    // A model file from another step (as if saving was cut short between files).
    {
        std::ofstream(out.path / "trainer_state.json")
            << R"({"step": 3, "sampler_counter": 0, "model_generator_counter": 0})";
    }
    try {
        train(c, quiet);
        BOOST_FAIL("no error");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("incomplete") != std::string::npos, e.what());
    }
    // A truncated model file.
    fs::resize_file(out.path / "model.safetensors", 100);
    try {
        train(c, quiet);
        BOOST_FAIL("no error");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("model.safetensors") != std::string::npos, e.what());
    }
    BOOST_CHECK_THROW(load_pretrained(out.path.string()), Error);
    // Bad settings.
    TempDir other;
    TrainConfig bad = tiny_config(corpus, other.path.string());
    bad.context = 100000;
    BOOST_CHECK_THROW(train(bad, quiet), Error);
}

BOOST_AUTO_TEST_CASE(ctrl_c_saves_a_checkpoint_and_exits) {
    Corpus corpus;
    TempDir out;
    const fs::path log = out.path / "log.txt", code = out.path / "code.txt";
    // Start training in the background, wait for its first progress line, then send SIGINT.
    const std::string command =
        "sh -c '" + test::gradstack_bin().string() + " train --data " + corpus.text_file +
        " --tokenizer " + corpus.tokenizer + " --out " + (out.path / "run").string() +
        " --n-layer 1 --n-head 2 --n-embd 32 --context 32 --batch-size 2 --steps 1000000"
        " --eval-every 1000000 --log-every 1 > " + log.string() + " 2>&1 & pid=$!;"
        " for i in $(seq 300); do grep -q ^step " + log.string() + " && break; sleep 0.1; done;"
        " kill -INT $pid; wait $pid; echo $? > " + code.string() + "'";
    BOOST_REQUIRE(std::system(command.c_str()) == 0);
    const std::string printed = test::read_file_text(log);
    BOOST_TEST(std::stoi(test::read_file_text(code)) == 130, printed);
    BOOST_TEST(printed.find("interrupted at step") != std::string::npos, printed);
    BOOST_TEST(fs::exists(out.path / "run" / "trainer_state.json"));
    BOOST_CHECK_NO_THROW(load_pretrained((out.path / "run").string()));
}

BOOST_AUTO_TEST_CASE(bench_train_times_a_step, *boost::unit_test::precondition(test::HasGradstackBinary{})) {
    // One recipe step at batch 1, gradstack only: the benchmark runs and prints its row.
    test::CliRun r = test::run_cli("bench train --workloads recipe --recipe-batch 1 --reps 1 "
                                   "--warmup 0 --threads 1 --no-torch");
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(test::contains(r.out, "recipe       1.7M"), r.out);
    r = test::run_cli("bench train --workloads gpt3 --no-torch");
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(test::contains(r.err, "gpt3"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
