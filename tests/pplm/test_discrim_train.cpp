// Discriminator training (pplm/discrim_train.h): the SST-5, TSV and fortunes readers on small
// inline data, token ids and the split, training to high accuracy on a separable toy set with
// the tiny GPT-2 (tests/data/tiny_gpt2, GPT-2's vocabulary), --cached and uncached agreeing,
// the run folder, and `gradstack train-discrim`'s flag checks.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "pplm/discrim_train.h"
#include "tests/gpt/cli_helpers.h"

using namespace gradstack;
using namespace gradstack::test;
using gradstack::testing::error_of;
namespace pplm = gradstack::pplm;

namespace {

fs::path tiny_dir() {
    return source_dir() / "tests" / "data" / "tiny_gpt2";
}
fs::path sst_sample_dir() {
    return source_dir() / "tests" / "data" / "pplm" / "sst5";
}

// A separable toy set: class 0 texts are made of cat words, class 1 of dog words, 3..10 words.
std::vector<pplm::LabeledText> toy_texts(int per_class, uint32_t seed) {
    const std::vector<std::vector<std::string>> words = {{" cat", " kitten", " meow"},
                                                         {" dog", " puppy", " bark"}};
    std::mt19937 rng(seed);
    std::vector<pplm::LabeledText> out;
    for (int i = 0; i < per_class; ++i)
        for (int64_t label = 0; label < 2; ++label) {
            std::string text = "The";
            const int n = 3 + static_cast<int>(rng() % 8);
            for (int k = 0; k < n; ++k) text += words[label][rng() % 3];
            out.push_back({text, label});
        }
    return out;
}

pplm::ClassifierMeta toy_meta(int64_t embed_size) {
    pplm::ClassifierMeta m;
    m.class_size = 2;
    m.embed_size = embed_size;
    m.class_vocab = {{"cats", 0}, {"dogs", 1}};
    m.pretrained_model = tiny_dir().string();
    return m;
}

struct ToySplit {
    std::vector<pplm::TokenizedExample> train, test;
};

ToySplit toy_split(int per_class) {
    std::vector<pplm::TokenizedExample> all =
        pplm::encode_examples(toy_texts(per_class, 7), gpt2(), 50256, 100, 2);
    ToySplit s;
    pplm::random_split(all, 0.9, 0, s.train, s.test);
    return s;
}

std::vector<float> values(const Tensor& t) {
    return to_vector<float>(t);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(discrim_readers)

BOOST_AUTO_TEST_CASE(sst_tree_label_leaves_and_escapes) {
    const pplm::LabeledText t = pplm::parse_sst_tree(
        "(3 (2 (2 ``) (2 -LRB-A-RRB-)) (4 (2 -LRB-) (3 (2 1\\/2) (2 fun\\*)) (2 -RRB-) (2 '') (2 "
        "-LSB-) (2 -RCB-)) (2 .))");
    BOOST_TEST(t.label == 3);
    // Whole-token escapes only: "-LRB-A-RRB-" is one leaf and stays as it is.
    BOOST_TEST(t.text == "\" -LRB-A-RRB- ( 1/2 fun* ) \" [ } .");
    const pplm::LabeledText real =
        pplm::parse_sst_tree("(1 (0 (2 (1 -LRB-) (2 (2 A) (3 -RRB-))) (1 mess)) (2 .))");
    BOOST_TEST(real.label == 1);
    BOOST_TEST(real.text == "( A ) mess .");
    BOOST_TEST(pplm::parse_sst_tree("  (0 (1 Ridiculous) (2 .))\r").text == "Ridiculous .");
}

BOOST_AUTO_TEST_CASE(sst_tree_errors_name_the_place) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"(5 (2 a))", "not a sentiment class"},
        {"(3 (2 a)", "not closed"},
        {"(3 (2 a)) (2 b)", "after the end"},
        {"(3 a (2 b))", "either one word or subtrees"},
        {"(3 (2 a) b)", "either one word or subtrees"},
        {"(3 (2 a)))", "after the end"},
        {")", "without a matching"},
        {"(3 ())", "empty node"},
        {"((2 a))", "label was expected"},
        {"(3)", "without a word"},
        {"word", "expected '('"},
        {"", "empty line"},
    };
    for (const auto& [line, want] : bad) {
        const std::string e = error_of([&] { pplm::parse_sst_tree(line, "train.txt:7"); });
        BOOST_TEST(testing::contains(e, want), line << " -> " << e);
        BOOST_TEST(testing::contains(e, "train.txt:7"), line << " -> " << e);
    }
}

