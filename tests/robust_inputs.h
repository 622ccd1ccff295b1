// Hostile inputs for the reader tests of issue 18 (tests/*/test_robust_*.cpp): a temporary
// folder, a FIFO that nobody writes (opening it for reading blocks unless the reader checks the
// file type first), deeply nested JSON, and a watchdog that turns a hang into a clear failure.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace gradstack::testing {

// A fresh folder under the system temp folder, removed with everything in it at the end.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "gradstack-robust-XXXXXX").string();
        BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

// A FIFO at `path` with no writer: a reader that opens it without O_NONBLOCK waits forever.
inline void make_fifo(const std::filesystem::path& path) {
    BOOST_REQUIRE(mkfifo(path.c_str(), 0600) == 0);
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

// `levels` '[' then `levels` ']': valid JSON that recursive code cannot print or copy.
inline std::string deep_json(size_t levels) {
    return std::string(levels, '[') + std::string(levels, ']');
}

// Kills the test process (SIGALRM, reported by Boost.Test as a fatal signal) if the scope is not
// left within `seconds`: a reader that hangs on a FIFO fails the suite instead of stalling CI.
// Not a timing assertion: the bound is far above what the checked calls take (microseconds).
struct HangGuard {
    explicit HangGuard(unsigned seconds = 30) { alarm(seconds); }
    ~HangGuard() { alarm(0); }
};

}  // namespace gradstack::testing
