// Hugging Face Hub downloads (see hub.h). Three parts: hashing and checking local files (OpenSSL
// EVP), the libcurl requests (HEAD for metadata, GET with Range to resume), and download_model,
// which ties them together and turns "no network" into instructions for fetching by hand.
#include "gpt/hub.h"
#include "tensor/io.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>

namespace gradstack::gpt {

namespace fs = std::filesystem;

const std::vector<std::string>& hub_gpt2_models() {
    static const std::vector<std::string> names{"gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"};
    return names;
}

const std::vector<std::string>& hub_model_files() {
    static const std::vector<std::string> files{"config.json", "model.safetensors", "vocab.json",
                                                "merges.txt"};
    return files;
}

std::string hub_endpoint() {
    const char* env = std::getenv("GRADSTACK_HF_ENDPOINT");
    std::string url = env && *env ? env : "https://huggingface.co";
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

std::string hub_file_url(const std::string& endpoint, const std::string& repo,
                         const std::string& file) {
    return endpoint + "/" + repo + "/resolve/main/" + file;
}

fs::path default_models_dir() {
    return fs::path(data_root()) / "models";
}

// --- hashing and checking -------------------------------------------------------------------

namespace {

// Digest of `prefix` followed by the file's bytes, read in 1 MiB blocks (gpt2-xl's 6 GB file
// never sits in memory).
std::string digest_file(const fs::path& path, const EVP_MD* md, const std::string& prefix) {
    check_input_file(path.string(), "a downloaded file to check");  // a FIFO would block
    std::ifstream in(path, std::ios::binary);
    check(in.good(), "[hub] cannot read {}", path.string());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    check(ctx && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1,
          "[hub] OpenSSL digest init failed");
    EVP_DigestUpdate(ctx.get(), prefix.data(), prefix.size());
    std::vector<char> block(1 << 20);
    while (in) {
        in.read(block.data(), static_cast<std::streamsize>(block.size()));
        EVP_DigestUpdate(ctx.get(), block.data(), static_cast<size_t>(in.gcount()));
    }
    check(in.eof(), "[hub] error while reading {}", path.string());
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx.get(), out, &n);
    std::string hex;
    for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", out[i]);
    return hex;
}

bool is_hex(const std::string& s, std::size_t length) {
    return s.size() == length &&
           std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit((unsigned char)c); });
}

}  // namespace

std::string sha256_file(const fs::path& path) {
    return digest_file(path, EVP_sha256(), "");
}

// git's object id of a file: SHA-1 over a "blob <size>" header, a NUL byte, then the content.
std::string git_blob_sha1_file(const fs::path& path) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    check(!error, "[hub] cannot read {}: {}", path.string(), error.message());
    return digest_file(path, EVP_sha1(), "blob " + std::to_string(size) + std::string(1, '\0'));
}

FileCheck check_file(const fs::path& path, const HubFileInfo& expected) {
    FileCheck r;
    std::error_code error;
    const auto size = fs::file_size(path, error);
    if (error) {
        r.problem = "is missing";
        return r;
    }
    if (expected.size >= 0 && static_cast<int64_t>(size) != expected.size) {
        r.problem = fmt::format("has {} bytes, the Hub says {}", size, expected.size);
        return r;
    }
    const bool sha256 = is_hex(expected.etag, 64), blob = is_hex(expected.etag, 40);
    r.hash_checked = sha256 || blob;
    if (r.hash_checked) {
        const std::string got = sha256 ? sha256_file(path) : git_blob_sha1_file(path);
        if (got != expected.etag) {
            r.problem = fmt::format("has {} {}, the Hub says {}", sha256 ? "sha256" : "git blob id",
                                    got, expected.etag);
            return r;
        }
    }
    r.ok = true;
    return r;
}

// --- libcurl --------------------------------------------------------------------------------

namespace {

using Curl = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

Curl new_request(const std::string& url, const HubOptions& o, curl_slist* headers) {
    static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    check(initialised, "[hub] libcurl failed to initialise");
    Curl curl(curl_easy_init(), curl_easy_cleanup);
    check(curl != nullptr, "[hub] libcurl failed to create a request");
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "gradstack/0.1");
    curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, o.connect_timeout_s);
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, o.stall_timeout_s);
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    return curl;
}

// Accept-Encoding: identity keeps sizes those of the file; $HF_TOKEN opens gated repositories.
std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> request_headers() {
    curl_slist* list = curl_slist_append(nullptr, "Accept-Encoding: identity");
    if (const char* token = std::getenv("HF_TOKEN"); token && *token)
        list = curl_slist_append(list, (std::string("Authorization: Bearer ") + token).c_str());
    return {list, curl_slist_free_all};
}

// Transport failures (nothing came back) are NetworkError; other codes go back to the caller,
// which knows what an HTTP error means for its request.
CURLcode perform(CURL* curl, const std::string& url, const char* error_buffer) {
    const CURLcode code = curl_easy_perform(curl);
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
            throw NetworkError(fmt::format(
                "[hub] {}: {}", url, *error_buffer ? error_buffer : curl_easy_strerror(code)));
        default:
            return code;
    }
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

