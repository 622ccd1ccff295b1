// File helpers shared by every layer that reads or writes files: atomic writes (a crash never
// leaves a half-written file under the final name) and read-only memory maps. Checkpoints
// (nn/safetensors.h) are the first user. Read next: nn/safetensors.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace gradstack {

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
    // regular file, or cannot be mapped. An empty file gives size() == 0 and data() == nullptr.
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
