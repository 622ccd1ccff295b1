// Fetching GPT-2 checkpoints from the Hugging Face Hub (libcurl), with resume and a check of each
// file against the Hub's own size and hash; `gradstack download` is the CLI (apps/download.cpp).
// The file checks (size + sha256 or git blob SHA-1, OpenSSL's EVP) work on local files alone.
// Read next: checkpoint.h, which loads the folder this fills.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace gradstack::gpt {

// The checkpoints `gradstack download` knows: gpt2, gpt2-medium, gpt2-large, gpt2-xl.
const std::vector<std::string>& hub_gpt2_models();
// What it fetches of each: config.json, model.safetensors, vocab.json, merges.txt.
const std::vector<std::string>& hub_model_files();

// The Hub's base URL: $GRADSTACK_HF_ENDPOINT when set (a mirror, or an unreachable address in
// tests), else https://huggingface.co; no trailing slash.
std::string hub_endpoint();
// <endpoint>/<repo>/resolve/main/<file>, the URL of the file's latest version.
std::string hub_file_url(const std::string& endpoint, const std::string& repo,
                         const std::string& file);
// <repository>/data/models, found from the running binary (build/bin/) like
// default_tokenizer_dir(); `gradstack download NAME` writes to <this>/NAME.
std::filesystem::path default_models_dir();

// --- checking a file against the Hub's metadata ---------------------------------------------
// The Hub answers a HEAD request on a resolve URL with the file's size and hash. Files stored
// with Git LFS (model.safetensors) come as a redirect whose X-Linked-Size is the size and whose
// X-Linked-Etag is the sha256 of the content (64 hex digits); files kept in git itself
// (config.json, vocab.json, merges.txt) come with Content-Length and an ETag that is their git
// blob id: SHA-1 of "blob <size>\0" + content (40 hex digits).
struct HubFileInfo {
    int64_t size = -1;  // bytes; -1 when the Hub did not say
    std::string etag;   // lower-case hex, quotes and W/ removed; "" when the Hub did not say
};

// Hashes of a file's content, lower-case hex. Throw gradstack::Error naming an unreadable file.
std::string sha256_file(const std::filesystem::path& path);
std::string git_blob_sha1_file(const std::filesystem::path& path);

// Whether `path` has `expected.size` bytes (skipped when -1) and the content `expected.etag`
// names: a sha256 when it has 64 hex digits, a git blob SHA-1 when 40. The size is compared
// first, so a short file costs no hashing. `problem` says what differs, e.g. "has 1024 bytes,
// the Hub says 548105171"; `hash_checked` is false when the etag is neither form (only the size
// could be checked). A missing file is a problem, not an exception.
struct FileCheck {
    bool ok = false;
    bool hash_checked = false;
    std::string problem;
};
FileCheck check_file(const std::filesystem::path& path, const HubFileInfo& expected);

// --- network --------------------------------------------------------------------------------
// Thrown when the Hub cannot be reached at all (no route, DNS failure, refused connection,
// timeout), as opposed to an HTTP error such as 404, which is a plain gradstack::Error.
class NetworkError : public Error {
  public:
    using Error::Error;
};

struct HubOptions {
    std::string endpoint = hub_endpoint();
    long connect_timeout_s = 10;  // per connection attempt
    long stall_timeout_s = 60;    // give up when under 1 kB/s for this long (resume later)
    bool progress = true;         // progress bar on stderr (when stderr is a terminal)
};

// HEAD on `url`, following redirects only until one carries X-Linked-Etag (huggingface_hub does
// the same). Sends $HF_TOKEN as a bearer token when set. Throws NetworkError or Error.
HubFileInfo hub_file_info(const std::string& url, const HubOptions& options);

// Downloads `url` into `dest`: the bytes go to `dest`.partial (resumed with an HTTP Range request
// when it already holds a prefix), which is checked with check_file against `expected` and only
// then renamed to `dest`. A partial file that fails the check is removed (the error says so).
void download_file(const std::string& url, const std::filesystem::path& dest,
                   const HubFileInfo& expected, const HubOptions& options);

// Fetches hub_model_files() of `repo` (one of hub_gpt2_models()) into `out` (created). Files
// already there that pass the check are kept. When the Hub is unreachable the gradstack::Error
// lists each missing file's URL and where to put it, so it can be fetched by hand; when every file
// is already present it only warns (they cannot be checked) and returns.
void download_model(const std::string& repo, const std::filesystem::path& out,
                    const HubOptions& options = {});

}  // namespace gradstack::gpt
