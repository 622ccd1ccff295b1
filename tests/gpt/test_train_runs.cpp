// A training run is never lost: an existing run is not overwritten by accident, a diverging step
// saves nothing, a kill at any instant of a save leaves a run that --resume continues to the same
// weights, --resume takes the run's own settings, stale temporary files are cleaned, two trainers
// cannot share a folder, and flags are checked before any work. See gpt/run_folder.h.
#include <boost/test/unit_test.hpp>

#include "gpt/checkpoint.h"
#include "gpt/run_folder.h"
#include "nn/module.h"
#include "tests/gpt/cli_helpers.h"
#include "tests/gpt/train_helpers.h"
#include "tests/test_util.h"

using namespace gradstack;
using namespace gradstack::gpt;
using gradstack::test::Corpus;
using gradstack::test::quiet;
using gradstack::test::TempDir;
using gradstack::test::tiny_config;
using gradstack::test::contains;
using gradstack::testing::error_of;
namespace fs = std::filesystem;

namespace {

std::string bytes(const fs::path& p) { return test::read_file_text(p); }

// `gradstack train` on the tiny corpus: a 1-layer model, checkpoints every 5 steps.
std::string tiny_flags(const Corpus& corpus, int steps) {
    return "--data " + corpus.text_file + " --tokenizer " + corpus.tokenizer +
           " --n-layer 1 --n-head 2 --n-embd 32 --context 16 --batch-size 2 --eval-every 5"
           " --eval-batches 1 --sample-tokens 2 --log-every 5 --save-every 5 --steps " +
           std::to_string(steps);
}

// A finished 4-step run in `out`, and its config.
struct FourStepRun {
    Corpus corpus;
    TempDir out;
    TrainConfig c = tiny_config(corpus, out.path.string());
    FourStepRun() {
        c.steps = 4;
        train(c, quiet);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(training_runs)

BOOST_FIXTURE_TEST_CASE(an_existing_run_needs_resume_or_overwrite, FourStepRun) {
    const std::string model = bytes(out.path / "model.safetensors");
    c.seed = 7;
    const std::string e = error_of([&] { train(c, quiet); });
    BOOST_TEST(contains(e, "already holds a training run"), e);
    BOOST_TEST((contains(e, "--resume") && contains(e, "--overwrite")), e);
    BOOST_TEST(bytes(out.path / "model.safetensors") == model);  // untouched
    c.overwrite = true;
    BOOST_TEST(train(c, quiet).steps_done == 4);
    BOOST_TEST(bytes(out.path / "model.safetensors") != model);  // the new seed's model
    c.resume = true;
    BOOST_TEST(contains(error_of([&] { train(c, quiet); }), "pass one of them"));
}

BOOST_AUTO_TEST_CASE(a_diverging_step_saves_nothing_and_keeps_the_last_checkpoint) {
    Corpus corpus;
    TempDir out;
    TrainConfig c = tiny_config(corpus, out.path.string());
    c.steps = 6;
    c.save_every = 2;
    train(c, quiet);
    const std::string model = bytes(out.path / "model.safetensors");
    // A new run over it with a learning rate that diverges at once: it stops with the step
    // named, before its first checkpoint, so the old run stays whole and resumable.
    TrainConfig wild = c;
    wild.overwrite = true;
    wild.lr = wild.min_lr = 1e8;
    wild.warmup = 0;
    wild.steps = 50;
    wild.save_every = 1;
    const std::string e = error_of([&] { train(wild, quiet); });
    BOOST_TEST(contains(e, "the run diverged"), e);
    BOOST_TEST(contains(e, "not saved"), e);
    const std::optional<fs::path> latest = latest_checkpoint(out.path);
    BOOST_REQUIRE(latest.has_value());
    // Either the old run's checkpoint (step 6) or a finite early checkpoint of the new run.
    auto saved = load_pretrained(latest->string());
    BOOST_TEST(nn::first_nonfinite(saved->named_parameters()).empty());
    if (latest->filename() == "step-00000006") BOOST_TEST(bytes(out.path / "model.safetensors") == model);
}

BOOST_AUTO_TEST_CASE(resume_takes_the_runs_own_settings, *boost::unit_test::precondition(test::HasGradstackBinary{})) {
    Corpus corpus;
    TempDir dir;
    const fs::path whole = dir.path / "whole", part = dir.path / "part";
    test::CliRun r = test::run_cli("train " + tiny_flags(corpus, 10) + " --out " + whole.string());
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    // Stop the same run at step 5 (a kill right after its first checkpoint), then resume with
    // no flag but --out: the settings come from the checkpoint, the weights end up the same.
    r = test::run_cli("train " + tiny_flags(corpus, 10) + " --out " + part.string(),
                      "GRADSTACK_CRASH_AT_SAVE_POINT=18");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 86, r.out + r.err);
    r = test::run_cli("train --out " + part.string() + " --resume --lr 0.5");
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(contains(r.err, "--lr 0.5 differs from the run's --lr 0.001"), r.err);
    r = test::run_cli("train --out " + part.string() + " --resume --log-every 1");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "resuming at step 5 of 10"), r.out);
    BOOST_TEST(contains(r.out, "step      6/10"), r.out);  // --log-every may change
    BOOST_TEST(bytes(part / "model.safetensors") == bytes(whole / "model.safetensors"));
    r = test::run_cli("train --out " + part.string() + " --resume");
    BOOST_TEST(contains(r.out, "is complete: step 10 of 10"), r.out);
}