BOOST_AUTO_TEST_CASE(sst5_folder_or_file) {
    // tests/data/pplm/sst5: a few lines of each of SST-5's files.
    const pplm::LabeledData d = pplm::read_sst5(sst_sample_dir().string());
    BOOST_TEST(d.class_names == pplm::sst5_class_names());
    BOOST_TEST(d.class_names[0] == "very_negative");
    BOOST_TEST(d.class_names[4] == "very_positive");
    BOOST_TEST(d.default_class == 4);
    BOOST_TEST(d.train.size() == 5u);
    BOOST_TEST(d.test.size() == 5u);
    BOOST_TEST(d.dev.size() == 3u);
    bool found = false;
    for (const auto& e : d.train)
        if (e.text == "K 19 stays afloat as decent drama/action flick") found = e.label == 3;
    BOOST_TEST(found);
    // Any file of the folder names the folder.
    const pplm::LabeledData same = pplm::read_sst5((sst_sample_dir() / "dev.txt").string());
    BOOST_TEST(same.train.size() == 5u);
    TempDir empty;
    BOOST_TEST(
        testing::contains(error_of([&] { pplm::read_sst5(empty.path.string()); }), "train.txt"));
}

BOOST_AUTO_TEST_CASE(sst5_full_files_parse) {
    // The whole of SST-5 when ../shared has it (users do not): every tree parses.
    const fs::path dir = shared_dir() / "data" / "sst5";
    if (!fs::exists(dir / "train.txt")) {
        BOOST_TEST_MESSAGE("no " << dir << "; skipped");
        return;
    }
    const pplm::LabeledData d = pplm::read_sst5(dir.string());
    std::vector<int> per_class(5, 0);
    for (const auto& e : d.train) ++per_class[e.label];
    for (int k = 0; k < 5; ++k) BOOST_TEST(per_class[k] > 0);
    BOOST_TEST(d.test.size() > 1000u);
    BOOST_TEST(d.dev.size() > 500u);
}

BOOST_AUTO_TEST_CASE(tsv_sorted_classes_and_skipped_lines) {
    TempDir dir;
    const fs::path path = dir.path / "data.tsv";
    write_text(path,
               "pos\tgreat movie\n"
               "neg\tdull\r\n"
               "\n"
               "no tab on this line\n"
               "\tempty label\n"
               "mid\tfirst field\tignored field\n"
               "pos\t\n");
    const pplm::LabeledData d = pplm::read_tsv(path.string());
    BOOST_TEST(d.class_names == (std::vector<std::string>{"mid", "neg", "pos"}));
    BOOST_TEST(d.default_class == 0);
    BOOST_REQUIRE(d.train.size() == 4u);
    BOOST_TEST(d.train[0].text == "great movie");
    BOOST_TEST(d.train[0].label == 2);
    BOOST_TEST(d.train[1].text == "dull");  // \r\n line ends
    BOOST_TEST(d.train[1].label == 1);
    BOOST_TEST(d.train[2].text == "first field");  // uber reads row[1] only
    BOOST_TEST(d.train[3].text == "");
    BOOST_TEST(d.test.empty());
    std::string notes;
    for (const auto& n : d.notes) notes += n + "\n";
    BOOST_TEST(testing::contains(notes, "skipped 2 malformed line(s)"), notes);
    BOOST_TEST(testing::contains(notes, path.string() + ":4: no tab"), notes);
    BOOST_TEST(testing::contains(notes, path.string() + ":5: empty label"), notes);

    write_text(path, "pos\ta\npos\tb\n");
    BOOST_TEST(
        testing::contains(error_of([&] { pplm::read_tsv(path.string()); }), "at least 2 classes"));
    write_text(path, "nothing here\n");
    BOOST_TEST(testing::contains(error_of([&] { pplm::read_tsv(path.string()); }),
                                 "no line of the form label<TAB>text"));
    BOOST_TEST(testing::contains(error_of([&] { pplm::read_tsv((dir.path / "nope").string()); }),
                                 "not a readable file"));
}

