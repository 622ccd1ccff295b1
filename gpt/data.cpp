// Training data: listing and checking text files, the token cache (tokenize once, then mmap), the
// split and the window sampler. Why a cache: tokenizing is the slow part of reading a corpus
// (PCRE2 + BPE, a few MB/s), and a training run reads the same ids many times and across resumes.
#include "gpt/data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gpt/tokenizer/utf8.h"
#include "tensor/error.h"
#include "tensor/io.h"

namespace gradstack::gpt {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'G', 'S', 'T', 'O', 'K', 'E', 'N', 'S'};

// FNV-1a, 64 bits: for keys, not for security.
struct Fnv {
    uint64_t h = 0xcbf29ce484222325ull;
    void mix(const void* data, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            h ^= static_cast<const unsigned char*>(data)[i];
            h *= 0x100000001b3ull;
        }
    }
    void mix_u64(uint64_t v) { mix(&v, sizeof v); }
};

bool visible_ascii(char c) {
    return c > ' ' && c < 0x7F;
}

// The end of the chunk that starts at `from`: the first safe cut at or after from + chunk_bytes
// (see encode_chunked in data.h), or the end of the text when there is none.
std::size_t chunk_end(std::string_view text, std::size_t from, std::size_t chunk_bytes) {
    for (std::size_t p = from + chunk_bytes; p + 1 < text.size(); ++p) {
        // p is the first byte of the next chunk: text[p-1] == '\n' with visible ASCII around it.
        if (text[p - 1] == '\n' && visible_ascii(text[p]) && p >= 2 && visible_ascii(text[p - 2]))
            return p;
    }
    return text.size();
}

std::string_view as_text(const MappedFile& file) {
    return {reinterpret_cast<const char*>(file.data()), file.size()};
}

// Tokenizes `files` and writes the token file at `path` (atomically).
template <class Id>
void write_token_file(const std::vector<fs::path>& files, const Tokenizer& tokenizer, uint64_t key,
                      const fs::path& path) {
    std::vector<Id> ids;
    uint64_t text_bytes = 0;
    for (const fs::path& file : files) {
        const MappedFile mapped(file.string());
        const std::string_view text = as_text(mapped);
        check_utf8(text, file.string());
        encode_chunked(tokenizer, text, ids);
        if (tokenizer.eot_id() >= 0) ids.push_back(static_cast<Id>(tokenizer.eot_id()));
        text_bytes += text.size();
    }
    check(text_bytes > 0, "[data] the corpus holds no text: {} file(s), all empty (first: {})",
          files.size(), files.front().string());
    TokenFileHeader header{};
    std::memcpy(header.magic, kMagic, sizeof kMagic);
    header.version = kTokenFileVersion;
    header.bytes_per_token = sizeof(Id);
    header.vocab_size = static_cast<uint64_t>(tokenizer.vocab_size());
    header.tokenizer_hash = tokenizer.fingerprint();
    header.source_key = key;
    header.text_bytes = text_bytes;
    header.count = ids.size();
    header.checksum = content_checksum(files, ids.data(), ids.size() * sizeof(Id));
    write_file_atomically(path.string(), [&](OutputFile& out) {
        out.write(&header, sizeof header);
        out.write(ids.data(), ids.size() * sizeof(Id));
    });
}

}  // namespace

std::vector<fs::path> list_data_files(const std::vector<std::string>& paths) {
    check(!paths.empty(), "[data] no --data given: name text files or folders of them");
    std::vector<fs::path> files;
    for (const std::string& p : paths) {
        const fs::path path(p);
        if (fs::is_directory(path)) {
            std::vector<fs::path> inside;
            for (const auto& entry : fs::directory_iterator(path)) {
                const std::string name = entry.path().filename().string();
                if (entry.is_regular_file() && !name.empty() && name[0] != '.')
                    inside.push_back(entry.path());
            }
            check(!inside.empty(), "[data] {}: the folder holds no files", p);
            std::sort(inside.begin(), inside.end());
            files.insert(files.end(), inside.begin(), inside.end());
        } else {
            check(fs::exists(path), "[data] {}: no such file or folder", p);
            check(fs::is_regular_file(path), "[data] {}: not a regular file (a FIFO or a device "
                  "cannot be tokenized into a cache); give a text file or a folder of them", p);
            files.push_back(path);
        }
    }
    return files;
}

