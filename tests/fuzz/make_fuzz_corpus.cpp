// Writes the seed corpus of every libFuzzer target with our own writers: small valid files of
// each format (safetensors of every dtype, .npy of every dtype, config.json, tokenizer files, a
// token cache, JSON lines of the CLIs), one folder per target. Usage: make_fuzz_corpus FOLDER
// (writes FOLDER/fuzz_safetensors/, FOLDER/fuzz_npy/, ...).
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "gpt/config.h"
#include "gpt/data.h"
#include "gpt/tokenizer/train.h"
#include "nn/safetensors.h"
#include "tensor/npy.h"
#include "tests/fuzz/fuzz_util.h"

using namespace gradstack;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
}

std::string read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void safetensors_seeds(const fs::path& dir) {
    fs::create_directories(dir);
    auto save = [&](const char* name, const NamedTensors& tensors,
                    const std::map<std::string, std::string>& metadata = {}) {
        save_safetensors((dir / name).string(), tensors, metadata);
    };
    save("f32.safetensors", {{"x", from_vector<float>({1, -2})}});
    save("all_dtypes.safetensors",
         {{"f64", from_vector<double>({0.5, 1e300, -3})},
          {"i64", from_vector<int64_t>({-1, 7}, {1, 2})},
          {"f32", from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3})},
          {"b", from_vector<bool>({true, false, true})}},
         {{"format", "pt"}});
    save("scalar_and_empty.safetensors",
         {{"s", scalar_tensor(3, DType::f64)}, {"e", empty({0, 4})}, {"one", ones({1})}});
    save("misaligned.safetensors",
         {{"b", from_vector<bool>({true})}, {"d", ones({2}, DType::f64)}});
    save("empty.safetensors", {});
    save("metadata_only.safetensors", {}, {{"a", "1"}, {"b", "two"}});
}

void npy_seeds(const fs::path& dir) {
    const std::vector<Tensor> ts = {from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3}),
                                    from_vector<double>({0.5, -1e300}),
                                    from_vector<int64_t>({-5, 7}),
                                    from_vector<bool>({true, false, true}),
                                    scalar_tensor(3.5),
                                    zeros({0, 4})};
    for (size_t i = 0; i < ts.size(); ++i) write(dir / fmt::format("t{}.npy", i), npy_bytes(ts[i]));
    // Headers our writer never makes: Fortran order, float16, int32, format 2.0.
    auto raw = [](int major, const std::string& dict, const std::string& data) {
        std::string header = dict + std::string((64 - (dict.size() + 11) % 64) % 64, ' ') + "\n";
        std::string out = "\x93NUMPY";
        out += static_cast<char>(major);
        out += '\0';
        out += static_cast<char>(header.size() & 0xff);
        out += static_cast<char>(header.size() >> 8);
        if (major == 2) out += std::string(2, '\0');
        return out + header + data;
    };
    write(dir / "fortran.npy", raw(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                                   std::string(16, '\1')));
    write(dir / "half.npy", raw(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }",
                                "\0\x3c\0\x7c\x01\0"));
    write(dir / "int32.npy", raw(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 1), }",
                                 "\xff\xff\xff\xff"));
}

void config_seeds(const fs::path& dir, const fs::path& source) {
    write(dir / "default.json", gpt::config_json(gpt::GPT2Config{}));
    gpt::GPT2Config small;
    small.vocab_size = 300;
    small.n_layer = 2;
    small.n_embd = 16;
    small.n_head = 4;
    small.n_positions = 32;
    small.n_inner = 24;
    write(dir / "small.json", gpt::config_json(small));
    const fs::path tiny = source / "tests" / "data" / "tiny_gpt2" / "config.json";
    if (fs::exists(tiny)) write(dir / "tiny_gpt2.json", read(tiny));
}

// A small trained vocabulary (train-tokenizer's code) with --special tokens first.
gpt::BpeVocabulary trained_vocab() {
    gpt::BpeTrainer t({300, 2, {"<|endoftext|>", "[PAD]"}});
    std::string text;
    for (int i = 0; i < 200; ++i) text += i % 3 ? "the king of love " : "queen of the night\n";
    t.add_text(text);
    return t.train();
}

void tokenizer_seeds(const fs::path& files_dir, const fs::path& openai_dir) {
    const auto [vocab, merges] = fuzz::tiny_tokenizer_files();
    write(files_dir / "tiny", vocab + std::string(1, '\0') + merges);
    write(files_dir / "merges_only", merges);
    const gpt::BpeVocabulary v = trained_vocab();
    write(files_dir / "trained", v.vocab_json() + std::string(1, '\0') + v.merges_txt());
    write(openai_dir / "tiny.bpe", merges);
    write(openai_dir / "crlf.bpe", "#version: 0.2\r\na a\r\nh e\r\n");
    write(openai_dir / "text", "hehe aaa caf\xC3\xA9 <|endoftext|> 'tis \xE2\x80\x94 12\n\n");
}

void token_cache_seeds(const fs::path& dir) {
    const fs::path work = fs::temp_directory_path() / fmt::format("gradstack-seeds-{}", getpid());
    fs::create_directories(work);
    write(work / "a.txt", "hehe aaa he said\nthe end\n");
    const gpt::TokenFile narrow =
        gpt::TokenFile::open({work / "a.txt"}, fuzz::tiny_tokenizer(), work / "cache2");
    write(dir / "two_byte_ids.bin", read(narrow.path()));
    // A vocabulary past 65536 ids gives 4-byte ids.
    auto [vocab, merges] = fuzz::tiny_tokenizer_files();
    nlohmann::json v = nlohmann::json::parse(vocab);
    v["zz"] = 70000;
    const gpt::Tokenizer wide = gpt::Tokenizer::from_strings(v.dump(), merges + "z z\n");
    write(work / "b.txt", "zzz hehe");
    const gpt::TokenFile four = gpt::TokenFile::open({work / "b.txt"}, wide, work / "cache4");
    write(dir / "four_byte_ids.bin", read(four.path()));
    fs::remove_all(work);
}

void json_seeds(const fs::path& dir) {
    write(dir / "ids", "[256, 257, 258, 259, 32, 97]");
    write(dir / "empty_ids", "[]");
    write(dir / "object", R"({"n_layer": 2, "dtype": "F32", "shape": [1, 2], "x": null})");
    write(dir / "string", R"("caf\u00e9 \ud83d\ude00")");
    write(dir / "nested", "[[[[[[[[1]]]]]]]]");
    write(dir / "numbers", "[1e400, -0, 18446744073709551615, 9223372036854775808, 1.5]");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        fmt::print(stderr, "usage: make_fuzz_corpus FOLDER\n");
        return 2;
    }
    const fs::path dir = argv[1];
    const fs::path source = fs::path(argv[0]).parent_path() / ".." / "..";
    try {
        safetensors_seeds(dir / "fuzz_safetensors");
        npy_seeds(dir / "fuzz_npy");
        config_seeds(dir / "fuzz_config", source);
        tokenizer_seeds(dir / "fuzz_tokenizer_files", dir / "fuzz_openai_tokenizer");
        token_cache_seeds(dir / "fuzz_token_cache");
        json_seeds(dir / "fuzz_json_input");
    } catch (const Error& e) {
        fmt::print(stderr, "make_fuzz_corpus: {}\n", e.what());
        return 1;
    }
    return 0;
}
