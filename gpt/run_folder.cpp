// The run folder: a checkpoint per step folder, an atomic pointer, hard-linked top-level files,
// a lock, and cleanup of what a killed run left. See run_folder.h for the layout.
//
// Why this order makes every instant safe (a kill between any two lines of commit()):
//   1. files go into checkpoints/step-N, which nothing points to yet: a kill leaves a stray
//      folder, removed at the next start; the pointer still names the previous, complete step;
//   2. the pointer is replaced by rename(2), atomic: it names step N-1 or step N, never half;
//   3. the top-level links are conveniences for `--model OUT`; resume reads the step folder the
//      pointer names and re-links the top level first (publish_latest);
//   4. only then is the previous step's folder removed.
#include "gpt/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <vector>

#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::gpt {

namespace fs = std::filesystem;

namespace {

const char* kCheckpoints = "checkpoints";
const char* kPointer = "latest";

// The files a run writes at its top level: any of them means the folder holds (part of) a run.
const char* kRunFiles[] = {"config.json", "model.safetensors", "optimizer.safetensors",
                           "trainer_state.json", "metrics.csv", "vocab.json", "merges.txt",
                           kCheckpoints};

std::string step_name(int64_t step) { return fmt::format("step-{:08d}", step); }

// "step-00000400", or "step-00000400.1" for a new run's step 400 written beside an old run's
// (--overwrite), which stays the latest until the new one is complete.
bool is_step_name(const std::string& name) {
    static const std::regex pattern("step-[0-9]{8,}(\\.[0-9]+)?");
    return std::regex_match(name, pattern);
}

// A leftover of an interrupted atomic write: "<name>.tmp-<pid>-<n>" (write_file_atomically) or
// "<name>.tmp" (draw_png).
bool is_temp_name(const std::string& name) {
    static const std::regex pattern(".+\\.tmp(-[0-9]+-[0-9]+)?");
    return std::regex_match(name, pattern);
}

void fsync_dir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(fd >= 0, "{}: cannot open the folder to fsync it: {}", dir.string(), std::strerror(errno));
    const int rc = ::fsync(fd);
    ::close(fd);
    check(rc == 0, "{}: fsync failed: {}", dir.string(), std::strerror(errno));
}

// Makes `to` name the same file as `from`, atomically: a hard link under a temporary name, renamed
// over `to`. Where hard links are impossible (another file system, no link support) the bytes are
// copied, still atomically.
void link_or_copy(const fs::path& from, const fs::path& to) {
    const fs::path temp = to.string() + fmt::format(".tmp-{}-link", getpid());
    std::error_code ec;
    fs::remove(temp, ec);
    fs::create_hard_link(from, temp, ec);
    if (!ec) {
        fs::rename(temp, to, ec);
        if (!ec) return;
        fs::remove(temp);
        fail("{}: cannot replace it with {}: {}", to.string(), from.string(), ec.message());
    }
    std::ifstream in(from, std::ios::binary);
    check(static_cast<bool>(in), "{}: cannot open to copy it to {}", from.string(), to.string());
    write_file_atomically(to.string(), [&](OutputFile& out) {
        char buffer[1 << 16];
        while (in.read(buffer, sizeof buffer) || in.gcount() > 0)
            out.write(buffer, static_cast<size_t>(in.gcount()));
    });
}

}  // namespace

void save_point() {
    static const long crash_at = [] {
        const char* v = std::getenv("GRADSTACK_CRASH_AT_SAVE_POINT");
        return v == nullptr ? 0L : std::strtol(v, nullptr, 10);
    }();
    static long calls = 0;
    if (crash_at > 0 && ++calls == crash_at) ::_exit(86);
}

RunFolder::RunFolder(fs::path out, std::string what, std::string state_file)
    : out_(std::move(out)), what_(std::move(what)), state_file_(std::move(state_file)) {
    std::error_code ec;
    if (fs::exists(out_, ec)) {
        check(fs::is_directory(out_, ec), "--out {}: exists and is not a folder", out_.string());
    } else {
        fs::create_directories(out_, ec);
        check(!ec, "--out {}: cannot create the folder: {}", out_.string(), ec.message());
    }
    const fs::path lock = out_ / ".lock";
    lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    check(lock_fd_ >= 0, "--out {}: cannot write in the folder ({}: {})", out_.string(),
          lock.string(), std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        ::close(lock_fd_);
        lock_fd_ = -1;
        check(error != EWOULDBLOCK, "--out {}: another {} is using this run folder (it holds "
              "{}); wait for it or choose another --out", out_.string(), what_, lock.string());
        fail("--out {}: cannot lock {}: {}", out_.string(), lock.string(), std::strerror(error));
    }
}