BOOST_AUTO_TEST_CASE(fortunes_topics_and_splitting) {
    const auto f = pplm::split_fortunes(
        "Cats purr.\n%\nA cat\n\t\t-- Someone\n%\n%\n  \n%\nthe very ___\b\b\bleast\n%\n_\bx y\n");
    BOOST_TEST(f == (std::vector<std::string>{"Cats purr.", "A cat\n\t\t-- Someone",
                                              "the very least", "x y"}));
    TempDir dir;
    write_text(dir.path / "cats", "Cats purr.\n%\nCats sleep.\n%\n");
    write_text(dir.path / "cats.dat", "index");
    fs::create_symlink(dir.path / "cats", dir.path / "cats.u8");
    write_text(dir.path / "dogs", "Dogs bark.\n");
    write_text(dir.path / "empty", "%\n%\n");
    write_text(dir.path / ".hidden", "x");
    BOOST_TEST(pplm::fortune_topics(dir.path.string()) ==
               (std::vector<std::string>{"cats", "dogs", "empty"}));
    const pplm::LabeledData d = pplm::read_fortunes(dir.path.string(), {"dogs", "cats"});
    BOOST_TEST(d.class_names == (std::vector<std::string>{"dogs", "cats"}));
    BOOST_REQUIRE(d.train.size() == 3u);
    BOOST_TEST(d.train[0].text == "Dogs bark.");
    BOOST_TEST(d.train[0].label == 0);
    BOOST_TEST(d.train[2].text == "Cats sleep.");
    BOOST_TEST(d.train[2].label == 1);
    const std::string unknown = error_of([&] {
        pplm::read_fortunes(dir.path.string(), {"cats", "cows"});
    });
    BOOST_TEST(testing::contains(unknown, "no topic file 'cows'"), unknown);
    BOOST_TEST(testing::contains(unknown, "cats, dogs, empty"), unknown);
    BOOST_TEST(testing::contains(error_of([&] {
                                     pplm::read_fortunes(dir.path.string(), {"cats", "empty"});
                                 }),
                                 "holds no fortune"));
    BOOST_TEST(testing::contains(
        error_of([&] { pplm::read_fortunes(dir.path.string(), {"cats"}); }), "at least 2"));
}

BOOST_AUTO_TEST_CASE(encode_drops_long_examples_and_puts_bos_first,
                     *boost::unit_test::precondition(HasGpt2Vocab{})) {
    // " Hello world" is 2 tokens; with <|endoftext|> 3.
    const std::vector<pplm::LabeledText> texts = {
        {"Hello world", 0}, {"Hello world Hello world", 1}, {"", 1}, {"Hello", 0}};
    std::vector<int64_t> dropped;
    const auto kept = pplm::encode_examples(texts, gpt2(), 50256, 3, 2, &dropped);
    BOOST_REQUIRE(kept.size() == 3u);
    BOOST_TEST(kept[0].ids == (std::vector<int64_t>{50256, 15496, 995}));
    BOOST_TEST(kept[1].ids == (std::vector<int64_t>{50256}));  // an empty text: bos alone
    BOOST_TEST(kept[1].label == 1);
    BOOST_TEST(dropped == (std::vector<int64_t>{0, 1}));
    // Invalid UTF-8 is replaced, not an error.
    BOOST_TEST(pplm::encode_examples({{"caf\xE9", 0}}, gpt2(), 50256, 10, 2).size() == 1u);
}

