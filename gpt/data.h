// The training data of a language model: UTF-8 text files tokenized once into a token file that
// later runs memory-map, a train/validation split, and a seeded sampler of random context windows.
// Read first: gpt/tokenizer/tokenizer.h. `gradstack train` is the user.
//
//   files --(Tokenizer, once)--> cache_dir/tokens-<key>.bin --(mmap)--> TokenFile
//   TokenFile --split_tokens--> train / validation ranges --BatchSampler--> (B, T) inputs, targets
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gpt/tokenizer/tokenizer.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace gradstack {
class MappedFile;
}

namespace gradstack::gpt {

// The files that `paths` name, in order: a file as given; a folder as the regular files directly
// inside it (not its sub-folders; names starting with '.' skipped), sorted by name. Throws
// gradstack::Error for a path that does not exist, a folder with no files, or no paths at all.
std::vector<std::filesystem::path> list_data_files(const std::vector<std::string>& paths);

// Throws gradstack::Error naming `source` and the byte offset of the first ill-formed UTF-8
// sequence in `text`, if there is one.
void check_utf8(std::string_view text, const std::string& source);

// The token file's header, 64 bytes, little-endian, followed by `count` ids of `bytes_per_token`
// bytes each (2 when the vocabulary has at most 65536 ids, else 4).
struct TokenFileHeader {
    char magic[8];             // "GSTOKENS"
    uint32_t version;          // kTokenFileVersion
    uint32_t bytes_per_token;  // 2 or 4
    uint64_t vocab_size;       // the tokenizer's vocab_size()
    uint64_t tokenizer_hash;   // the tokenizer's fingerprint()
    uint64_t source_key;       // source_key() of the files it was made from
    uint64_t text_bytes;       // bytes of text tokenized
    uint64_t count;            // number of ids
    uint64_t checksum;         // content_checksum(): the source texts' bytes, then the ids' bytes
};
static_assert(sizeof(TokenFileHeader) == 64);
// Version 2 added the checksum (version 1 had a reserved 0 there); older files are re-made.
inline constexpr uint32_t kTokenFileVersion = 2;

// A hash (FNV-1a) of each file's absolute path, size and modification time, in order: changes
// when a file is edited, touched, added, removed or renamed. Throws for a missing file.
uint64_t source_key(const std::vector<std::filesystem::path>& files);

// FNV-1a over the bytes of `files` (in order), then over `nbytes` bytes of ids at `ids`: what a
// token file's header keeps in `checksum`. A bit flipped in the ids, or a source text edited in
// place with its size and mtime kept, changes it.
uint64_t content_checksum(const std::vector<std::filesystem::path>& files, const void* ids,
                          std::size_t nbytes);

// A read-only, memory-mapped token file.
class TokenFile {
  public:
    // How open() came by the file.
    enum class Origin { cache_hit, tokenized };

    // The token ids of `files` under `tokenizer`, each file's ids followed by <|endoftext|> when
    // the tokenizer has that token (so the model sees where documents end). When
    // `cache_dir`/tokens-<key>.bin exists with a header that matches (same tokenizer fingerprint
    // and vocabulary size, same files, sizes and mtimes), it is mapped as is; otherwise the files
    // are checked for UTF-8 (the error names the file and the byte offset), tokenized, written
    // there atomically (the folder is created) and mapped. <key> hashes the files' source_key and
    // the tokenizer, so several corpora or tokenizers can share a cache folder. A cache file hit
    // is checked against its checksum (ids and source texts, content_checksum); a damaged cache
    // file (cut short, bit-flipped, older version) is re-made with a line on stderr saying why,
    // not an error (rebuild_reason() keeps the why). Throws gradstack::Error when the files hold
    // no text at all.
    static TokenFile open(const std::vector<std::filesystem::path>& files,
                          const Tokenizer& tokenizer, const std::filesystem::path& cache_dir);
    // Maps an existing token file. Throws gradstack::Error naming it when the header is not a
    // token file's, has another version, or disagrees with the file's size.
    static TokenFile map(const std::filesystem::path& path);

    int64_t size() const { return static_cast<int64_t>(header_.count); }
    int64_t operator[](int64_t i) const {
        return wide_ ? static_cast<int64_t>(reinterpret_cast<const uint32_t*>(ids_)[i])
                     : static_cast<int64_t>(reinterpret_cast<const uint16_t*>(ids_)[i]);
    }
    // ids [begin, begin + n) into out[0..n). No bounds check: the caller keeps within size().
    void copy(int64_t begin, int64_t n, int64_t* out) const;

    const TokenFileHeader& header() const { return header_; }
    const std::filesystem::path& path() const { return path_; }
    Origin origin() const { return origin_; }
    // Why open() tokenized again although a cache file was there ("" when it was not there or
    // was used).
    const std::string& rebuild_reason() const { return rebuild_reason_; }

  private:
    TokenFile() = default;
    std::shared_ptr<MappedFile> map_;
    TokenFileHeader header_{};
    const uint8_t* ids_ = nullptr;
    bool wide_ = false;  // 4 bytes per id
    std::filesystem::path path_;
    Origin origin_ = Origin::cache_hit;
    std::string rebuild_reason_;
};

// Token ids [begin, end) of a TokenFile.
struct TokenRange {
    int64_t begin = 0;
    int64_t end = 0;
    int64_t size() const { return end - begin; }
};

// The last `val_fraction` of the ids (rounded down to whole ids) for validation, the rest for
// training: a contiguous split, so no window straddles the two. Throws gradstack::Error for a
// fraction outside [0, 1).
struct TrainValSplit {
    TokenRange train, val;
};
TrainValSplit split_tokens(int64_t n_tokens, double val_fraction);

// (B, T) int64 ids: targets are the inputs shifted left by one (the next token of each position).
struct Batch {
    Tensor inputs;
    Tensor targets;
};

// Random context windows of T + 1 ids from a range of a token file. Each window starts at a
// uniform position in [begin, end - T - 1], drawn from its own Generator (Philox, tensor/random.h)
// with `seed`: the same seed gives the same batches, on any thread count. The generator's counter
// is the sampler's whole state, so a checkpoint can store it and resume the same sequence.
class BatchSampler {
  public:
    // Throws gradstack::Error when batch_size or context is < 1, the range is outside the file, or
    // the range has fewer than context + 1 ids; `name` ("train", "validation") names the range.
    BatchSampler(const TokenFile& tokens, TokenRange range, int64_t batch_size, int64_t context,
                 uint64_t seed, std::string name = "train");
    Batch next();
    Generator& generator() { return gen_; }

  private:
    TokenFile tokens_;  // a copy shares the mapping
    TokenRange range_;
    int64_t batch_size_, context_;
    Generator gen_;
};

// Tokenizes `text` as tokenizer.encode(text) would, in chunks of about `chunk_bytes` cut after a
// '\n' that has visible ASCII on both sides: there the GPT-2 pre-tokenizer ends a piece whether or
// not the text goes on, so the ids are the same, and memory stays at one chunk's worth of int64.
// Appends to `out` (a vector of uint16_t or uint32_t; ids must fit).
template <class Id>
void encode_chunked(const Tokenizer& tokenizer, std::string_view text, std::vector<Id>& out,
                    std::size_t chunk_bytes = std::size_t{1} << 20);

}  // namespace gradstack::gpt
