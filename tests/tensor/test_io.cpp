// Atomic writes and memory maps (tensor/io.h): a failing or killed writer never leaves a partial
// file under the final name. The killed writer runs in a forked child, SIGKILLed midway.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"
#include "tensor/io.h"

using namespace gradstack;
namespace fs = std::filesystem;

namespace {

// A fresh folder under the system temp folder, removed with everything in it at the end.
struct TempFolder {
    fs::path path;
    TempFolder() {
        std::string pattern = (fs::temp_directory_path() / "gradstack-io-XXXXXX").string();
        BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempFolder() { fs::remove_all(path); }
};

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_plain(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
}

size_t count_files(const fs::path& folder) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(folder)) ++n;
    return n;
}

// Forks a child that writes `target` through write_file_atomically with a writer that never ends:
// it writes 1 MiB, tells the parent through a pipe, then keeps writing slowly. The parent SIGKILLs
// it as soon as it hears. Returns the size of the temporary file the child left behind.
uint64_t kill_writer_midway(const fs::path& target) {
    int pipe_fds[2];
    BOOST_REQUIRE(pipe(pipe_fds) == 0);
    pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        close(pipe_fds[0]);
        try {
            std::string chunk(1 << 20, 'x');
            write_file_atomically(target.string(), [&](OutputFile& out) {
                out.write(chunk);
                char c = 1;
                if (::write(pipe_fds[1], &c, 1) != 1) _exit(2);
                for (;;) {
                    out.write(chunk);
                    usleep(10000);
                }
            });
        } catch (...) {
        }
        _exit(1);  // not reached unless something failed
    }
    close(pipe_fds[1]);
    char c = 0;
    BOOST_REQUIRE(read(pipe_fds[0], &c, 1) == 1);
    close(pipe_fds[0]);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    BOOST_TEST(WIFSIGNALED(status));
    BOOST_TEST(WTERMSIG(status) == SIGKILL);
    uint64_t leftover = 0;
    for (const auto& e : fs::directory_iterator(target.parent_path())) {
        if (e.path().filename().string().find(".tmp-") != std::string::npos) {
            leftover = e.file_size();
        }
    }
    return leftover;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io_suite)

BOOST_AUTO_TEST_CASE(atomic_write_replaces_the_file) {
    TempFolder dir;
    fs::path p = dir.path / "out.bin";
    write_plain(p, "old");
    write_file_atomically(p.string(), [](OutputFile& out) {
        out.write("new ");
        out.write("content");
        BOOST_TEST(out.size() == 11u);
    });
    BOOST_TEST(read_all(p) == "new content");
    BOOST_TEST(count_files(dir.path) == 1u);  // no temporary file left
}

BOOST_AUTO_TEST_CASE(atomic_write_keeps_the_old_file_when_the_writer_throws) {
    TempFolder dir;
    fs::path p = dir.path / "out.bin";
    write_plain(p, "old");
    BOOST_CHECK_THROW(write_file_atomically(p.string(),
                                            [](OutputFile& out) {
                                                out.write("half of it");
                                                fail("disk on fire");
                                            }),
                      Error);
    BOOST_TEST(read_all(p) == "old");
    BOOST_TEST(count_files(dir.path) == 1u);  // the temporary file was removed

    fs::path q = dir.path / "never.bin";
    BOOST_CHECK_THROW(write_file_atomically(q.string(), [](OutputFile&) { fail("no"); }), Error);
    BOOST_TEST(!fs::exists(q));
}

BOOST_AUTO_TEST_CASE(atomic_write_into_a_missing_folder_names_the_path) {
    TempFolder dir;
    std::string p = (dir.path / "no-such-folder" / "out.bin").string();
    try {
        write_file_atomically(p, [](OutputFile& out) { out.write("x"); });
        BOOST_FAIL("no throw");
    } catch (const Error& e) {
        std::string msg = e.what();
        BOOST_TEST(msg.find(p) != std::string::npos);
        BOOST_TEST(msg.find("No such file or directory") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(writer_killed_midway_leaves_the_old_file) {
    TempFolder dir;
    fs::path p = dir.path / "checkpoint.bin";
    std::string old = "the complete old checkpoint";
    write_plain(p, old);
    uint64_t partial = kill_writer_midway(p);
    BOOST_TEST(partial >= (1u << 20));  // the child really was killed halfway through a write
    BOOST_TEST(read_all(p) == old);
}

BOOST_AUTO_TEST_CASE(writer_killed_midway_leaves_no_file) {
    TempFolder dir;
    fs::path p = dir.path / "checkpoint.bin";
    uint64_t partial = kill_writer_midway(p);
    BOOST_TEST(partial >= (1u << 20));
    BOOST_TEST(!fs::exists(p));
}

BOOST_AUTO_TEST_CASE(mapped_file_reads_bytes_and_rejects_folders) {
    TempFolder dir;
    fs::path p = dir.path / "a.bin";
    write_plain(p, "abc");
    MappedFile m(p.string());
    BOOST_TEST(m.size() == 3u);
    BOOST_TEST(std::string(reinterpret_cast<const char*>(m.data()), 3) == "abc");
    m.data()[0] = 'z';  // private mapping: the file does not change
    BOOST_TEST(read_all(p) == "abc");

    write_plain(dir.path / "empty.bin", "");
    MappedFile e((dir.path / "empty.bin").string());
    BOOST_TEST(e.size() == 0u);

    BOOST_CHECK_THROW(MappedFile(dir.path.string()), Error);  // a folder
    try {
        MappedFile((dir.path / "missing.bin").string());
        BOOST_FAIL("no throw");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("missing.bin: cannot open") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
