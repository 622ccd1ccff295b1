// Running the built `gradstack` binary from a test: the exit code and what it printed, plus a
// Boost.Test precondition that skips a test when the binary is missing. Used by the inspect,
// score and download tests.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/gpt/tokenizer_helpers.h"
#include "tests/test_util.h"

namespace gradstack::test {

struct CliRun {
    int exit_code;
    std::string out, err;
};

inline std::string read_file_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Runs `[env] gradstack ARGS` through the shell (quote arguments yourself) with `input` on its
// standard input (empty: /dev/null).
inline CliRun run_cli(const std::string& args, const std::string& env = "",
                      const std::string& input = "") {
    TempDir dir;
    std::string in = "/dev/null";
    if (!input.empty()) {
        in = (dir.path / "in").string();
        std::ofstream(in, std::ios::binary) << input;
    }
    const std::string command = env + " " + gradstack_bin().string() + " " + args + " < " + in +
                                " > " + (dir.path / "out").string() + " 2> " +
                                (dir.path / "err").string();
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file_text(dir.path / "out"),
            read_file_text(dir.path / "err")};
}

using testing::contains;

struct HasGradstackBinary {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result r(fs::exists(gradstack_bin()));
        r.message() << "no gradstack binary at " << gradstack_bin() << " (set GRADSTACK_BIN)";
        return r;
    }
};

}  // namespace gradstack::test
