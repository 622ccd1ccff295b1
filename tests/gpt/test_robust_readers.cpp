// The GPT-2 readers against damaged and hostile inputs (issue 18): config.json nested 100,000
// deep, a FIFO or /dev/zero where a file should be, a config that describes a model far larger
// than its weights (refused from the header, before building), NaN/Inf weights, a merges file cut
// at a line boundary, half a tokenizer in a folder, a token cache with a flipped bit.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "gpt/checkpoint.h"
#include "gpt/config.h"
#include "gpt/data.h"
#include "gpt/tokenizer/tokenizer.h"
#include "gpt/tokenizer/train.h"
#include "nn/safetensors.h"
#include "tensor/kernels/copy.h"
#include "tests/robust_inputs.h"
#include "tests/test_env.h"
#include "tests/test_util.h"

using namespace gradstack;
using gradstack::testing::contains;
using gradstack::testing::error_of;
using gradstack::testing::HangGuard;
using gradstack::testing::TempDir;
using gradstack::testing::write_text;
namespace fs = std::filesystem;

namespace {

fs::path tiny_dir() {
    return gradstack::testing::test_data("tiny_gpt2");
}

// A copy of tests/data/tiny_gpt2 (config.json + model.safetensors) in `dir`.
void copy_tiny(const fs::path& dir) {
    for (const char* f : {"config.json", "model.safetensors"})
        fs::copy_file(tiny_dir() / f, dir / f);
}

// tiny_gpt2's config.json with `key` set to the raw JSON text `value`.
std::string tiny_config_with(const std::string& key, const std::string& value) {
    std::ifstream in(tiny_dir() / "config.json");
    nlohmann::json j = nlohmann::json::parse(in);
    j.erase(key);
    std::string text = j.dump();
    return "{\"" + key + "\": " + value + ", " + text.substr(1);
}

// A vocabulary trained on repetitive text with the given special tokens (train-tokenizer's code).
gpt::BpeVocabulary trained_vocab(std::vector<std::string> specials) {
    gpt::BpeTrainer t({400, 2, std::move(specials)});
    std::mt19937 rng(7);
    const std::vector<std::string> words = {"the", "king", "queen", "of", "love", "night", "'tis"};
    std::string text;
    for (int i = 0; i < 2000; ++i) text += words[rng() % words.size()] + (i % 9 ? " " : "\n");
    t.add_text(text);
    return t.train();
}

// The first half of the merge lines (keeping the "#version" line): cut at a line boundary.
std::string first_half_of_merges(const std::string& merges) {
    size_t lines = 0, pos = 0;
    for (char c : merges) lines += c == '\n';
    for (size_t n = 0; n < lines / 2 + 1; ++n) pos = merges.find('\n', pos) + 1;
    return merges.substr(0, pos);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(robust_readers)

BOOST_AUTO_TEST_CASE(config_nested_100k_deep_is_an_error_not_a_crash) {
    TempDir dir;
    write_text(dir / "config.json", tiny_config_with("n_layer", testing::deep_json(100000)));
    const std::string e = error_of([&] { gpt::load_config((dir / "config.json").string()); });
    BOOST_TEST(contains(e, "config.json: JSON nested deeper than 64 levels"), e);
    // A value of the wrong type is quoted with a bound, and the key is named.
    write_text(dir / "config.json",
               tiny_config_with("n_layer", "[\"" + std::string(100000, 'x') + "\"]"));
    const std::string wide = error_of([&] { gpt::load_config((dir / "config.json").string()); });
    BOOST_TEST(contains(wide, "'n_layer' must be an integer, got [\"xxxx"), wide);
    BOOST_TEST(wide.size() < 400u);
    // A number too long for any type: the parser's own message is bounded too.
    write_text(dir / "config.json", tiny_config_with("n_layer", std::string(100000, '1')));
    const std::string big = error_of([&] { gpt::load_config((dir / "config.json").string()); });
    BOOST_TEST(contains(big, "number overflow"), big);
    BOOST_TEST(big.size() < 400u);
    write_text(dir / "config.json", tiny_config_with("activation_function", "7"));
    const std::string typed = error_of([&] { gpt::load_config((dir / "config.json").string()); });
    BOOST_TEST(contains(typed, "'activation_function' must be a string, got 7"), typed);
    BOOST_TEST(!contains(typed, "json.exception"), typed);
}

BOOST_AUTO_TEST_CASE(fifo_and_dev_zero_as_model_files_are_errors_not_hangs) {
    HangGuard guard;
    {
        TempDir dir;
        copy_tiny(dir.path);
        fs::remove(dir / "model.safetensors");
        testing::make_fifo(dir / "model.safetensors");
        const std::string e = error_of([&] { gpt::load_pretrained(dir.path.string()); });
        BOOST_TEST((contains(e, "model.safetensors") && contains(e, "FIFO")), e);
    }
    {
        TempDir dir;
        copy_tiny(dir.path);
        fs::remove(dir / "config.json");
        testing::make_fifo(dir / "config.json");
        const std::string e = error_of([&] { gpt::load_pretrained(dir.path.string()); });
        BOOST_TEST((contains(e, "config.json") && contains(e, "FIFO")), e);
    }
    const std::string e = error_of([] { gpt::load_config("/dev/zero"); });
    BOOST_TEST(contains(e, "/dev/zero: is a character device"), e);
    TempDir dir;
    write_text(dir / "big.json", std::string(gpt::kMaxConfigBytes + 1, ' '));
    BOOST_TEST(contains(error_of([&] { gpt::load_config((dir / "big.json").string()); }),
                        "bytes, more than the 1048576 bytes the model config"));
}

BOOST_AUTO_TEST_CASE(huge_config_fails_from_the_header_before_building) {
    HangGuard guard;  // building n_layer 1e9 would take minutes and far more memory than there is
    TempDir dir;
    copy_tiny(dir.path);
    write_text(dir / "config.json", tiny_config_with("n_layer", "1000000000"));
    std::string e = error_of([&] { gpt::load_pretrained(dir.path.string()); });
    BOOST_TEST((contains(e, "config.json: n_layer 1000000000") && contains(e, "memory")), e);
    // Small enough to fit in memory, but not what the weights hold: the header says so.
    write_text(dir / "config.json", tiny_config_with("n_layer", "1000000"));
    e = error_of([&] { gpt::load_pretrained(dir.path.string()); });
    BOOST_TEST(contains(e, "n_layer is 1000000 but"), e);
    BOOST_TEST(contains(e, "holds 2 layers"), e);
    write_text(dir / "config.json", tiny_config_with("n_positions", "130000000"));
    e = error_of([&] { gpt::load_pretrained(dir.path.string()); });
    BOOST_TEST((contains(e, "transformer.wpe.weight expected (130000000, 16), file has (128, 16)")),
               e);
}

BOOST_AUTO_TEST_CASE(parameter_shapes_are_the_models) {
    // check_header_matches compares with GPT2Config::parameter_shapes: it must list exactly what
    // the model registers, or a correct file would be refused.
    gpt::GPT2Config c = gpt::load_config((tiny_dir() / "config.json").string());
    c.vocab_size = 50;  // small to build
    c.n_inner = 24;
    const gpt::GPT2LMHeadModel model(c);
    std::map<std::string, Shape> registered;
    for (const auto& [name, t] : model.state_dict()) registered[name] = t.shape();
    BOOST_TEST((registered == c.parameter_shapes()));
    double count = 0;
    for (const auto& [name, shape] : registered) count += static_cast<double>(numel(shape));
    BOOST_TEST(c.parameter_count() == count);
}

BOOST_AUTO_TEST_CASE(non_finite_weights_are_an_error_naming_the_tensor) {
    for (const float bad : {std::nanf(""), INFINITY, -INFINITY}) {
        TempDir dir;
        copy_tiny(dir.path);
        NamedTensors tensors =
            load_safetensors((tiny_dir() / "model.safetensors").string()).tensors();
        for (auto& [name, t] : tensors) {
            if (name.find("h.1.mlp.c_fc.weight") != std::string::npos) {
                t = kernels::clone(t);
                t.data<float>()[5] = bad;
            }
        }
        save_safetensors((dir / "model.safetensors").string(), tensors, {{"format", "pt"}});
        const std::string e = error_of([&] { gpt::load_pretrained(dir.path.string()); });
        BOOST_TEST(
            contains(e, "tensor 'transformer.h.1.mlp.c_fc.weight' (16, 64) holds 1 non-finite"), e);
        BOOST_TEST(contains(e, "element 5"), e);
        BOOST_TEST(contains(e, "--allow-nonfinite"), e);
        // load_weights into a built model checks the same, and the option lets it through.
        auto model = gpt::load_pretrained(tiny_dir().string());
        BOOST_TEST(contains(
            error_of([&] { gpt::load_weights(*model, (dir / "model.safetensors").string()); }),
            "non-finite"));
        auto loaded = gpt::load_pretrained(dir.path.string(), {.allow_nonfinite = true});
        const Tensor w = (*loaded->transformer->h)[1].mlp->c_fc->weight;
        BOOST_TEST(!std::isfinite(w.data<float>()[5]));
    }
}

BOOST_AUTO_TEST_CASE(merges_cut_at_a_line_boundary_are_detected) {
    const gpt::BpeVocabulary v = trained_vocab({"<|endoftext|>"});
    BOOST_TEST(gpt::Tokenizer::from_strings(v.vocab_json(), v.merges_txt()).merge_count() ==
               v.merges.size());
    const std::string e = error_of([&] {
        gpt::Tokenizer::from_strings(v.vocab_json(), first_half_of_merges(v.merges_txt()), "V.json",
                                     "M.txt");
    });
    BOOST_TEST((contains(e, "M.txt: ") && contains(e, "neither a byte, nor made by a merge") &&
                contains(e, "cut short")),
               e);
    // One line less is detected too: its token can no longer be made.
    std::string minus_one = v.merges_txt();
    minus_one.resize(minus_one.rfind('\n', minus_one.size() - 2) + 1);
    BOOST_TEST(contains(error_of([&] { gpt::Tokenizer::from_strings(v.vocab_json(), minus_one); }),
                        "1 token(s) of vocab.json"));
    // Lines out of order: a merge of a token no earlier merge made.
    const size_t second = v.merges_txt().find('\n', v.merges_txt().find('\n') + 1) + 1;
    const std::string reversed = "#version: 0.2\n" + v.merges[v.merges.size() - 1].first + " " +
                                 v.merges[v.merges.size() - 1].second + "\n" +
                                 v.merges_txt().substr(second);
    BOOST_TEST(contains(error_of([&] { gpt::Tokenizer::from_strings(v.vocab_json(), reversed); }),
                        "earlier merge"));
    // A merge given twice.
    BOOST_TEST(contains(error_of([&] {
                            gpt::Tokenizer::from_strings(v.vocab_json(),
                                                         v.merges_txt() + v.merges[0].first + " " +
                                                             v.merges[0].second + "\n");
                        }),
                        "given twice"));
}

BOOST_AUTO_TEST_CASE(an_id_far_past_the_vocabulary_is_refused_before_allocating) {
    // Found by fuzz_tokenizer_files: a tiny vocabulary with id 93,555,156 allocated 3 GB (and
    // 2^31 - 1 would have asked for 64 GB) before any check.
    const gpt::BpeVocabulary v = trained_vocab({"<|endoftext|>"});
    nlohmann::json vocab = nlohmann::json::parse(v.vocab_json());
    vocab["far away"] = (int64_t{1} << 31) - 2;
    const std::string e = error_of(
        [&] { gpt::Tokenizer::from_strings(vocab.dump(), v.merges_txt(), "V.json", "M.txt"); });
    BOOST_TEST((contains(e, "V.json: token \"far away\" has id 2147483646") &&
                contains(e, "not that far")),
               e);
}

BOOST_AUTO_TEST_CASE(trained_tokenizers_with_any_special_tokens_still_load) {
    // train-tokenizer puts --special tokens before the byte tokens: they need no merge, whatever
    // they look like.
    const gpt::BpeVocabulary v = trained_vocab({"<|endoftext|>", "hello", "[PAD]"});
    const gpt::Tokenizer t = gpt::Tokenizer::from_strings(v.vocab_json(), v.merges_txt());
    BOOST_TEST(t.merge_count() == v.merges.size());
}

BOOST_AUTO_TEST_CASE(gpt2_vocab_bpe_cut_in_half_is_detected) {
    const fs::path dir = fs::path(gradstack::testing::source_dir()) / "data" / "gpt2-tokenizer";
    if (!fs::exists(dir / "vocab.bpe")) {
        BOOST_TEST_MESSAGE("no data/gpt2-tokenizer (scripts/setup.sh installs it); skipped");
        return;
    }
    std::ifstream in(dir / "vocab.bpe", std::ios::binary);
    const std::string merges((std::istreambuf_iterator<char>(in)), {});
    std::ifstream vin(dir / "encoder.json", std::ios::binary);
    const std::string vocab((std::istreambuf_iterator<char>(vin)), {});
    const std::string e = error_of([&] {
        gpt::Tokenizer::from_strings(vocab, first_half_of_merges(merges), "encoder.json",
                                     "vocab.bpe");
    });
    BOOST_TEST((contains(e, "vocab.bpe: 25000 token(s) of encoder.json") &&
                contains(e,
                         "25000 merges, 256 bytes and 1 special token(s) do not make its "
                         "50257 tokens")),
               e);
}

BOOST_AUTO_TEST_CASE(half_a_tokenizer_in_a_folder_is_an_error_naming_the_missing_file) {
    const gpt::BpeVocabulary v = trained_vocab({"<|endoftext|>"});
    for (const auto& [present, missing] :
         {std::pair{"merges.txt", "vocab.json"}, std::pair{"vocab.json", "merges.txt"},
          std::pair{"encoder.json", "vocab.bpe"}, std::pair{"vocab.bpe", "encoder.json"}}) {
        TempDir dir;
        const std::string p = present;
        write_text(dir / p, p.find("json") != std::string::npos ? v.vocab_json() : v.merges_txt());
        BOOST_TEST(gpt::holds_tokenizer_files(dir.path));
        const std::string e = error_of([&] { gpt::Tokenizer::from_directory(dir.path); });
        BOOST_TEST((contains(e, missing) && contains(e, "missing")), e);
    }
    TempDir empty;
    BOOST_TEST(!gpt::holds_tokenizer_files(empty.path));
    // A FIFO as vocab.json is refused without blocking.
    HangGuard guard;
    TempDir dir;
    testing::make_fifo(dir / "vocab.json");
    write_text(dir / "merges.txt", v.merges_txt());
    BOOST_TEST(contains(error_of([&] { gpt::Tokenizer::from_directory(dir.path); }), "FIFO"));
    // A vocabulary nested 100,000 deep is refused before parsing.
    BOOST_TEST(contains(error_of([&] {
                            gpt::Tokenizer::from_strings(testing::deep_json(100000), v.merges_txt(),
                                                         "V.json");
                        }),
                        "V.json: JSON nested deeper"));
}

BOOST_AUTO_TEST_CASE(a_token_cache_with_a_flipped_bit_is_rebuilt) {
    const gpt::BpeVocabulary v = trained_vocab({"<|endoftext|>"});
    const gpt::Tokenizer tok = gpt::Tokenizer::from_strings(v.vocab_json(), v.merges_txt());
    TempDir dir;
    write_text(dir / "a.txt", "the king of love, the queen of night\n");
    const std::vector<fs::path> files = {dir / "a.txt"};
    const gpt::TokenFile first = gpt::TokenFile::open(files, tok, dir / "cache");
    std::vector<int64_t> ids(static_cast<size_t>(first.size()));
    first.copy(0, first.size(), ids.data());
    BOOST_TEST(first.header().checksum != 0u);
    BOOST_TEST((gpt::TokenFile::open(files, tok, dir / "cache").origin() ==
                gpt::TokenFile::Origin::cache_hit));
    {
        // Flip one bit of the third id, in place (same size, same file).
        std::fstream f(first.path(), std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(64 + 4);
        char c = 0;
        f.read(&c, 1);
        c ^= 0x04;
        f.seekp(64 + 4);
        f.write(&c, 1);
    }
    const gpt::TokenFile again = gpt::TokenFile::open(files, tok, dir / "cache");
    BOOST_TEST((again.origin() == gpt::TokenFile::Origin::tokenized));
    BOOST_TEST(contains(again.rebuild_reason(), "checksum"), again.rebuild_reason());
    std::vector<int64_t> back(static_cast<size_t>(again.size()));
    again.copy(0, again.size(), back.data());
    BOOST_TEST(back == ids);
    BOOST_TEST((gpt::TokenFile::open(files, tok, dir / "cache").origin() ==
                gpt::TokenFile::Origin::cache_hit));
}

BOOST_AUTO_TEST_SUITE_END()
