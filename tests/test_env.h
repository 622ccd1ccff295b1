// Where tests find things: the source tree (tests/data), ../shared (reference outputs, optional)
// and the built gradstack binary. Each comes from an environment variable (ctest sets them) or,
// when a test binary is run by hand, from the paths CMake compiled in.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace gradstack::testing {

inline std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

inline std::string source_dir() { return env_or("GRADSTACK_SOURCE_DIR", GRADSTACK_DEFAULT_SOURCE_DIR); }
inline std::string test_data(const std::string& rel) { return source_dir() + "/tests/data/" + rel; }
inline std::string gradstack_bin() { return env_or("GRADSTACK_BIN", GRADSTACK_DEFAULT_BIN); }

// The shared reference folder, or "" when it is absent (tests then skip with a message).
inline std::string shared_dir() {
    std::string d = env_or("GRADSTACK_SHARED_DIR", GRADSTACK_DEFAULT_SHARED_DIR);
    return std::filesystem::is_directory(d + "/reference") ? d : "";
}

}  // namespace gradstack::testing
