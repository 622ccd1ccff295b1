// libFuzzer target for the safetensors reader: any bytes must either parse into tensors whose every
// byte can be read, or throw gradstack::Error. Anything else (a crash, an AddressSanitizer report,
// another exception type) is a bug. Built with -DGRADSTACK_FUZZ=ON; run by
// scripts/fuzz_safetensors.sh.
#include <cstddef>
#include <cstdint>

#include "nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gradstack;
    try {
        SafetensorsFile file = parse_safetensors({data, size}, "fuzz-input");
        for (const std::string& key : file.keys()) {
            Tensor t = file.get(key);
            // Read every byte so that AddressSanitizer sees a tensor that points outside the input.
            const auto* p = static_cast<const uint8_t*>(t.raw_data());
            size_t nbytes = static_cast<size_t>(t.numel()) * itemsize(t.dtype());
            volatile uint8_t sink = 0;
            for (size_t i = 0; i < nbytes; ++i) sink = sink ^ p[i];
        }
        std::map<std::string, Shape> expected;
        if (!file.keys().empty()) expected[file.keys().front()] = {1};
        compare_keys(expected, file);
    } catch (const Error&) {
        // Malformed input, rejected with a message: the expected outcome for most inputs.
    }
    return 0;
}
