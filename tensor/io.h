// File helpers shared by every layer that reads or writes files: the one rule for reading an
// input (regular files only, checked without blocking, and never more bytes than the format can
// need), atomic writes (a crash never leaves a half-written file under the final name) and
// read-only memory maps. Checkpoints (nn/safetensors.h) are the first user. JSON inputs go
// through tensor/json.h on top of these. Read next: json.h, nn/safetensors.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace gradstack {

// --- reading inputs: one rule for every file a user can name
//
// A user can name anything: a FIFO (open(2) would block until a writer comes), /dev/zero (a read
// never ends), a directory, a 50 GB file where a 1 KB config is expected. So every input is
// opened with O_NONBLOCK and fstat(2)ed before a byte is read: only a regular file goes on, and
// only when it is no larger than the caller's cap, "what the format can need".

// Bytes in a mebibyte, for caps: 16 * kMiB.
inline constexpr uint64_t kMiB = uint64_t{1} << 20;

// Checks that `path` is a regular file without blocking (a FIFO or a device is refused before
// anything waits on it) and returns its size. Throws gradstack::Error naming the path and
// `what` (the flag or role, e.g. "--file", "the model config") for a missing file, a directory,
// a FIFO, a device or a socket.
uint64_t check_input_file(const std::string& path, const std::string& what);

// The whole content of `path`, which must be a regular file of at most `max_bytes` bytes (checked
// before reading, and again while reading in case the file grows). With `allow_stdin`, "-" reads
// standard input instead (whatever it is: a pipe, a terminal, a file), also stopping with an error
// once more than `max_bytes` bytes have come. Errors name the path, `what` and the cap.
std::string read_input_file(const std::string& path, uint64_t max_bytes, const std::string& what,
                            bool allow_stdin = false);

// An untrusted value for an error message: at most `max_chars` bytes of it (then "..."), so a
// 200 KB line or a deeply nested JSON value never floods (or, printed recursively, crashes) a
// message. Control characters other than tab become '?', so the message stays one line.
std::string excerpt(std::string_view value, size_t max_chars = 60);

// The file being written by write_file_atomically. write() retries short writes and throws
// gradstack::Error naming the final path (and the OS error, e.g. "No space left on device").
class OutputFile {
public:
    OutputFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    void write(const void* data, size_t nbytes);
    void write(std::string_view text) { write(text.data(), text.size()); }
    // The path the file will have once complete (not the temporary name).
    const std::string& path() const { return path_; }
    // Bytes written so far.
    uint64_t size() const { return size_; }

private:
    int fd_;
    std::string path_;
    uint64_t size_ = 0;
};

// Writes `path` all at once or not at all: `writer` fills a new temporary file in the same folder
// ("<path>.tmp-<pid>-<n>"), which is then flushed to disk (fsync), renamed over `path`, and the
// folder fsynced so the rename itself survives a power cut. If `writer` throws or any step fails,
// the temporary file is removed, `path` keeps its old content (or stays absent) and the exception
// propagates (I/O failures are gradstack::Error naming the path). A process killed midway leaves
// `path` untouched and may leave the temporary file behind.
void write_file_atomically(const std::string& path, const std::function<void(OutputFile&)>& writer);

// A whole file mapped into memory, private copy-on-write: the bytes can be read, and written
// without changing the file. Unmapped when the last shared_ptr to it goes away.
class MappedFile {
public:
    // Maps `path`. Throws gradstack::Error naming the path if it cannot be opened, is not a
    // regular file (checked before anything can block: a FIFO is refused at once), or cannot be
    // mapped. An empty file gives size() == 0 and data() == nullptr.
    explicit MappedFile(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }

private:
    uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

// The repository's data/ folder as seen from the running binary (<repo>/build/bin/gradstack ->
// <repo>/data), where scripts/setup.sh and `gradstack download` put tokenizers and models;
// $GRADSTACK_DATA overrides it. Relative "data" when the binary's path is unknown.
std::string data_root();

}  // namespace gradstack
