// libFuzzer target for the JSON inputs of the CLIs: parse_json with its depth bound
// (tensor/json.h), the bounded excerpt every message quotes values with, json_get's typed reads,
// and the `gradstack tokenize --decode` use of a line: a JSON array of ids decoded by a tokenizer
// (the same steps as apps/tokenize.cpp's decode_line, which lives in the CLI and cannot be linked).
#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gradstack;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::string quoted = excerpt(text);
    fuzz::touch(quoted.data(), quoted.size());
    try {
        const nlohmann::json j = parse_json(text, "stdin", 64);
        const std::string shown = json_excerpt(j, 40);
        fuzz::touch(shown.data(), shown.size());
        if (j.is_object()) {
            try {
                (void)json_get<int64_t>(j, "n_layer", "fuzz", "an integer");
                (void)json_get<std::string>(j, "dtype", "fuzz", "a string");
            } catch (const Error&) {
            }
        }
        if (j.is_array()) {
            std::vector<int64_t> ids;
            for (const auto& id : j) {
                check(id.is_number_integer(), "id {} is not an integer", json_excerpt(id));
                ids.push_back(id.get<int64_t>());
            }
            const std::string out =
                nlohmann::json(fuzz::tiny_tokenizer().decode_text(ids))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
            fuzz::touch(out.data(), out.size());
        }
    } catch (const Error&) {
    }
    return 0;
}
