// A minimal HTTP/1.1 server on 127.0.0.1 that answers like the Hugging Face Hub, for testing
// downloads without a network: /<repo>/resolve/main/<file> gives a git file (200, ETag = git blob
// id) or an LFS file (302 to /cdn/<file> with X-Linked-Etag = sha256, X-Linked-Size); /cdn/<file>
// honours "Range: bytes=N-" and can cut the connection after `cut_after` bytes of body.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>

namespace gradstack::test {

struct FakeFile {
    std::string content;
    bool lfs = false;
    std::string etag;     // what the server claims (a sha256 for LFS, a blob id otherwise)
    long cut_after = -1;  // close the connection after this many body bytes (-1: never)
};

class FakeHub {
  public:
    std::map<std::string, FakeFile> files;  // by file name, for any repo
    std::atomic<int> range_requests{0};

    FakeHub() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        ::listen(fd_, 8);
    }
    ~FakeHub() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        if (thread_.joinable()) thread_.join();
    }
    void start() {
        thread_ = std::thread([this] { serve(); });
    }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    void serve() {
        for (;;) {
            const int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            answer(c);
            ::close(c);
        }
    }
    static void send_all(int c, const std::string& s) {
        for (size_t sent = 0; sent < s.size();) {
            const ssize_t n = ::send(c, s.data() + sent, s.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;
            sent += static_cast<size_t>(n);
        }
    }
    void answer(int c) {
        std::string request;
        char buffer[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
            const ssize_t n = ::recv(c, buffer, sizeof buffer, 0);
            if (n <= 0) return;
            request.append(buffer, static_cast<size_t>(n));
        }
        const bool head = request.rfind("HEAD ", 0) == 0;
        const auto path_begin = request.find(' ') + 1;
        const std::string path =
            request.substr(path_begin, request.find(' ', path_begin) - path_begin);
        const std::string name = path.substr(path.rfind('/') + 1);
        if (!files.count(name))
            return send_all(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        const FakeFile& f = files.at(name);
        const std::string size = std::to_string(f.content.size());
        if (path.find("/resolve/main/") != std::string::npos && f.lfs)
            return send_all(c, "HTTP/1.1 302 Found\r\nLocation: /cdn/" + name +
                                   "\r\nX-Linked-Etag: \"" + f.etag +
                                   "\"\r\nX-Linked-Size: " + size +
                                   "\r\nETag: \"not-the-hash\"\r\nContent-Length: 0\r\n\r\n");
        long from = 0;
        if (const auto r = request.find("Range: bytes="); r != std::string::npos) {
            from = std::stol(request.substr(r + 13));
            ++range_requests;
        }
        std::string body = f.content.substr(static_cast<size_t>(from));
        std::string reply = from > 0
                                ? "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " +
                                      std::to_string(from) + "-" +
                                      std::to_string(f.content.size() - 1) + "/" + size + "\r\n"
                                : std::string("HTTP/1.1 200 OK\r\n");
        reply += "ETag: \"" + f.etag + "\"\r\nContent-Length: " + std::to_string(body.size()) +
                 "\r\nConnection: close\r\n\r\n";
        if (head) return send_all(c, reply);
        if (f.cut_after >= 0 && from == 0) body = body.substr(0, static_cast<size_t>(f.cut_after));
        send_all(c, reply + body);
    }

    int fd_ = -1;
    int port_ = 0;
    std::thread thread_;
};

}  // namespace gradstack::test
