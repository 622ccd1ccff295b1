// Writes the seed corpus of fuzz_safetensors with our own writer: small valid files covering every
// dtype, 0-d and empty tensors, metadata and a misaligned layout. Usage: make_fuzz_corpus FOLDER
#include <fmt/format.h>

#include <filesystem>

#include "autograd/ops.h"
#include "nn/safetensors.h"

using namespace gradstack;

int main(int argc, char** argv) {
    if (argc != 2) {
        fmt::print(stderr, "usage: make_fuzz_corpus FOLDER\n");
        return 2;
    }
    std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    auto save = [&](const char* name, const NamedTensors& tensors,
                    const std::map<std::string, std::string>& metadata = {}) {
        save_safetensors((dir / name).string(), tensors, metadata);
    };
    try {
        save("f32.safetensors", {{"x", from_vector<float>({1, -2})}});
        save("all_dtypes.safetensors",
             {{"f64", from_vector<double>({0.5, 1e300, -3})},
              {"i64", from_vector<int64_t>({-1, 7}, {1, 2})},
              {"f32", reshape(arange(6, DType::f32), {2, 3})},
              {"b", from_vector<bool>({true, false, true})}},
             {{"format", "pt"}});
        save("scalar_and_empty.safetensors",
             {{"s", scalar_tensor(3, DType::f64)}, {"e", empty({0, 4})}, {"one", ones({1})}});
        save("misaligned.safetensors",
             {{"b", from_vector<bool>({true})}, {"d", ones({2}, DType::f64)}});
        save("empty.safetensors", {});
        save("metadata_only.safetensors", {}, {{"a", "1"}, {"b", "two"}});
    } catch (const Error& e) {
        fmt::print(stderr, "make_fuzz_corpus: {}\n", e.what());
        return 1;
    }
    return 0;
}
