// The training data pipeline (gpt/data.h): listing files, UTF-8 errors, chunked encoding equal to
// whole encoding, the token cache (miss, hit, re-made on a changed file, tokenizer or damaged
// cache), 2- and 4-byte ids, the split, and the window sampler (shapes, shift, seeds, errors).
#include <boost/test/unit_test.hpp>
#include <random>
#include <thread>

#include "gpt/data.h"
#include "gpt/tokenizer/train.h"
#include "tensor/error.h"
#include "tests/gpt/tokenizer_helpers.h"
#include "tests/test_util.h"

using gradstack::testing::contains;
using gradstack::testing::error_of;

using namespace gradstack;
using namespace gradstack::test;
using Ids = std::vector<int64_t>;

namespace {

// Text with many lines, repeated words and some non-ASCII, for a trained tokenizer to chew on.
std::string sample_text(int lines, unsigned seed) {
    const std::vector<std::string> words = {"the",  "king",        "queen",        "of",
                                            "love", "Caf\xC3\xA9", "'tis",         "12",
                                            "!",    "  ",          "\xE2\x80\x94", "night"};
    std::mt19937 rng(seed);
    std::string text;
    for (int l = 0; l < lines; ++l) {
        const int n = 1 + static_cast<int>(rng() % 8);
        for (int i = 0; i < n; ++i) text += (i ? " " : "") + words[rng() % words.size()];
        text += rng() % 5 ? "\n" : "\n\n";
    }
    return text;
}

// A tokenizer trained on sample_text, with <|endoftext|> (id 0).
gpt::Tokenizer trained_tokenizer(int64_t vocab_size = 320) {
    gpt::BpeTrainer t({vocab_size, 2, {"<|endoftext|>"}});
    t.add_text(sample_text(300, 1));
    const gpt::BpeVocabulary v = t.train();
    return gpt::Tokenizer::from_strings(v.vocab_json(), v.merges_txt());
}

Ids all_ids(const gpt::TokenFile& f) {
    Ids out(static_cast<std::size_t>(f.size()));
    f.copy(0, f.size(), out.data());
    return out;
}

// The ids TokenFile::open should hold: each file encoded whole, then <|endoftext|>.
Ids expected_ids(const gpt::Tokenizer& tok, const std::vector<std::string>& texts) {
    Ids out;
    for (const auto& t : texts) {
        const Ids ids = tok.encode(t);
        out.insert(out.end(), ids.begin(), ids.end());
        if (tok.eot_id() >= 0) out.push_back(tok.eot_id());
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(data)

BOOST_AUTO_TEST_CASE(lists_files_and_folders) {
    TempDir dir;
    fs::create_directories(dir.path / "corpus" / "sub");
    for (const char* name : {"b.txt", "a.txt", "c", ".hidden"})
        write_text(dir.path / "corpus" / name, "x");
    write_text(dir.path / "corpus" / "sub" / "deep.txt", "x");
    write_text(dir.path / "single.txt", "x");
    const auto files =
        gpt::list_data_files({(dir.path / "single.txt").string(), (dir.path / "corpus").string()});
    const std::vector<fs::path> expected = {dir.path / "single.txt", dir.path / "corpus" / "a.txt",
                                            dir.path / "corpus" / "b.txt",
                                            dir.path / "corpus" / "c"};
    BOOST_TEST(files == expected, boost::test_tools::per_element());
    BOOST_TEST(contains(error_of([&] { gpt::list_data_files({(dir.path / "nope").string()}); }),
                        "nope: no such file or folder"));
    fs::create_directories(dir.path / "empty");
    BOOST_TEST(contains(error_of([&] { gpt::list_data_files({(dir.path / "empty").string()}); }),
                        "holds no files"));
    BOOST_TEST(contains(error_of([] { gpt::list_data_files({}); }), "no --data"));
}

BOOST_AUTO_TEST_CASE(chunked_encoding_equals_whole) {
    const gpt::Tokenizer tok = trained_tokenizer();
    const std::string text = sample_text(400, 2) + "end without newline";
    const Ids whole = tok.encode(text);
    for (const std::size_t chunk : {1, 7, 64, 1000, 1 << 20}) {
        std::vector<uint16_t> ids;
        gpt::encode_chunked(tok, text, ids, chunk);
        BOOST_TEST(Ids(ids.begin(), ids.end()) == whole, "chunk " << chunk);
    }
}

BOOST_AUTO_TEST_CASE(cache_miss_then_hit_then_invalidated) {
    const gpt::Tokenizer tok = trained_tokenizer();
    TempDir dir;
    const std::string t1 = sample_text(50, 3), t2 = sample_text(20, 4);
    write_text(dir.path / "a.txt", t1);
    write_text(dir.path / "b.txt", t2);
    const std::vector<fs::path> files = {dir.path / "a.txt", dir.path / "b.txt"};
    const fs::path cache = dir.path / "cache";

    const gpt::TokenFile first = gpt::TokenFile::open(files, tok, cache);
    BOOST_TEST((first.origin() == gpt::TokenFile::Origin::tokenized));
    BOOST_TEST(all_ids(first) == expected_ids(tok, {t1, t2}));
    BOOST_TEST(first.header().bytes_per_token == 2u);
    BOOST_TEST(first.header().text_bytes == t1.size() + t2.size());
    BOOST_TEST(first.header().vocab_size == static_cast<uint64_t>(tok.vocab_size()));
    BOOST_TEST(fs::file_size(first.path()) == 64 + 2 * first.header().count);
    BOOST_TEST(first.path().parent_path() == cache);

    const gpt::TokenFile second = gpt::TokenFile::open(files, tok, cache);
    BOOST_TEST((second.origin() == gpt::TokenFile::Origin::cache_hit));
    BOOST_TEST(second.path() == first.path());
    BOOST_TEST(all_ids(second) == all_ids(first));

    // Another file order is another corpus.
    const gpt::TokenFile swapped = gpt::TokenFile::open({files[1], files[0]}, tok, cache);
    BOOST_TEST((swapped.origin() == gpt::TokenFile::Origin::tokenized));
    BOOST_TEST(all_ids(swapped) == expected_ids(tok, {t2, t1}));

    // An edited file (same size, new mtime) is tokenized again.
    std::string edited = t2;
    edited[0] = edited[0] == 'x' ? 'y' : 'x';
    fs::last_write_time(files[1], fs::last_write_time(files[1]) + std::chrono::seconds(5));
    write_text(files[1], edited);
    fs::last_write_time(files[1], fs::last_write_time(files[1]) + std::chrono::seconds(5));
    const gpt::TokenFile third = gpt::TokenFile::open(files, tok, cache);
    BOOST_TEST((third.origin() == gpt::TokenFile::Origin::tokenized));
    BOOST_TEST(all_ids(third) == expected_ids(tok, {t1, edited}));

    // Another tokenizer: another key.
    const gpt::Tokenizer other = trained_tokenizer(300);
    BOOST_TEST(other.fingerprint() != tok.fingerprint());
    const gpt::TokenFile fourth = gpt::TokenFile::open(files, other, cache);
    BOOST_TEST((fourth.origin() == gpt::TokenFile::Origin::tokenized));
    BOOST_TEST(fourth.path() != third.path());
    BOOST_TEST(all_ids(fourth) == expected_ids(other, {t1, edited}));

    // A damaged cache file (cut short) is made again, not an error.
    const fs::path path = third.path();
    fs::resize_file(path, fs::file_size(path) - 3);
    BOOST_TEST(contains(error_of([&] { gpt::TokenFile::map(path); }), "cut short"));
    const gpt::TokenFile fifth = gpt::TokenFile::open(files, tok, cache);
    BOOST_TEST((fifth.origin() == gpt::TokenFile::Origin::tokenized));
    BOOST_TEST(all_ids(fifth) == all_ids(third));
    write_text(path, "not a token file at all, but long enough to hold a header......");
    BOOST_TEST(
        contains(error_of([&] { gpt::TokenFile::map(path); }), "not a gradstack token file"));
    BOOST_TEST(
        (gpt::TokenFile::open(files, tok, cache).origin() == gpt::TokenFile::Origin::tokenized));
}

BOOST_AUTO_TEST_CASE(four_byte_ids_for_large_vocabularies) {
    // The tiny vocabulary with one more token at id 70000 (ids may skip): vocab_size 70001.
    nlohmann::json vocab = tiny_vocab();
    vocab["zz"] = 70000;
    const gpt::Tokenizer tok = gpt::Tokenizer::from_strings(vocab.dump(), tiny_merges() + "z z\n");
    TempDir dir;
    write_text(dir.path / "a.txt", "zzz hehe");
    const gpt::TokenFile f = gpt::TokenFile::open({dir.path / "a.txt"}, tok, dir.path);
    BOOST_TEST(f.header().bytes_per_token == 4u);
    BOOST_TEST(all_ids(f) == (Ids{70000, 122, 258, 257, 259}));
    BOOST_TEST(f[0] == 70000);
}

BOOST_AUTO_TEST_CASE(bad_corpora) {
    const gpt::Tokenizer tok = trained_tokenizer();
    TempDir dir;
    write_text(dir.path / "good.txt", "fine text\n");
    write_text(dir.path / "bad.txt", "line one\nline \xC3\x28two\n");
    std::string e = error_of([&] {
        gpt::TokenFile::open({dir.path / "good.txt", dir.path / "bad.txt"}, tok, dir.path / "c");
    });
    BOOST_TEST(contains(e, "bad.txt: not valid UTF-8 at byte 14 (0xC3)"), e);
    write_text(dir.path / "empty1.txt", "");
    write_text(dir.path / "empty2.txt", "");
    e = error_of([&] {
        gpt::TokenFile::open({dir.path / "empty1.txt", dir.path / "empty2.txt"}, tok,
                             dir.path / "c");
    });
    BOOST_TEST(contains(e, "holds no text: 2 file(s), all empty"), e);
    BOOST_TEST((!fs::exists(dir.path / "c") || fs::is_empty(dir.path / "c")));
}

BOOST_AUTO_TEST_CASE(split_is_the_last_fraction) {
    auto s = gpt::split_tokens(100, 0.1);
    BOOST_TEST(s.train.begin == 0);
    BOOST_TEST(s.train.end == 90);
    BOOST_TEST(s.val.begin == 90);
    BOOST_TEST(s.val.end == 100);
    s = gpt::split_tokens(1005, 0.1);  // rounded down: 100 for validation
    BOOST_TEST(s.val.size() == 100);
    BOOST_TEST(s.train.size() == 905);
    s = gpt::split_tokens(50, 0);
    BOOST_TEST(s.train.size() == 50);
    BOOST_TEST(s.val.size() == 0);
    BOOST_TEST(contains(error_of([] { gpt::split_tokens(10, 1.0); }), "[0, 1), got 1"));
    BOOST_TEST(contains(error_of([] { gpt::split_tokens(10, -0.5); }), "got -0.5"));
}

BOOST_AUTO_TEST_CASE(sampler_windows_seeds_and_errors) {
    const gpt::Tokenizer tok = trained_tokenizer();
    TempDir dir;
    write_text(dir.path / "a.txt", sample_text(200, 5));
    const gpt::TokenFile f = gpt::TokenFile::open({dir.path / "a.txt"}, tok, dir.path);
    const Ids ids = all_ids(f);
    const auto split = gpt::split_tokens(f.size(), 0.2);
    const int64_t B = 4, T = 16;

    gpt::BatchSampler a(f, split.val, B, T, 42, "validation"), b(f, split.val, B, T, 42);
    gpt::BatchSampler c(f, split.val, B, T, 43);
    bool differs = false;
    for (int step = 0; step < 20; ++step) {
        const gpt::Batch x = a.next(), y = b.next(), z = c.next();
        BOOST_TEST_REQUIRE((x.inputs.shape() == Shape{B, T}));
        BOOST_TEST_REQUIRE((x.targets.shape() == Shape{B, T}));
        BOOST_TEST((x.inputs.dtype() == DType::i64));
        const int64_t* xi = x.inputs.data<int64_t>();
        const int64_t* xt = x.targets.data<int64_t>();
        const int64_t* yi = y.inputs.data<int64_t>();
        const int64_t* zi = z.inputs.data<int64_t>();
        BOOST_TEST(Ids(xi, xi + B * T) == Ids(yi, yi + B * T));  // same seed, same batches
        differs = differs || Ids(xi, xi + B * T) != Ids(zi, zi + B * T);
        for (int64_t r = 0; r < B; ++r) {
            // Targets are the inputs one later; the window lies inside the validation range.
            for (int64_t t = 0; t + 1 < T; ++t) BOOST_TEST(xt[r * T + t] == xi[r * T + t + 1]);
            bool found = false;
            for (int64_t s = split.val.begin; s + T + 1 <= split.val.end && !found; ++s) {
                found = std::equal(xi + r * T, xi + r * T + T, ids.begin() + s) &&
                        xt[r * T + T - 1] == ids[static_cast<std::size_t>(s + T)];
            }
            BOOST_TEST(found);
        }
    }
    BOOST_TEST(differs);
    // The generator's counter is the state: a sampler set to it continues the sequence.
    gpt::BatchSampler resumed(f, split.val, B, T, 42);
    resumed.generator().set_counter(a.generator().counter());
    const gpt::Batch after_a = a.next(), after_resumed = resumed.next();
    const int64_t* p = after_a.inputs.data<int64_t>();
    const int64_t* q = after_resumed.inputs.data<int64_t>();
    BOOST_TEST(Ids(p, p + B * T) == Ids(q, q + B * T));

    // A window must fit: context + 1 tokens.
    const gpt::TokenRange small{0, 10};
    const std::string e = error_of([&] { gpt::BatchSampler(f, small, 2, 10, 0, "validation"); });
    BOOST_TEST(contains(e, "the validation split has 10 tokens, fewer than context + 1 = 11"), e);
    BOOST_TEST(error_of([&] { gpt::BatchSampler(f, {0, 11}, 2, 10, 0); }).empty());
    BOOST_TEST(contains(error_of([&] {
                            gpt::BatchSampler(f, {0, f.size() + 1}, 2, 4, 0);
                        }),
                        "outside"));
    BOOST_TEST(
        contains(error_of([&] { gpt::BatchSampler(f, split.train, 0, 4, 0); }), "must be >= 1"));
    // A one-window range always gives that window.
    gpt::BatchSampler one(f, {5, 16}, 3, 10, 7);
    const gpt::Batch w = one.next();
    for (int64_t r = 0; r < 3; ++r) BOOST_TEST(w.inputs.data<int64_t>()[r * 10] == ids[5]);
}

BOOST_AUTO_TEST_SUITE_END()