BOOST_AUTO_TEST_CASE(random_split_is_seeded_and_partitions) {
    std::vector<pplm::TokenizedExample> all;
    for (int64_t i = 0; i < 25; ++i) all.push_back({{i}, i % 2});
    std::vector<pplm::TokenizedExample> a, b, c, d;
    pplm::random_split(all, 0.9, 3, a, b);
    BOOST_TEST(a.size() == 22u);  // int(0.9 * 25)
    BOOST_TEST(b.size() == 3u);
    std::vector<int64_t> seen;
    for (const auto* s : {&a, &b})
        for (const auto& e : *s) seen.push_back(e.ids[0]);
    std::sort(seen.begin(), seen.end());
    for (int64_t i = 0; i < 25; ++i) BOOST_TEST(seen[i] == i);
    pplm::random_split(all, 0.9, 3, c, d);
    BOOST_TEST(c.front().ids == a.front().ids);
    BOOST_TEST(d.back().ids == b.back().ids);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(discrim_training)

BOOST_AUTO_TEST_CASE(separable_toy_set_reaches_high_accuracy,
                     *boost::unit_test::precondition(HasGpt2Vocab{})) {
    auto model = gpt::load_pretrained(tiny_dir().string());
    const ToySplit s = toy_split(60);
    pplm::DiscrimTrainConfig c;
    c.epochs = 30;
    c.batch_size = 16;
    c.lr = 3e-2;
    c.cached = true;
    std::vector<std::string> lines;
    pplm::DiscrimCallbacks cb;
    cb.log = [&](const std::string& l) { lines.push_back(l); };
    const auto r = pplm::train_discriminator(*model, s.train, s.test, {}, toy_meta(16), c, cb);
    BOOST_REQUIRE(r.epochs.size() == 30u);
    const auto& best = r.epochs[r.best_epoch - 1];
    BOOST_TEST_MESSAGE("toy set: best test accuracy " << best.test_accuracy << " at epoch "
                                                      << r.best_epoch << ", last "
                                                      << r.epochs.back().test_accuracy);
    BOOST_TEST(best.test_accuracy >= 0.9);
    BOOST_TEST(r.epochs.back().train_loss < r.epochs.front().train_loss);
    for (const auto& m : r.epochs) BOOST_TEST(m.test_accuracy <= best.test_accuracy);
    // The frozen model: eval mode, no parameter asking for a gradient.
    BOOST_TEST(!model->is_training());
    for (const Tensor& p : model->parameters()) BOOST_TEST(!p.requires_grad());
    BOOST_TEST(testing::contains(lines.back(), "best epoch"));
}

BOOST_AUTO_TEST_CASE(cached_and_uncached_give_the_same_head,
                     *boost::unit_test::precondition(HasGpt2Vocab{})) {
    auto model = gpt::load_pretrained(tiny_dir().string());
    const ToySplit s = toy_split(20);
    pplm::DiscrimTrainConfig c;
    c.epochs = 1;
    c.batch_size = 8;
    c.lr = 1e-2;
    c.seed = 5;
    c.cached = true;
    const auto cached = pplm::train_discriminator(*model, s.train, s.test, {}, toy_meta(16), c);
    c.cached = false;
    const auto direct = pplm::train_discriminator(*model, s.train, s.test, {}, toy_meta(16), c);
    const auto w1 = values(cached.discriminator.head->weight);
    const auto w2 = values(direct.discriminator.head->weight);
    BOOST_REQUIRE(w1.size() == w2.size());
    float worst = 0;
    for (size_t i = 0; i < w1.size(); ++i) worst = std::max(worst, std::abs(w1[i] - w2[i]));
    BOOST_TEST(worst < 1e-5f);
    BOOST_TEST(cached.epochs[0].train_loss == direct.epochs[0].train_loss,
               boost::test_tools::tolerance(1e-5));
    BOOST_TEST(cached.epochs[0].test_accuracy == direct.epochs[0].test_accuracy);
    // The head moved away from its initialisation (same seed, zero epochs would be equal).
    c.cached = true;
    c.seed = 6;
    const auto other = pplm::train_discriminator(*model, s.train, s.test, {}, toy_meta(16), c);
    BOOST_TEST(values(other.discriminator.head->weight) != w1);
}

BOOST_AUTO_TEST_CASE(run_folder_round_trip_and_overwrite,
                     *boost::unit_test::precondition(HasGpt2Vocab{})) {
    auto model = gpt::load_pretrained(tiny_dir().string());
    const ToySplit s = toy_split(10);
    TempDir dir;
    pplm::DiscrimTrainConfig c;
    c.epochs = 3;
    c.batch_size = 8;
    c.lr = 1e-2;
    c.cached = true;
    c.out = (dir.path / "run").string();
    const auto r = pplm::train_discriminator(*model, s.train, s.test, {}, toy_meta(16), c);
    for (const char* name : {"epoch_1", "epoch_2", "epoch_3", "best"}) {
        BOOST_TEST(fs::exists(dir.path / "run" / name / "head.safetensors"), name);
        BOOST_TEST(fs::exists(dir.path / "run" / name / "meta.json"), name);
    }
    // The last epoch's files hold the returned head; best/ the best epoch's.
    const pplm::Discriminator last = pplm::load_discriminator(c.out + "/epoch_3");
    BOOST_TEST(values(last.head->weight) == values(r.discriminator.head->weight));
    BOOST_TEST(values(last.head->bias) == values(r.discriminator.head->bias));
    const pplm::Discriminator best = pplm::load_discriminator(c.out + "/best");
    const pplm::Discriminator best_epoch =
        pplm::load_discriminator(c.out + "/epoch_" + std::to_string(r.best_epoch));
    BOOST_TEST(values(best.head->weight) == values(best_epoch.head->weight));
    BOOST_TEST(best.meta.embed_size == 16);
    BOOST_TEST(best.meta.class_size == 2);
    BOOST_TEST(best.meta.class_vocab.at("dogs") == 1);
    BOOST_TEST(best.meta.pretrained_model == tiny_dir().string());
    pplm::check_compatible(best, model->config(), c.out + "/best");
    const std::string csv = read_file_text(dir.path / "run" / "metrics.csv");
    BOOST_TEST(csv.rfind("epoch,train_loss,test_loss,test_accuracy,seconds\n1,", 0) == 0, csv);
    BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 4);

    // An earlier run is not overwritten unless asked; with --overwrite its stale epochs go.
    const std::string again =
        error_of([&] { pplm::train_discriminator(*model, s.train, s.test, {}, toy_meta(16), c); });
    BOOST_TEST(testing::contains(again, "--overwrite"), again);
    c.overwrite = true;
    c.epochs = 1;
    pplm::train_discriminator(*model, s.train, s.test, {}, toy_meta(16), c);
    BOOST_TEST(fs::exists(dir.path / "run" / "epoch_1"));
    BOOST_TEST(!fs::exists(dir.path / "run" / "epoch_2"));
    BOOST_TEST(!fs::exists(dir.path / "run" / "epoch_3"));
}