void check_utf8(std::string_view text, const std::string& source) {
    const std::size_t bad = utf8_invalid_offset(text);
    check(bad == text.size(),
          "{}: not valid UTF-8 at byte {} (0x{:02X}); convert it to UTF-8 (e.g. iconv) or leave "
          "it out",
          source, bad, bad < text.size() ? static_cast<unsigned char>(text[bad]) : 0);
}

uint64_t source_key(const std::vector<fs::path>& files) {
    Fnv fnv;
    for (const fs::path& file : files) {
        std::error_code ec;
        const std::string abs = fs::absolute(file, ec).lexically_normal().string();
        const uint64_t size = fs::file_size(file, ec);
        check(!ec, "[data] {}: cannot read its size ({})", file.string(), ec.message());
        const auto mtime = fs::last_write_time(file, ec).time_since_epoch().count();
        check(!ec, "[data] {}: cannot read its modification time ({})", file.string(),
              ec.message());
        fnv.mix_u64(abs.size());
        fnv.mix(abs.data(), abs.size());
        fnv.mix_u64(size);
        fnv.mix_u64(static_cast<uint64_t>(mtime));
    }
    return fnv.h;
}

uint64_t content_checksum(const std::vector<fs::path>& files, const void* ids,
                          std::size_t nbytes) {
    Fnv fnv;
    for (const fs::path& file : files) {
        const MappedFile mapped(file.string());
        fnv.mix_u64(mapped.size());
        fnv.mix(mapped.data(), mapped.size());
    }
    fnv.mix(ids, nbytes);
    return fnv.h;
}

TokenFile TokenFile::map(const fs::path& path) {
    TokenFile t;
    t.path_ = path;
    t.map_ = std::make_shared<MappedFile>(path.string());
    const std::size_t size = t.map_->size();
    check(
        size >= sizeof(TokenFileHeader) && std::memcmp(t.map_->data(), kMagic, sizeof kMagic) == 0,
        "{}: not a gradstack token file (no GSTOKENS header); delete it to re-tokenize",
        path.string());
    std::memcpy(&t.header_, t.map_->data(), sizeof(TokenFileHeader));
    const TokenFileHeader& h = t.header_;
    check(h.version == kTokenFileVersion,
          "{}: token file version {}, this build reads version {}; delete it to re-tokenize",
          path.string(), h.version, kTokenFileVersion);
    check(h.bytes_per_token == 2 || h.bytes_per_token == 4,
          "{}: {} bytes per token in the header (expected 2 or 4); the file is damaged",
          path.string(), h.bytes_per_token);
    check(h.count <= (size - sizeof(TokenFileHeader)) / h.bytes_per_token &&
              size == sizeof(TokenFileHeader) + h.count * h.bytes_per_token,
          "{}: the header says {} tokens of {} bytes but the file has {} bytes after it; it was "
          "probably cut short: delete it to re-tokenize",
          path.string(), h.count, h.bytes_per_token, size - sizeof(TokenFileHeader));
    t.ids_ = t.map_->data() + sizeof(TokenFileHeader);
    t.wide_ = h.bytes_per_token == 4;
    return t;
}

TokenFile TokenFile::open(const std::vector<fs::path>& files, const Tokenizer& tokenizer,
                          const fs::path& cache_dir) {
    check(!files.empty(), "[data] no input files");
    const uint64_t key = source_key(files);
    Fnv name;
    name.mix_u64(key);
    name.mix_u64(tokenizer.fingerprint());
    name.mix_u64(static_cast<uint64_t>(tokenizer.vocab_size()));
    name.mix_u64(kTokenFileVersion);
    const fs::path path = cache_dir / fmt::format("tokens-{:016x}.bin", name.h);

    std::string reason;
    if (fs::exists(path)) {
        try {
            TokenFile t = map(path);
            const TokenFileHeader& h = t.header_;
            if (h.source_key != key || h.tokenizer_hash != tokenizer.fingerprint() ||
                h.vocab_size != static_cast<uint64_t>(tokenizer.vocab_size())) {
                reason = "its header names other files or another tokenizer";
            } else if (content_checksum(files, t.ids_, h.count * h.bytes_per_token) !=
                       h.checksum) {
                reason = "its checksum does not match its ids and the text (a flipped bit, or "
                         "a file edited in place)";
            } else {
                t.origin_ = Origin::cache_hit;
                return t;
            }
        } catch (const Error& e) {
            // A damaged cache file (cut short by a crash of an older build, edited by hand): the
            // files it came from are still here, so make it again.
            reason = e.what();
        }
        fmt::print(stderr, "[data] {}: {}; tokenizing again\n", path.string(), reason);
    }
    std::error_code ec;
    fs::create_directories(cache_dir, ec);
    check(fs::is_directory(cache_dir), "[data] {}: cannot create the cache folder ({})",
          cache_dir.string(), ec.message());
    if (tokenizer.vocab_size() <= 65536) {
        write_token_file<uint16_t>(files, tokenizer, key, path);
    } else {
        write_token_file<uint32_t>(files, tokenizer, key, path);
    }
    TokenFile t = map(path);
    t.origin_ = Origin::tokenized;
    t.rebuild_reason_ = reason;
    return t;
}

