// libFuzzer target for the token cache (gpt::TokenFile::map): the input is written to a file in
// /dev/shm (or the temp folder) and mapped; a file that maps must let every id be read, and its
// checksum computed. Anything else is a gradstack::Error (bad magic, version, width, count).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gpt/data.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gradstack;
    namespace fs = std::filesystem;
    static const fs::path path = [] {
        const fs::path dir =
            fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
        return dir / ("gradstack-fuzz-tokens-" + std::to_string(::getpid()) + ".bin");
    }();
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        const gpt::TokenFile t = gpt::TokenFile::map(path);
        int64_t sum = 0;
        for (int64_t i = 0; i < t.size(); ++i) sum += t[i];
        std::vector<int64_t> ids(static_cast<size_t>(std::min<int64_t>(t.size(), 64)));
        t.copy(0, static_cast<int64_t>(ids.size()), ids.data());
        (void)gpt::content_checksum({}, data + sizeof(gpt::TokenFileHeader),
                                    static_cast<size_t>(t.size()) * t.header().bytes_per_token);
        (void)sum;
    } catch (const Error&) {
    }
    return 0;
}