BOOST_AUTO_TEST_CASE(a_kill_at_any_save_point_leaves_a_run_that_resumes,
                     *boost::unit_test::precondition(test::HasGradstackBinary{})) {
    // Every file operation of the two checkpoints (steps 5 and 10) of a 10-step run, killed in
    // turn: --resume then always finishes with the weights of the run that was never killed (or,
    // killed before the first checkpoint is complete, says so and --overwrite starts again).
    Corpus corpus;
    TempDir dir;
    const fs::path whole = dir.path / "whole";
    test::CliRun r = test::run_cli("train " + tiny_flags(corpus, 10) + " --out " + whole.string());
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const std::string expected = bytes(whole / "model.safetensors");
    int killed = 0;
    for (int point = 1; point < 100; ++point) {
        const fs::path run = dir.path / ("run" + std::to_string(point));
        r = test::run_cli("train " + tiny_flags(corpus, 10) + " --out " + run.string(),
                          "GRADSTACK_CRASH_AT_SAVE_POINT=" + std::to_string(point));
        if (r.exit_code == 0) break;  // past the last save point
        BOOST_REQUIRE_MESSAGE(r.exit_code == 86, "point " << point << ": " << r.err);
        ++killed;
        r = test::run_cli("train --out " + run.string() + " --resume");
        if (r.exit_code != 0) {
            BOOST_TEST(contains(r.err, "holds no complete checkpoint"), "point " << point << ": " << r.err);
            BOOST_TEST(!latest_checkpoint(run).has_value());
            r = test::run_cli("train " + tiny_flags(corpus, 10) + " --out " + run.string() + " --overwrite");
        }
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "point " << point << ": " << r.err);
        BOOST_TEST(bytes(run / "model.safetensors") == expected, "point " << point);
        BOOST_TEST(bytes(run / "checkpoints" / "latest") == "step-00000010\n", "point " << point);
        fs::remove_all(run);
    }
    BOOST_TEST(killed >= 30);  // two checkpoints' worth of files, links and the pointer
}

BOOST_FIXTURE_TEST_CASE(stale_temporary_files_and_step_folders_are_cleaned, FourStepRun) {
    test::write_text(out.path / "model.safetensors.tmp-12345-0", "half a file");
    test::write_text(out.path / "metrics.png.tmp", "half a plot");
    fs::create_directories(out.path / "checkpoints" / "step-00000099");
    test::write_text(out.path / "checkpoints" / "step-00000099" / "model.safetensors", "x");
    std::string log;
    c.resume = true;
    c.steps = 4;
    train(c, [&](const std::string& line) { log += line + "\n"; });
    BOOST_TEST(contains(log, "removed 3 leftover(s) of an interrupted save"), log);
    BOOST_TEST(!fs::exists(out.path / "model.safetensors.tmp-12345-0"));
    BOOST_TEST(!fs::exists(out.path / "checkpoints" / "step-00000099"));
    BOOST_TEST(fs::exists(out.path / "checkpoints" / "step-00000004" / "model.safetensors"));
}