RunFolder::~RunFolder() {
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::optional<fs::path> RunFolder::latest() const { return latest_checkpoint(out_, state_file_); }

std::optional<fs::path> latest_checkpoint(const fs::path& out_, const std::string& state_file) {
    const fs::path pointer = out_ / kCheckpoints / kPointer;
    std::error_code ec;
    if (fs::exists(pointer, ec)) {
        check(fs::is_regular_file(pointer, ec) && fs::file_size(pointer, ec) < 256,
              "{}: not a checkpoint pointer (a short text file naming a step folder)",
              pointer.string());
        std::ifstream in(pointer);
        std::string name;
        std::getline(in, name);
        check(is_step_name(name), "{}: names '{}', not a step folder (step-NNNNNNNN); the "
              "run folder was changed by hand", pointer.string(), excerpt(name, 40));
        const fs::path dir = out_ / kCheckpoints / name;
        check(fs::is_directory(dir, ec), "{}: names {}, which is missing; the run folder was "
              "changed by hand", pointer.string(), dir.string());
        return dir;
    }
    if (fs::exists(out_ / state_file, ec)) return out_;  // the layout before step folders
    return std::nullopt;
}

bool RunFolder::holds_run() const {
    std::error_code ec;
    for (const char* name : kRunFiles)
        if (fs::exists(out_ / name, ec)) return true;
    return false;
}

int RunFolder::clean_stale() {
    int removed = 0;
    std::error_code ec;
    auto remove_temps_in = [&](const fs::path& dir) {
        if (!fs::is_directory(dir, ec)) return;
        std::vector<fs::path> temps;
        for (const auto& e : fs::directory_iterator(dir, ec))
            if (!e.is_directory() && is_temp_name(e.path().filename().string())) temps.push_back(e.path());
        for (const auto& p : temps) removed += fs::remove(p, ec) ? 1 : 0;
    };
    remove_temps_in(out_);
    const fs::path checkpoints = out_ / kCheckpoints;
    remove_temps_in(checkpoints);
    if (fs::is_directory(checkpoints, ec)) {
        const std::optional<fs::path> keep = latest();
        std::vector<fs::path> stale;
        for (const auto& e : fs::directory_iterator(checkpoints, ec)) {
            if (!e.is_directory() || !is_step_name(e.path().filename().string())) continue;
            if (keep && e.path() == *keep) remove_temps_in(e.path());
            else stale.push_back(e.path());
        }
        for (const auto& p : stale) {
            fs::remove_all(p, ec);
            ++removed;
        }
    }
    return removed;
}

void RunFolder::commit(int64_t step, const std::function<void(const fs::path&)>& write_files) {
    const fs::path checkpoints = out_ / kCheckpoints;
    const std::optional<fs::path> previous = latest();
    fs::path dir = checkpoints / step_name(step);
    for (int k = 1; previous && *previous == dir; ++k)
        dir = checkpoints / fmt::format("{}.{}", step_name(step), k);
    std::error_code ec;
    fs::remove_all(dir, ec);  // a folder of this step that a killed run left unfinished
    fs::create_directories(dir, ec);
    check(!ec, "{}: cannot create the checkpoint folder: {}", dir.string(), ec.message());
    fsync_dir(checkpoints);
    try {
        save_point();
        write_files(dir);
        save_point();
        fsync_dir(dir);
    } catch (...) {
        fs::remove_all(dir, ec);
        throw;
    }
    write_file_atomically((checkpoints / kPointer).string(),
                          [&](OutputFile& f) { f.write(dir.filename().string() + "\n"); });
    save_point();
    publish_latest();
    if (previous && previous->parent_path() == checkpoints) {
        fs::remove_all(*previous, ec);
        save_point();
    }
}

namespace {

// The files of `from` (and of its subfolders, e.g. a VAE's diffusion/) as hard links in `to`.
void publish_folder(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    std::vector<fs::path> files, folders;
    for (const auto& e : fs::directory_iterator(from, ec)) {
        if (e.is_directory()) folders.push_back(e.path());
        else if (e.is_regular_file() && !is_temp_name(e.path().filename().string())) files.push_back(e.path());
    }
    for (const auto& f : files) {
        const fs::path top = to / f.filename();
        if (fs::exists(top, ec) && fs::equivalent(top, f, ec)) continue;
        link_or_copy(f, top);
        save_point();
    }
    for (const auto& d : folders) {
        fs::create_directories(to / d.filename(), ec);
        check(!ec, "{}: cannot create the folder: {}", (to / d.filename()).string(), ec.message());
        publish_folder(d, to / d.filename());
    }
    fsync_dir(to);
}

}  // namespace

void RunFolder::publish_latest() {
    const std::optional<fs::path> dir = latest();
    if (dir && *dir != out_) publish_folder(*dir, out_);
}

}  // namespace gradstack::gpt
