// libFuzzer target for config.json (gpt::parse_config): any bytes give a validated config or a
// gradstack::Error; values are checked for type, range and memory before anything is built.
#include "gpt/config.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gradstack;
    try {
        const gpt::GPT2Config c =
            gpt::parse_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz-input");
        // A config that passed validate() is one whose shapes can be listed and compared.
        if (c.n_layer <= 64) (void)c.parameter_shapes();
    } catch (const Error&) {
    }
    return 0;
}