size_t collect_header(char* data, size_t size, size_t n, void* user) {
    auto& headers = *static_cast<std::map<std::string, std::string>*>(user);
    const std::string line(data, size * n);
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
        const auto begin = line.find_first_not_of(" \t", colon + 1);
        const auto end = line.find_last_not_of(" \t\r\n");
        headers[lower(line.substr(0, colon))] =
            begin == std::string::npos || end < begin ? "" : line.substr(begin, end - begin + 1);
    }
    return size * n;
}

std::string clean_etag(std::string etag) {
    if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
    etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
    return lower(etag);
}

std::string http_hint(long status) {
    if (status == 401 || status == 403)
        return " (the repository may be gated or private: set HF_TOKEN to an access token)";
    if (status == 404) return " (no such repository or file on the Hub)";
    return "";
}

}  // namespace

HubFileInfo hub_file_info(const std::string& start_url, const HubOptions& options) {
    auto headers = request_headers();
    std::string url = start_url;
    for (int hop = 0; hop < 6; ++hop) {
        Curl curl = new_request(url, options, headers.get());
        std::map<std::string, std::string> got;
        char error_buffer[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(curl.get(), CURLOPT_NOBODY, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, collect_header);
        curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &got);
        curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_buffer);
        const CURLcode code = perform(curl.get(), url, error_buffer);
        check(code == CURLE_OK, "[hub] {}: {}", url,
              *error_buffer ? error_buffer : curl_easy_strerror(code));
        long status = 0;
        curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
        const bool redirect = status >= 300 && status < 400;
        if (got.count("x-linked-etag") || !redirect) {
            check(status < 400 || redirect, "[hub] {}: HTTP {}{}", url, status, http_hint(status));
            HubFileInfo info;
            const std::string size =
                got.count("x-linked-size") ? got["x-linked-size"] : got["content-length"];
            if (!size.empty()) info.size = std::stoll(size);
            info.etag = clean_etag(got.count("x-linked-etag") ? got["x-linked-etag"] : got["etag"]);
            return info;
        }
        char* next = nullptr;
        curl_easy_getinfo(curl.get(), CURLINFO_REDIRECT_URL, &next);
        check(next != nullptr, "[hub] {}: HTTP {} without a Location", url, status);
        url = next;
    }
    fail("[hub] {}: too many redirects", start_url);
}

// --- downloading ----------------------------------------------------------------------------

namespace {

// The progress bar: "model.safetensors [#####-----] 48% 263.1/548.1 MB 11.8 MB/s ETA 0:24",
// redrawn at most 5 times a second on a terminal; elsewhere only the summary line at the end.
struct Progress {
    std::string name;
    int64_t resumed = 0;  // bytes already in the .partial file
    int64_t total = -1;   // the file's size
    bool draw = false;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), last{};
    int64_t now = 0;  // bytes received in this session

    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    void print(bool final) {
        const double rate = now / std::max(seconds(), 1e-3);
        const int64_t have = resumed + now;
        std::string bar, eta = "--:--";
        if (total > 0) {
            const int filled = static_cast<int>(20 * std::min<double>(1, double(have) / total));
            bar = fmt::format("[{:#<{}}{:-<{}}] {:3.0f}% ", "", filled, "", 20 - filled,
                              100.0 * have / total);
            if (rate > 0) {
                const auto left = static_cast<int64_t>((total - have) / rate);
                eta = fmt::format("{}:{:02}", left / 60, left % 60);
            }
        }
        const std::string of_total = total > 0 ? fmt::format("/{:.1f}", total / 1e6) : "";
        fmt::print(stderr, "{}{} {}{:.1f}{} MB {:.1f} MB/s {}{}", final ? "" : "\r", name, bar,
                   have / 1e6, of_total, rate / 1e6, final ? "done" : "ETA " + eta,
                   final ? "\n" : "   ");
    }
};

int on_progress(void* user, curl_off_t, curl_off_t received, curl_off_t, curl_off_t) {
    auto& p = *static_cast<Progress*>(user);
    p.now = received;
    const auto t = std::chrono::steady_clock::now();
    if (p.draw && t - p.last > std::chrono::milliseconds(200)) {
        p.last = t;
        p.print(false);
    }
    return 0;
}

size_t write_to_file(char* data, size_t size, size_t n, void* file) {
    return std::fwrite(data, size, n, static_cast<std::FILE*>(file)) * size;
}

