// The PPO loop end to end on small models: a toy task whose reward is the count of one token (the
// score rises while the KL stays >= 0 and bounded), --resume giving the statistics of an
// uninterrupted run, runs never overwritten, and `gradstack ppo` with its contract and its errors.
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autograd/ops.h"
#include "gpt/run_folder.h"
#include "nn/safetensors.h"
#include "rl/ppo.h"
#include "rl/reference.h"
#include "tests/rl/rl_helpers.h"

using namespace gradstack;
using namespace gradstack::rl;
using namespace gradstack::test;

namespace {

// A small model saved as a Hugging Face folder.
std::string save_small(const fs::path& dir, uint64_t seed = 1) {
    auto m = small_model(seed);
    gpt::save_pretrained(*m, dir.string());
    return dir.string();
}

Rows toy_prompts() {
    Rows p;
    for (int64_t i = 0; i < 12; ++i) p.push_back({i % 15, (7 * i + 2) % 15, (5 * i + 1) % 15});
    return p;
}

PpoConfig toy_config() {
    PpoConfig c;
    c.batch_size = 32;
    c.mini_batch_size = 8;
    c.response_length = 8;
    c.lr = 3e-3;
    c.init_kl_coef = 0.2;
    c.save_every = 1000;
    return c;
}

std::vector<std::string> csv_rows(const fs::path& path) {
    std::ifstream in(path);
    std::vector<std::string> rows;
    std::string line;
    while (std::getline(in, line)) rows.push_back(line);
    return rows;
}

// A metrics row without its timing columns (seconds, rollout_s, score_s, optimize_s).
std::string without_times(const std::string& row) {
    std::vector<std::string> f;
    std::stringstream s(row);
    std::string x;
    while (std::getline(s, x, ',')) f.push_back(x);
    std::string out;
    for (size_t i = 0; i < f.size(); ++i)
        if (i != 11 && i + 3 < f.size()) out += f[i] + ",";
    return out;
}

void quiet(const std::string&) {}

// A run of `steps` toy steps from a fresh small model in dir/model to dir/run.
RunOptions toy_run(const TempDir& dir, int64_t steps) {
    RunOptions o;
    o.model = save_small(dir.path / "model");
    o.out = (dir.path / "run").string();
    o.config = toy_config();
    o.config.steps = steps;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ppo)

BOOST_AUTO_TEST_CASE(a_toy_reward_rises_with_a_bounded_nonnegative_kl) {
    TempDir dir;
    RunOptions o = toy_run(dir, 20);
    Reward reward = token_count_reward({3}, "count of token 3");
    RunResult r = run_ppo(o, toy_prompts(), reward, quiet);
    BOOST_REQUIRE_EQUAL(r.stats.size(), 20u);
    double first = 0, last = 0;
    for (int i = 0; i < 5; ++i) first += r.stats[i].score_mean / 5, last += r.stats[15 + i].score_mean / 5;
    BOOST_TEST_MESSAGE("mean score, first 5 steps " << first << ", last 5 " << last
                       << "; exact KL at the end " << r.stats.back().kl_full_mean);
    BOOST_TEST(last > first + 1.0);
    for (const StepStats& s : r.stats) {
        BOOST_TEST(s.kl_full_mean >= 0.0);  // exact KL of the distribution the tokens came from
        // The penalised objective E[score] - beta KL is >= 0 at the start (the reference scores
        // >= 0 with KL 0) and PPO raises it, so KL stays below max score / beta = 8 / 0.2.
        BOOST_TEST(s.kl_full_mean < 8 / 0.2);
        BOOST_TEST(s.kl_mean > -0.5);       // its sampled estimate, noisy but not drifting below 0
        BOOST_TEST(std::isfinite(s.policy_loss));
        BOOST_TEST(s.minibatches == 16);
    }
    BOOST_TEST(r.stats.back().kl_full_mean > 0.0);
    // The run folder: the contract's columns, the plot, a policy that generate can load.
    auto rows = csv_rows(fs::path(o.out) / "metrics.csv");
    BOOST_REQUIRE_EQUAL(rows.size(), 21u);
    BOOST_TEST(rows[0].rfind("step,score_mean,score_std,kl_mean,kl_coef,entropy,policy_loss,"
                             "value_loss,clipfrac,approx_kl,explained_variance,seconds", 0) == 0);
    BOOST_TEST(fs::exists(fs::path(o.out) / "value_head.safetensors"));
    BOOST_TEST(gpt::load_pretrained(o.out)->config().vocab_size == 16);
}

BOOST_AUTO_TEST_CASE(without_the_penalty_the_kl_grows_more) {
    // The same toy run with beta = 0 moves further from the reference.
    TempDir dir;
    const std::string model = save_small(dir.path / "model");
    double kl[2];
    for (int i = 0; i < 2; ++i) {
        RunOptions o;
        o.model = model;
        o.out = (dir.path / ("run" + std::to_string(i))).string();
        o.config = toy_config();
        o.config.steps = 12;
        o.config.init_kl_coef = i == 0 ? 0.5 : 0.0;
        RunResult r = run_ppo(o, toy_prompts(), token_count_reward({3}, "t3"), quiet);
        kl[i] = r.stats.back().kl_full_mean;
    }
    BOOST_TEST(kl[1] > kl[0], "KL with beta 0.5: " << kl[0] << ", with beta 0: " << kl[1]);
}

BOOST_AUTO_TEST_CASE(resume_gives_the_statistics_of_an_uninterrupted_run) {
    TempDir dir;
    const std::string model = save_small(dir.path / "model");
    Reward reward = token_count_reward({3, 4}, "t34");
    RunOptions o;
    o.model = model;
    o.config = toy_config();
    o.config.steps = 4;
    o.config.adaptive_kl = true;  // the controller's state must survive the restart too
    o.config.target_kl = 0.1;
    o.config.score_norm = true;
    o.config.train_dropout = true;
    o.out = (dir.path / "straight").string();
    run_ppo(o, toy_prompts(), reward, quiet);
    o.out = (dir.path / "resumed").string();
    o.config.steps = 2;
    run_ppo(o, toy_prompts(), reward, quiet);
    o.config.steps = 4;
    o.resume = true;
    run_ppo(o, toy_prompts(), reward, quiet);
    auto a = csv_rows(dir.path / "straight" / "metrics.csv"), b = csv_rows(dir.path / "resumed" / "metrics.csv");
    BOOST_REQUIRE_EQUAL(a.size(), 5u);
    BOOST_REQUIRE_EQUAL(b.size(), 5u);
    for (size_t i = 1; i < a.size(); ++i) BOOST_TEST(without_times(a[i]) == without_times(b[i]));
    auto wa = load_safetensors((dir.path / "straight" / "model.safetensors").string()).tensors();
    auto wb = load_safetensors((dir.path / "resumed" / "model.safetensors").string()).tensors();
    for (size_t i = 0; i < wa.size(); ++i)
        BOOST_TEST(max(abs(wa[i].second - wb[i].second)).item<double>() == 0.0, wa[i].first);
}

BOOST_AUTO_TEST_CASE(an_existing_run_is_not_overwritten) {
    TempDir dir;
    RunOptions o = toy_run(dir, 1);
    run_ppo(o, toy_prompts(), token_count_reward({3}, "t3"), quiet);
    const std::string before = read_file_text(fs::path(o.out) / "model.safetensors");
    BOOST_TEST(testing::contains(testing::error_of([&] {
        run_ppo(o, toy_prompts(), token_count_reward({3}, "t3"), quiet);
    }), "already holds a run"));
    BOOST_TEST(read_file_text(fs::path(o.out) / "model.safetensors") == before);
    // A checkpoint whose files disagree (mixed by hand: a save is a unit) is refused by --resume.
    gpt::save_pretrained(*small_model(5), gpt::latest_checkpoint(o.out, "ppo_state.json")->string(),
                         {{"step", "7"}});
    o.resume = true;
    o.config.steps = 2;
    BOOST_TEST(testing::contains(testing::error_of([&] {
        run_ppo(o, toy_prompts(), token_count_reward({3}, "t3"), quiet);
    }), "saved at step 7, but ppo_state.json says step 1"));
}

BOOST_AUTO_TEST_CASE(a_diverging_step_stops_before_it_is_saved) {
    // A NaN in the value head: values, advantages and both losses go NaN; the step refuses.
    TempDir dir;
    RunOptions o = toy_run(dir, 1);
    Generator gen(0);
    Policy p = load_policy(o.model, false, &gen, quiet);
    p.v_head->summary->bias.data<float>()[0] = std::nanf("");
    auto ref = create_reference(*p.lm);
    PpoTrainer t(p, ref, o.config, gen);
    Rows qs(o.config.batch_size, Rows::value_type{1, 2});
    const std::string e = testing::error_of([&] { t.step(qs, token_count_reward({3}, "t3")); });
    BOOST_TEST(testing::contains(e, "[ppo] step 1: the policy loss is not finite"), e);
}

BOOST_AUTO_TEST_CASE(bad_settings_name_their_flag) {
    auto err = [](auto change) {
        PpoConfig c;
        change(c);
        return testing::error_of([&] { c.validate(); });
    };
    BOOST_TEST(testing::contains(err([](PpoConfig& c) { c.batch_size = 60; }),
                                 "--batch-size 60 must be a multiple of --mini-batch-size 16"));
    BOOST_TEST(testing::contains(err([](PpoConfig& c) { c.lr = -1; }), "--lr -1 must be > 0"));
    BOOST_TEST(testing::contains(err([](PpoConfig& c) { c.cliprange = 1.5; }), "--cliprange 1.5"));
    BOOST_TEST(testing::contains(err([](PpoConfig& c) { c.gamma = 2; }), "--gamma 2 must be in [0, 1]"));
    BOOST_TEST(testing::contains(err([](PpoConfig& c) { c.response_length = 0; }), "--response-length 0"));
}

BOOST_AUTO_TEST_SUITE_END()

// The command line, on the tiny GPT-2 checkpoint with the GPT-2 tokenizer.
BOOST_AUTO_TEST_SUITE(ppo_cli, *boost::unit_test::precondition(HasGradstackBinary{}) *
                                   boost::unit_test::precondition(HasGpt2Vocab{}))

namespace {

struct CliSetup {
    TempDir dir;
    std::string base;
    CliSetup() {
        write_text(dir.path / "prompts.txt", "The cat\n\nOnce upon a time\nHello world\n");
        write_text(dir.path / "bag.txt", "the\nworld\n");
        base = "ppo --model " + tiny_gpt2_dir() + " --tokenizer " + gpt2_vocab_dir().string() +
               " --prompts " + (dir.path / "prompts.txt").string() +
               " --batch-size 4 --mini-batch-size 2 --response-length 3 --ppo-epochs 1";
    }
    std::string out(const std::string& name) const { return " --out " + (dir.path / name).string(); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_run_follows_the_contract) {
    CliSetup s;
    CliRun r = run_cli(s.base + " --reward bow:" + (s.dir.path / "bag.txt").string() + " --steps 2" + s.out("run"));
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "step 2/2 | score"));
    BOOST_TEST(contains(r.out, "before (score"));
    BOOST_TEST(contains(r.out, "after  (score"));
    auto rows = csv_rows(s.dir.path / "run" / "metrics.csv");
    BOOST_TEST(rows.size() == 3u);
    BOOST_TEST(fs::exists(s.dir.path / "run" / "metrics.png"));
    // The tuned policy is a model `gradstack generate` runs.
    CliRun g = run_cli("generate --model " + (s.dir.path / "run").string() + " --tokenizer " +
                       gpt2_vocab_dir().string() + " --prompt Hi --max-new-tokens 2 --greedy");
    BOOST_TEST(g.exit_code == 0, g.err);
    // --resume keeps the run's settings: a contradicting flag is refused, --steps may grow.
    CliRun bad = run_cli(s.base + " --reward bow:" + (s.dir.path / "bag.txt").string() +
                         " --steps 3 --lr 0.5 --resume" + s.out("run"));
    BOOST_TEST(bad.exit_code == 1);
    BOOST_TEST(contains(bad.err, "--lr 0.5 contradicts the run's saved setting 1.41e-05"), bad.err);
    CliRun more = run_cli(s.base + " --reward bow:" + (s.dir.path / "bag.txt").string() + " --steps 3 --resume" + s.out("run"));
    BOOST_TEST(more.exit_code == 0, more.err);
    BOOST_TEST(contains(more.out, "step 3/3"));
    BOOST_TEST(csv_rows(s.dir.path / "run" / "metrics.csv").size() == 4u);
    CliRun shorter = run_cli(s.base + " --reward bow:" + (s.dir.path / "bag.txt").string() + " --steps 2 --resume" + s.out("run"));
    BOOST_TEST(shorter.exit_code == 1);
    BOOST_TEST(contains(shorter.err, "--steps 2 is below the 3 steps the run"), shorter.err);
}

BOOST_AUTO_TEST_CASE(a_kill_during_a_save_leaves_a_run_that_resumes) {
    // Points spread over the second checkpoint (step 4) of a 4-step run saved every 2 steps,
    // each killed in turn as SIGKILL would (gpt/run_folder.h's fault injection): --resume ends
    // with the weights of the run that was never killed.
    CliSetup s;
    const std::string run = s.base + " --reward bow:" + (s.dir.path / "bag.txt").string() +
                            " --steps 4 --save-every 2 --samples 0 --eval-samples 1";
    CliRun whole = run_cli(run + s.out("whole"));
    BOOST_REQUIRE_MESSAGE(whole.exit_code == 0, whole.err);
    const std::string expected = read_file_text(s.dir.path / "whole" / "model.safetensors");
    int killed = 0;
    for (int point = 11; point < 40; point += 3) {
        const std::string name = "k" + std::to_string(point);
        CliRun r = run_cli(run + s.out(name), "GRADSTACK_CRASH_AT_SAVE_POINT=" + std::to_string(point));
        if (r.exit_code == 0) break;  // past the last save point
        BOOST_REQUIRE_MESSAGE(r.exit_code == 86, "point " << point << ": " << r.err);
        ++killed;
        r = run_cli(run + " --resume" + s.out(name));
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "point " << point << ": " << r.err);
        BOOST_TEST(read_file_text(s.dir.path / name / "model.safetensors") == expected, "point " << point);
    }
    BOOST_TEST(killed >= 3);
}