BOOST_AUTO_TEST_CASE(two_trainers_cannot_share_a_run_folder) {
    Corpus corpus;
    TempDir out;
    RunFolder held(out.path, "gradstack train");
    const std::string e = error_of([&] { train(tiny_config(corpus, out.path.string()), quiet); });
    BOOST_TEST(contains(e, "another gradstack train is using this run folder"), e);
}

BOOST_FIXTURE_TEST_CASE(a_run_saved_before_step_folders_still_resumes, FourStepRun) {
    // The old layout: the checkpoint files at the top level only.
    fs::remove_all(out.path / "checkpoints");
    c.resume = true;
    c.steps = 4;
    BOOST_TEST(train(c, quiet).steps_done == 4);
    BOOST_TEST((latest_checkpoint(out.path) == std::optional<fs::path>(out.path)));
}

BOOST_FIXTURE_TEST_CASE(a_damaged_metrics_file_is_named, FourStepRun) {
    test::write_text(out.path / "checkpoints" / "step-00000004" / "metrics.csv", "header\nnot a row\n");
    c.resume = true;
    const std::string e = error_of([&] { train(c, quiet); });
    BOOST_TEST(contains(e, "metrics.csv: line 2 is not a metrics row"), e);
}

BOOST_AUTO_TEST_CASE(flags_are_checked_before_any_work, *boost::unit_test::precondition(test::HasGradstackBinary{})) {
    Corpus corpus;
    TempDir dir;
    const std::string out = " --out " + (dir.path / "run").string();
    const std::string base = "train --data " + corpus.text_file + " --tokenizer " + corpus.tokenizer + out;
    struct Case {
        std::string flags, message;
    };
    for (const Case& k : std::vector<Case>{
             {" --val-fraction 0", "--val-fraction: must be"},
             {" --sample-tokens -1", "--sample-tokens: must be"},
             {" --steps 9223372036854775808", "--steps: must be"},
             {" --lr inf", "--lr: must be"},
             {" --min-lr 1 --lr 0.1", "--min-lr 1 must be in [0, --lr]"},
             {" --dropout 1", "--dropout: must be"},
             {" --n-embd 30 --n-head 4", "--n-embd 30 must be a multiple of --n-head 4"},
             {" --resume --overwrite", "pass one of them"},
             {" --seed -1", "--seed: must be"},
         }) {
        test::CliRun r = test::run_cli(base + k.flags);
        BOOST_TEST(r.exit_code != 0, k.flags);
        BOOST_TEST(contains(r.err, k.message), k.flags << ": " << r.err);
    }
    BOOST_TEST(!fs::exists(dir.path / "run"));  // nothing was created
    test::CliRun r = test::run_cli(base + " --context 3000 --batch-size 1");
    BOOST_TEST(contains(r.err, "the training split holds"), r.err);
    r = test::run_cli(base + " --n-layer 100000 --n-embd 1024 --n-head 16");
    BOOST_TEST(contains(r.err, "more than this machine's"), r.err);
    r = test::run_cli(base + " --context 8192");  // the model fits, its activations do not
    BOOST_TEST(contains(r.err, "this machine has available"), r.err);
    r = test::run_cli("train --data " + corpus.text_file + out + " --init-from " + corpus.tokenizer + " --n-layer 3");
    BOOST_TEST(contains(r.err, "--n-layer sets up a new model, but --init-from"), r.err);
    // A place that cannot be written (as root, chmod does not stop writes; /proc does) fails
    // at once, before the data is tokenized.
    r = test::run_cli("train --data " + corpus.text_file + " --tokenizer " + corpus.tokenizer +
                      " --out /proc/gradstack-test-run");
    BOOST_TEST(contains(r.err, "--out /proc/gradstack-test-run: cannot create the folder"), r.err);
    r = test::run_cli("demo --new-tokens -1 --run " + (dir.path / "demo").string());
    BOOST_TEST(contains(r.err, "--new-tokens: must be"), r.err);
    r = test::run_cli("demo --steps 0 --run " + (dir.path / "demo").string());
    BOOST_TEST(contains(r.err, "--steps: must be"), r.err);
}

BOOST_AUTO_TEST_SUITE_END()