// GET `url` appended to `partial` from byte `offset` (a Range request when offset > 0). Returns
// false when the server ignored the range, so the caller starts again from 0.
bool fetch(const std::string& url, const fs::path& partial, int64_t offset, int64_t total,
           const HubOptions& options) {
    std::unique_ptr<std::FILE, decltype(&std::fclose)> file(
        std::fopen(partial.c_str(), offset > 0 ? "ab" : "wb"), std::fclose);
    check(file != nullptr, "[hub] cannot write {}", partial.string());
    auto headers = request_headers();
    Curl curl = new_request(url, options, headers.get());
    Progress progress{partial.filename().replace_extension("").string(), offset, total,
                      options.progress && isatty(STDERR_FILENO)};
    char error_buffer[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(offset));
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_to_file);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, file.get());
    curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &progress);
    curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_buffer);
    CURLcode code;
    try {
        code = perform(curl.get(), url, error_buffer);
    } catch (const NetworkError& e) {
        if (progress.draw) fmt::print(stderr, "\n");
        throw NetworkError(fmt::format("{} ({} bytes kept in {}: run again to resume)", e.what(),
                                       offset + progress.now, partial.string()));
    }
    if (progress.draw) fmt::print(stderr, "\r");
    if (code == CURLE_RANGE_ERROR) return false;
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    check(code != CURLE_HTTP_RETURNED_ERROR, "[hub] {}: HTTP {}{}", url, status, http_hint(status));
    check(code == CURLE_OK, "[hub] {}: {}", url,
          *error_buffer ? error_buffer : curl_easy_strerror(code));
    // The bytes reach the disk before the file can be renamed into place.
    check(std::fflush(file.get()) == 0 && ::fsync(fileno(file.get())) == 0, "[hub] cannot write {}",
          partial.string());
    if (options.progress) progress.print(true);
    return true;
}

}  // namespace

void download_file(const std::string& url, const fs::path& dest, const HubFileInfo& expected,
                   const HubOptions& options) {
    fs::path partial = dest;
    partial += ".partial";
    std::error_code error;
    int64_t have = fs::exists(partial) ? static_cast<int64_t>(fs::file_size(partial, error)) : 0;
    if (error || (expected.size >= 0 && have > expected.size)) have = 0;  // cannot be a prefix
    if (have > 0) fmt::print(stderr, "{}: resuming at byte {}\n", dest.filename().string(), have);
    if (expected.size < 0 || have < expected.size) {
        if (!fetch(url, partial, have, expected.size, options)) {
            fmt::print(stderr, "{}: the server cannot resume; starting again\n", url);
            fetch(url, partial, 0, expected.size, options);
        }
    }
    const FileCheck c = check_file(partial, expected);
    if (!c.ok) {
        fs::remove(partial, error);
        fail("[hub] {}: the downloaded file {}; it was removed: run the download again",
             dest.string(), c.problem);
    }
    fs::rename(partial, dest, error);
    check(!error, "[hub] cannot rename {} to {}: {}", partial.string(), dest.string(),
          error.message());
}

namespace {

std::string by_hand(const std::string& repo, const fs::path& out, const std::string& endpoint,
                    const std::vector<std::string>& missing) {
    std::string lines;
    for (const auto& f : missing)
        lines +=
            fmt::format("\n  {}\n      -> {}", hub_file_url(endpoint, repo, f), (out / f).string());
    return lines;
}

}  // namespace

void download_model(const std::string& repo, const fs::path& out, const HubOptions& options) {
    std::error_code error;
    fs::create_directories(out, error);
    check(!error && fs::is_directory(out), "[download] cannot create the folder {}", out.string());
    bool reached = false;  // a network failure after the Hub answered is not "offline"
    try {
        for (const auto& file : hub_model_files()) {
            const std::string url = hub_file_url(options.endpoint, repo, file);
            const HubFileInfo info = hub_file_info(url, options);
            reached = true;
            const fs::path dest = out / file;
            if (fs::exists(dest)) {
                const FileCheck c = check_file(dest, info);
                if (c.ok) {
                    fmt::print(
                        stderr, "{}: present and {}\n", file,
                        c.hash_checked ? "checked" : "of the right size (no hash from the Hub)");
                    continue;
                }
                fmt::print(stderr, "{}: present but {}; fetching it again\n", file, c.problem);
            }
            download_file(url, dest, info, options);
            if (!check_file(dest, info).hash_checked)
                fmt::print(stderr,
                           "{}: warning: the Hub sent no hash (ETag '{}'); only the size "
                           "was checked\n",
                           file, info.etag);
        }
    } catch (const NetworkError& e) {
        if (reached) throw;
        std::vector<std::string> missing;
        for (const auto& f : hub_model_files())
            if (!fs::exists(out / f)) missing.push_back(f);
        if (missing.empty()) {
            fmt::print(stderr,
                       "warning: {}\nall files of {} are in {}, but they could not be "
                       "checked against the Hub\n",
                       e.what(), repo, out.string());
            return;
        }
        fail(
            "[download] cannot reach the Hugging Face Hub ({}).\nFetch these files by hand (a "
            "browser or curl -L on a machine that is online) and put them where shown:{}\n"
            "then run the same command again when online to check them (sha256), or use the "
            "folder as it is: --model {}",
            e.what(), by_hand(repo, out, options.endpoint, missing), out.string());
    }
}

}  // namespace gradstack::gpt