void TokenFile::copy(int64_t begin, int64_t n, int64_t* out) const {
    if (wide_) {
        const auto* p = reinterpret_cast<const uint32_t*>(ids_) + begin;
        for (int64_t i = 0; i < n; ++i) out[i] = p[i];
    } else {
        const auto* p = reinterpret_cast<const uint16_t*>(ids_) + begin;
        for (int64_t i = 0; i < n; ++i) out[i] = p[i];
    }
}

TrainValSplit split_tokens(int64_t n_tokens, double val_fraction) {
    check(val_fraction >= 0 && val_fraction < 1,
          "[data] the validation fraction must be in [0, 1), got {}", val_fraction);
    check(n_tokens >= 0, "[data] negative token count {}", n_tokens);
    const auto n_val =
        static_cast<int64_t>(std::floor(static_cast<double>(n_tokens) * val_fraction));
    return {{0, n_tokens - n_val}, {n_tokens - n_val, n_tokens}};
}

BatchSampler::BatchSampler(const TokenFile& tokens, TokenRange range, int64_t batch_size,
                           int64_t context, uint64_t seed, std::string name)
    : tokens_(tokens), range_(range), batch_size_(batch_size), context_(context), gen_(seed) {
    check(batch_size >= 1 && context >= 1,
          "[data] batch size and context must be >= 1, got {} and {}", batch_size, context);
    check(range.begin >= 0 && range.begin <= range.end && range.end <= tokens.size(),
          "[data] the {} range [{}, {}) is outside the token file's {} tokens", name, range.begin,
          range.end, tokens.size());
    check(range.size() >= context + 1,
          "[data] the {} split has {} tokens, fewer than context + 1 = {} (one window); use more "
          "text, a shorter context{}",
          name, range.size(), context + 1,
          name == "train" ? "" : " or a larger validation fraction");
}

Batch BatchSampler::next() {
    const int64_t B = batch_size_, T = context_;
    // Window starts: uniform in [0, size - T) relative to the range, so start + T is in range.
    const Tensor starts = randint(0, range_.size() - T, {B}, &gen_);
    Tensor inputs = empty({B, T}, DType::i64), targets = empty({B, T}, DType::i64);
    const int64_t* s = starts.data<int64_t>();
    int64_t* x = inputs.data<int64_t>();
    int64_t* y = targets.data<int64_t>();
    for (int64_t b = 0; b < B; ++b) {
        tokens_.copy(range_.begin + s[b], T, x + b * T);      // (T,) ids
        tokens_.copy(range_.begin + s[b] + 1, T, y + b * T);  // the same, one later
    }
    return {inputs, targets};
}

template <class Id>
void encode_chunked(const Tokenizer& tokenizer, std::string_view text, std::vector<Id>& out,
                    std::size_t chunk_bytes) {
    const auto limit = static_cast<int64_t>(std::numeric_limits<Id>::max());
    check(tokenizer.vocab_size() - 1 <= limit,
          "[data] a vocabulary of {} ids does not fit {}-byte token ids", tokenizer.vocab_size(),
          sizeof(Id));
    for (std::size_t from = 0; from < text.size();) {
        const std::size_t end = chunk_end(text, from, std::max<std::size_t>(chunk_bytes, 1));
        for (const int64_t id : tokenizer.encode(text.substr(from, end - from)))
            out.push_back(static_cast<Id>(id));
        from = end;
    }
}

template void encode_chunked<uint16_t>(const Tokenizer&, std::string_view, std::vector<uint16_t>&,
                                       std::size_t);
template void encode_chunked<uint32_t>(const Tokenizer&, std::string_view, std::vector<uint32_t>&,
                                       std::size_t);

}  // namespace gradstack::gpt
