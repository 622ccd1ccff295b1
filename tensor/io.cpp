// Input files, atomic file writes and memory maps (POSIX). See io.h. An input is opened with
// O_NONBLOCK so that opening a FIFO returns at once instead of waiting for a writer; fstat then
// tells its type, and only a regular file is read (O_NONBLOCK changes nothing for those). The atomic write follows the classic
// recipe: write a temp file next to the target, fsync it, rename(2) it over the target (atomic
// within one file system), then fsync the folder so the new directory entry is durable too.
#include "tensor/io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tensor/error.h"

namespace gradstack {

namespace {

std::string os_error() { return std::strerror(errno); }

// Opens a new temp file beside `path`. O_EXCL makes a name clash (another thread or a leftover of
// a killed process) an EEXIST, which we skip past; the mode is 0666 minus the umask, as for a
// file made by any other program.
int create_temp(const std::string& path, std::string& temp) {
    static std::atomic<uint64_t> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
        temp = fmt::format("{}.tmp-{}-{}", path, getpid(), counter++);
        int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) return fd;
        if (errno != EEXIST) {
            fail("{}: cannot create the temporary file {}: {}; check that the folder exists and "
                 "is writable",
                 path, temp, os_error());
        }
    }
    fail("{}: cannot find a free temporary file name beside it ({} exists)", path, temp);
}

void fsync_folder(const std::string& path) {
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::string folder = parent.empty() ? std::string(".") : parent.string();
    int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(fd >= 0, "{}: cannot open its folder to fsync it: {}", path, os_error());
    int rc = ::fsync(fd);
    int saved = errno;
    ::close(fd);
    errno = saved;
    check(rc == 0, "{}: fsync of its folder failed: {}", path, os_error());
}

const char* file_type_name(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

// Opens `path` for reading without blocking and checks that it is a regular file; returns the
// descriptor and fills `st`. The caller closes it.
int open_regular(const std::string& path, const std::string& what, struct stat& st) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    check(fd >= 0, "{}: cannot open ({}): {}", path, what, os_error());
    if (::fstat(fd, &st) != 0) {
        std::string err = os_error();
        ::close(fd);
        fail("{}: cannot stat ({}): {}", path, what, err);
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail("{}: is {}, not a regular file ({}); give a regular file", path,
             file_type_name(st.st_mode), what);
    }
    return fd;
}

// Reads `fd` to its end, failing once more than `max_bytes` have come.
std::string read_bounded(int fd, const std::string& path, uint64_t max_bytes,
                         const std::string& what) {
    std::string out;
    char buffer[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        check(n >= 0, "{}: read failed after {} bytes ({}): {}", path, out.size(), what,
              os_error());
        if (n == 0) return out;
        check(out.size() + static_cast<size_t>(n) <= max_bytes,
              "{}: more than {} bytes, the most {} can need; is it the right file?", path,
              max_bytes, what);
        out.append(buffer, static_cast<size_t>(n));
    }
}

}  // namespace

uint64_t check_input_file(const std::string& path, const std::string& what) {
    struct stat st {};
    ::close(open_regular(path, what, st));
    return static_cast<uint64_t>(st.st_size);
}

std::string read_input_file(const std::string& path, uint64_t max_bytes, const std::string& what,
                            bool allow_stdin) {
    if (allow_stdin && path == "-") return read_bounded(STDIN_FILENO, "<stdin>", max_bytes, what);
    struct stat st {};
    int fd = open_regular(path, what, st);
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
        ::close(fd);
        fail("{}: {} bytes, more than the {} bytes {} can need; is it the right file?", path,
             static_cast<uint64_t>(st.st_size), max_bytes, what);
    }
    try {
        std::string bytes = read_bounded(fd, path, max_bytes, what);
        ::close(fd);
        return bytes;
    } catch (...) {
        ::close(fd);
        throw;
    }
}

std::string excerpt(std::string_view value, size_t max_chars) {
    const bool cut = value.size() > max_chars;
    std::string out(value.substr(0, max_chars));
    if (cut) {
        // Never end inside a UTF-8 sequence: drop the last character if it is multi-byte (its
        // continuation bytes 10xxxxxx and its lead byte 11xxxxxx), complete or not.
        size_t end = out.size();
        while (end > 0 && (static_cast<unsigned char>(out[end - 1]) & 0xC0) == 0x80) --end;
        if (end > 0 && static_cast<unsigned char>(out[end - 1]) >= 0xC0) --end;
        out.resize(end);
    }
    for (char& c : out) {
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7F) c = '?';
    }
    if (cut) out += "...";
    return out;
}

void OutputFile::write(const void* data, size_t nbytes) {
    const char* p = static_cast<const char*>(data);
    while (nbytes > 0) {
        ssize_t n = ::write(fd_, p, nbytes);
        if (n < 0 && errno == EINTR) continue;
        check(n > 0, "{}: write failed after {} bytes: {}", path_, size_,
              n < 0 ? os_error() : std::string("no progress"));
        p += n;
        nbytes -= static_cast<size_t>(n);
        size_ += static_cast<uint64_t>(n);
    }
}

void write_file_atomically(const std::string& path,
                           const std::function<void(OutputFile&)>& writer) {
    // The rename would replace whatever `path` names: a FIFO, a device (as root, /dev/full
    // became a regular file) or a folder's entry. Only a regular file (or nothing) is replaced.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        fail("{}: exists and is not a regular file ({}); give the path of a new or regular file",
             path, S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a FIFO"
                   : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "not a plain file");
    }
    std::string temp;
    int fd = create_temp(path, temp);
    try {
        OutputFile out(fd, path);
        writer(out);
        // The data must be on disk before the rename makes it visible under the final name:
        // otherwise a power cut could leave a renamed but empty file.
        check(::fsync(fd) == 0, "{}: fsync failed: {}", path, os_error());
        int rc = ::close(fd);
        fd = -1;
        check(rc == 0, "{}: close failed: {}", path, os_error());
        check(::rename(temp.c_str(), path.c_str()) == 0, "{}: cannot rename {} over it: {}", path,
              temp, os_error());
    } catch (...) {
        if (fd >= 0) ::close(fd);
        ::unlink(temp.c_str());
        throw;
    }
    fsync_folder(path);
}

MappedFile::MappedFile(const std::string& path) {
    struct stat st {};
    int fd = open_regular(path, "a file to map", st);
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
        // MAP_PRIVATE + PROT_WRITE: tensors that wrap these bytes may be written in place (an
        // optimizer step on loaded weights); the pages are then copied, the file never changes.
        void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            std::string err = os_error();
            ::close(fd);
            fail("{}: cannot map {} bytes: {}", path, size_, err);
        }
        data_ = static_cast<uint8_t*>(p);
    }
    ::close(fd);  // the mapping stays valid without the descriptor
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
}

std::string data_root() {
    if (const char* env = std::getenv("GRADSTACK_DATA"); env && *env) return env;
    std::error_code error;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return "data";
    return (exe.parent_path() / ".." / ".." / "data").lexically_normal().string();
}

}  // namespace gradstack
