// libFuzzer target for .npy files (parse_npy): any bytes give a tensor whose every byte can be
// read, or a gradstack::Error (shape overflow, truncated data, bad header, bool bytes > 1).
#include "tensor/error.h"
#include "tensor/npy.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gradstack;
    try {
        const Tensor t =
            parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
        fuzz::touch(t.raw_data(), static_cast<size_t>(t.numel()) * itemsize(t.dtype()));
    } catch (const Error&) {
    }
    return 0;
}