BOOST_AUTO_TEST_CASE(head_of_another_size_is_rejected,
                     *boost::unit_test::precondition(HasGpt2Vocab{})) {
    auto model = gpt::load_pretrained(tiny_dir().string());
    const ToySplit s = toy_split(5);
    const std::string e =
        error_of([&] { pplm::train_discriminator(*model, s.train, s.test, {}, toy_meta(8), {}); });
    BOOST_TEST(testing::contains(e, "n_embd 16"), e);
    // A saved head of embed_size 8 does not fit this model.
    TempDir dir;
    pplm::Discriminator d{toy_meta(8), std::make_shared<pplm::ClassifierHead>(2, 8)};
    pplm::save_discriminator(d, dir.path.string());
    const pplm::Discriminator loaded = pplm::load_discriminator(dir.path.string());
    const std::string e2 =
        error_of([&] { pplm::check_compatible(loaded, model->config(), dir.path.string()); });
    BOOST_TEST(testing::contains(e2, "n_embd is 16"), e2);
    // Labels beyond class_size, empty sets.
    std::vector<pplm::TokenizedExample> bad = s.train;
    bad[0].label = 2;
    BOOST_TEST(testing::contains(
        error_of([&] { pplm::train_discriminator(*model, bad, s.test, {}, toy_meta(16), {}); }),
        "class_size"));
    BOOST_TEST(testing::contains(
        error_of([&] { pplm::train_discriminator(*model, s.train, {}, {}, toy_meta(16), {}); }),
        "no test examples"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(train_discrim_cli)

namespace {

CliRun run_train_discrim(const std::string& args) {
    return run_cli("train-discrim --model " + tiny_dir().string() + " " + args);
}

// A folder of three fake fortunes topics and a TSV file.
struct CliData {
    TempDir dir;
    fs::path fortunes = dir.path / "fortunes", tsv = dir.path / "data.tsv", out = dir.path / "out";
    CliData() {
        fs::create_directories(fortunes);
        std::string cats, dogs, tsv_text;
        for (const auto& e : toy_texts(15, 3)) {
            (e.label == 0 ? cats : dogs) += e.text + "\n%\n";
            tsv_text += (e.label == 0 ? "cats\t" : "dogs\t") + e.text + "\n";
        }
        write_text(fortunes / "cats", cats);
        write_text(fortunes / "dogs", dogs);
        write_text(fortunes / "birds", "Tweet.\n");
        write_text(tsv, tsv_text);
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(bad_flags_fail_before_any_work,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    CliData d;
    const std::string tsv = "--format tsv --data " + d.tsv.string() + " --out " + d.out.string();
    const std::string fort =
        "--format fortunes --data " + d.fortunes.string() + " --out " + d.out.string();
    fs::create_directories(d.dir.path / "old" / "best");
    const std::vector<std::pair<std::string, std::string>> bad = {
        {tsv + " --epochs 0", "--epochs 0: must be >= 1"},
        {tsv + " --batch-size 0", "--batch-size 0: must be >= 1"},
        {tsv + " --lr 0", "--lr 0: must be a finite number > 0"},
        {tsv + " --lr=-1e-3", "--lr"},
        {tsv + " --lr nan", "--lr"},
        {tsv + " --max-length 1", "--max-length 1: must be in [2, 128]"},
        {tsv + " --max-length 129", "[2, 128]"},
        {tsv + " --classes cats,dogs", "only for --format fortunes"},
        {fort, "needs --classes with at least 2"},
        {fort + " --classes cats", "at least 2"},
        {fort + " --classes cats,cats", "listed twice"},
        {fort + " --classes cats,cows", "no topic file 'cows'"},
        {"--format tsv --data " + (d.dir.path / "nope.tsv").string() + " --out " + d.out.string(),
         "--data"},
        {"--format sst5 --data " + d.dir.path.string() + " --out " + d.out.string(), "train.txt"},
        {"--format tsv --data " + d.tsv.string() + " --out " + (d.dir.path / "old").string(),
         "--overwrite"},
        {"--format tsv --data " + d.tsv.string() + " --out " + d.tsv.string(), "not a folder"},
        {"--format csv --data " + d.tsv.string() + " --out " + d.out.string(), "--format"},
    };
    for (const auto& [args, want] : bad) {
        const CliRun r = run_train_discrim(args);
        BOOST_TEST(r.exit_code != 0, args);
        BOOST_TEST(testing::contains(r.err, want), args << " -> " << r.err);
    }
    const CliRun r = run_train_discrim(fort + " --classes cats,cows");
    BOOST_TEST(testing::contains(r.err, "birds, cats, dogs"), r.err);
    BOOST_TEST(!fs::exists(d.out / "best"));
    const CliRun m = run_cli("train-discrim --model " + d.dir.path.string() + " " + tsv);
    BOOST_TEST(testing::contains(m.err, "no config.json"), m.err);
}

BOOST_AUTO_TEST_CASE(trains_on_fortunes_topics,
                     *boost::unit_test::precondition(HasGradstackBinary{}) *
                         boost::unit_test::precondition(HasGpt2Vocab{})) {
    CliData d;
    const CliRun r = run_train_discrim("--tokenizer " + gpt2_vocab_dir().string() +
                                       " --format fortunes --data " + d.fortunes.string() +
                                       " --classes cats,dogs --out " + d.out.string() +
                                       " --cached --epochs 2 --lr 1e-2 --batch-size 8 --seed 1");
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(testing::contains(r.out, "class 0 cats: 15 examples"), r.out);
    BOOST_TEST(testing::contains(r.out, "epoch 2/2: train loss"), r.out);
    BOOST_TEST(testing::contains(r.out, "best epoch"), r.out);
    BOOST_TEST(testing::contains(r.err, "epoch 1/2 ["), r.err);  // the progress bar
    const pplm::Discriminator best = pplm::load_discriminator((d.out / "best").string());
    BOOST_TEST(best.meta.class_vocab.at("dogs") == 1);
    BOOST_TEST(best.meta.pretrained_model == tiny_dir().string());
    BOOST_TEST(fs::exists(d.out / "epoch_2" / "head.safetensors"));
    BOOST_TEST(fs::exists(d.out / "metrics.csv"));

    // The SST-5 sample (tests/data/pplm/sst5), uncached, with its dev set.
    const CliRun s = run_train_discrim("--tokenizer " + gpt2_vocab_dir().string() +
                                       " --format sst5 --data " + sst_sample_dir().string() +
                                       " --out " + (d.dir.path / "sst").string() + " --epochs 1");
    BOOST_REQUIRE_MESSAGE(s.exit_code == 0, s.err);
    BOOST_TEST(testing::contains(s.out, "5 training, 5 test, 3 dev examples, 5 classes"), s.out);
    BOOST_TEST(testing::contains(s.out, "dev loss"), s.out);
    const pplm::Discriminator sst =
        pplm::load_discriminator((d.dir.path / "sst" / "best").string());
    BOOST_TEST(sst.meta.class_vocab.at("very_positive") == 4);
    BOOST_TEST(sst.meta.default_class == 4);
}

BOOST_AUTO_TEST_SUITE_END()