BOOST_AUTO_TEST_CASE(a_table_reward_scores_exact_responses) {
    CliSetup s;
    // Every response of the tiny model is random text; the table's default for unlisted ones is 0,
    // so a run scores 0 unless its responses are listed: list none, then check the file is read.
    write_text(s.dir.path / "scores.tsv", "hello\\tworld\t2.5\n");
    CliRun r = run_cli(s.base + " --reward tsv:" + (s.dir.path / "scores.tsv").string() + " --steps 1" + s.out("run"));
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "score 0.000 ± 0.000"));
    write_text(s.dir.path / "bad.tsv", "hello\tnot-a-number\n");
    CliRun b = run_cli(s.base + " --reward tsv:" + (s.dir.path / "bad.tsv").string() + " --steps 1" + s.out("run2"));
    BOOST_TEST(b.exit_code == 1);
    BOOST_TEST(contains(b.err, "bad.tsv:1: score 'not-a-number' is not a finite number"), b.err);
}

BOOST_AUTO_TEST_CASE(bad_input_gets_a_clear_error) {
    CliSetup s;
    write_text(s.dir.path / "empty.txt", "\n \n");
    write_text(s.dir.path / "utf8.txt", "fine\n\xff bad\n");
    write_text(s.dir.path / "long.txt", std::string(400, 'a') + " " + std::string(400, 'b') + "\n" +
                                        [] { std::string t; for (int i = 0; i < 200; ++i) t += "word "; return t; }() + "\n");
    const std::string bag = " --reward bow:" + (s.dir.path / "bag.txt").string();
    const std::string model = "ppo --model " + tiny_gpt2_dir() + " --tokenizer " + gpt2_vocab_dir().string();
    struct Case {
        std::string args, message;
    } cases[] = {
        {model + bag + " --prompts " + (s.dir.path / "empty.txt").string() + s.out("a"), "no prompts"},
        {model + bag + " --prompts " + (s.dir.path / "long.txt").string() + s.out("b"),
         "prompt 1 has 301 tokens; with --response-length 16 that exceeds the model's n_positions = 128"},
        {s.base + " --reward sentiment" + s.out("c"), "--reward 'sentiment' has no kind"},
        {s.base + " --reward foo:bar" + s.out("d"), "unknown kind 'foo'"},
        {s.base + " --reward discrim:" + s.dir.path.string() + s.out("e"), "needs a folder and a class label"},
        {s.base + " --reward bow:/nonexistent/words.txt" + s.out("f"), "/nonexistent/words.txt"},
        {s.base + bag + " --kl-penalty l2" + s.out("g"), "--kl-penalty 'l2'"},
        {model + bag + " --prompts " + (s.dir.path / "prompts.txt").string() + " --batch-size 10" + s.out("h"),
         "--batch-size 10 must be a multiple of --mini-batch-size 16"},
        {s.base + bag + " --resume" + s.out("i"), "holds no complete PPO checkpoint to continue"},
        {s.base + bag + " --seed -1" + s.out("j"), "--seed"},
        {model + bag + " --prompts " + (s.dir.path / "utf8.txt").string() + s.out("k"), "utf8.txt:2: [tokenizer] the text is not valid UTF-8"},
    };
    for (const Case& c : cases) {
        CliRun r = run_cli(c.args);
        BOOST_TEST(r.exit_code != 0, c.args);
        BOOST_TEST(contains(r.err, c.message), c.args << "\n  stderr: " << r.err);
    }
}

BOOST_AUTO_TEST_CASE(a_discriminator_of_another_width_is_refused) {
    CliSetup s;
    const fs::path d = s.dir.path / "discrim";
    fs::create_directories(d);
    write_text(d / "meta.json", R"({"class_size": 2, "embed_size": 8, "class_vocab": {"a": 0, "b": 1},
                                    "default_class": 0, "pretrained_model": "x"})");
    save_safetensors((d / "head.safetensors").string(),
                     {{"weight", zeros({2, 8})}, {"bias", zeros({2})}});
    CliRun r = run_cli(s.base + " --reward discrim:" + d.string() + ":b --steps 1" + s.out("run"));
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(contains(r.err, "8"), r.err);
    BOOST_TEST(contains(r.err, "16"), r.err);
    // The matching one (tests/data/pplm/discrim_tiny reads tiny_gpt2) runs.
    CliRun ok = run_cli(s.base + " --reward discrim:" + testing::test_data("pplm/discrim_tiny") +
                        ":positive --steps 1" + s.out("run2"));
    BOOST_TEST(ok.exit_code == 0, ok.err);
    BOOST_TEST(contains(ok.out, "step 1/1"));
}

BOOST_AUTO_TEST_SUITE_END()
