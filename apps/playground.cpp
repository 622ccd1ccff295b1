// `gradstack playground`: a local web page to look inside a GPT-2 while it generates. This file is
// the HTTP side (cpp-httplib): the page's files, compiled in from apps/playground/, the JSON API
// of apps/playground_api.h, one computation at a time behind a bounded queue (503 beyond), body
// caps, and server-sent event streams that stop when their client goes away.
// API reference: apps/README.md, "gradstack playground".
#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <httplib.h>
#include <mutex>

#include "apps/cli_common.h"
#include "apps/command.h"
#include "apps/playground_api.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::apps {

// The page's files, generated at build time from apps/playground/ by apps/playground/embed.cmake.
namespace playground_assets {
struct Asset {
    const char* path;  // "/app.js"
    const char* content_type;
    const unsigned char* data;
    size_t size;
};
extern const Asset kAssets[];
extern const size_t kAssetCount;
}  // namespace playground_assets

namespace {

using nlohmann::json;
using namespace playground;

constexpr size_t kMaxBodyBytes = 1 << 20;  // a request body; the text itself is capped lower
constexpr int kMaxBodyDepth = 16;          // JSON nesting of a body ({"bags": [...]} is 2)
constexpr int64_t kMaxWaiting = 4;         // requests waiting for the model; more get 503
constexpr int kServerThreads = 16;         // more than 1 + kMaxWaiting, so 503s come at once

// The model runs one computation at a time. A request takes a ticket: it waits (at most
// kMaxWaiting of them wait) until the model is free and holds it until the ticket is destroyed.
class Gate {
public:
    struct Stats {
        int64_t served = 0, rejected = 0, cancelled = 0, peak_waiting = 0;
    };

    // nullptr when the queue is full (the caller answers 503).
    std::shared_ptr<void> enter() {
        std::unique_lock lock(mutex_);
        if (waiting_ >= kMaxWaiting) {  // (even while free: those waiting take it first)
            ++stats_.rejected;
            return nullptr;
        }
        ++waiting_;
        stats_.peak_waiting = std::max(stats_.peak_waiting, waiting_);
        free_.wait(lock, [&] { return !busy_; });
        --waiting_;
        busy_ = true;
        ++stats_.served;
        return std::shared_ptr<void>(this, [](Gate* gate) {  // owns nothing: frees the model
            std::lock_guard release(gate->mutex_);
            gate->busy_ = false;
            gate->free_.notify_one();
        });
    }
    void cancelled() {
        std::lock_guard lock(mutex_);
        ++stats_.cancelled;
    }
    json status() {
        std::lock_guard lock(mutex_);
        return {{"busy", busy_}, {"waiting", waiting_}, {"max_waiting", kMaxWaiting},
                {"served", stats_.served}, {"rejected", stats_.rejected},
                {"cancelled", stats_.cancelled}, {"peak_waiting", stats_.peak_waiting}};
    }

private:
    std::mutex mutex_;
    std::condition_variable free_;
    bool busy_ = false;
    int64_t waiting_ = 0;
    Stats stats_;
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::string& field = "") {
    json body = {{"error", message}};
    if (!field.empty()) body["field"] = field;
    send_json(res, status, body);
}

// The body as a JSON object, or a 400 already answered (nullopt).
std::optional<json> parse_body(const httplib::Request& req, httplib::Response& res) {
    if (req.body.size() > kMaxBodyBytes) {
        send_error(res, 413, fmt::format("the body is {} bytes, more than {}", req.body.size(),
                                         kMaxBodyBytes), "body");
        return std::nullopt;
    }
    json body;
    try {
        // Rejects invalid UTF-8 inside strings, and nesting no request needs (a body of 100,000
        // '[' would otherwise be built, and could be printed into a message, whole).
        body = parse_json(req.body, "the body", kMaxBodyDepth);
    } catch (const Error& e) {
        send_error(res, 400, excerpt(e.what(), 300), "body");
        return std::nullopt;
    }
    if (!body.is_object()) {
        send_error(res, 400, "the body must be a JSON object", "body");
        return std::nullopt;
    }
    return body;
}

// Runs `f` and answers its exceptions: BadRequest and other gradstack::Errors (bad input the
// model code caught) as 400, anything else as 500.
template <class F>
void answer(httplib::Response& res, F&& f) {
    try {
        f();
    } catch (const BadRequest& e) {
        send_error(res, 400, e.what(), e.field());
    } catch (const Error& e) {
        send_error(res, 400, e.what());
    } catch (const std::exception& e) {
        send_error(res, 500, std::string("internal error: ") + e.what());
    }
}

struct Server {
    explicit Server(Session s) : session(std::move(s)) {}
    Session session;
    Gate gate;
    httplib::Server http;

    // POST endpoints answering one JSON object.
    void post_json(const std::string& path, json (*compute)(Session&, const json&)) {
        http.Post(path, [this, compute](const httplib::Request& req, httplib::Response& res) {
            auto body = parse_body(req, res);
            if (!body) return;
            answer(res, [&] {
                auto ticket = gate.enter();
                if (!ticket) return send_error(res, 503, "the model is busy: too many requests "
                                                         "are waiting; retry later");
                send_json(res, 200, compute(session, *body));
            });
        });
    }

    // POST endpoints streaming server-sent events ("event: NAME\ndata: JSON\n\n"). The body is
    // checked first (400), then a ticket taken (503), then the stream runs; a failed write (the
    // client went away) stops the computation.
    void post_stream(const std::string& path, void (*check_body)(const Session&, const json&),
                     void (*run)(Session&, const json&, const Emit&)) {
        http.Post(path, [this, check_body, run](const httplib::Request& req,
                                                httplib::Response& res) {
            auto body = parse_body(req, res);
            if (!body) return;
            answer(res, [&] {
                check_body(session, *body);
                auto ticket = gate.enter();
                if (!ticket) return send_error(res, 503, "the model is busy: too many requests "
                                                         "are waiting; retry later");
                res.set_header("Cache-Control", "no-cache");
                res.set_chunked_content_provider(
                    "text/event-stream",
                    [this, run, ticket, body = *body](size_t, httplib::DataSink& sink) mutable {
                        Emit emit = [&](const std::string& event, const json& data) {
                            const std::string msg = "event: " + event + "\ndata: " + dump(data) +
                                                    "\n\n";
                            return sink.is_writable() && sink.write(msg.data(), msg.size());
                        };
                        try {
                            run(session, body, emit);
                        } catch (const Cancelled&) {
                            gate.cancelled();
                            ticket.reset();
                            return false;
                        } catch (const std::exception& e) {
                            emit("error", {{"error", e.what()}});
                        }
                        ticket.reset();
                        sink.done();
                        return true;
                    });
            });
        });
    }

    void routes() {
        for (size_t i = 0; i < playground_assets::kAssetCount; ++i) {
            const auto& a = playground_assets::kAssets[i];
            auto serve = [a](const httplib::Request&, httplib::Response& res) {
                res.set_content(reinterpret_cast<const char*>(a.data), a.size, a.content_type);
            };
            http.Get(a.path, serve);
            if (std::string(a.path) == "/index.html") http.Get("/", serve);
        }
        http.Get("/api/model", [this](const httplib::Request&, httplib::Response& res) {
            json info = model_info(session);
            info["queue"] = gate.status();
            send_json(res, 200, info);
        });
        post_json("/api/next", next_tokens);
        post_json("/api/trace", trace);
        post_stream("/api/generate", check_generate, generate);
        post_stream("/api/pplm", check_pplm, run_pplm);
        for (const char* path : {"/api/next", "/api/trace", "/api/generate", "/api/pplm"})
            http.Get(path, [](const httplib::Request&, httplib::Response& res) {
                send_error(res, 405, "use POST with a JSON body");
            });
        // Errors httplib answers itself (404, 413, ...) get a JSON body too.
        http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
            if (!res.body.empty()) return;
            if (res.status == 413)  // cpp-httplib caps form-encoded bodies (curl -d's) at 8 KiB
                return send_error(res, 413, fmt::format(
                    "the body is too large: at most {} bytes as application/json, 8 KiB as "
                    "application/x-www-form-urlencoded (curl -d without -H 'Content-Type: "
                    "application/json')", kMaxBodyBytes), "body");
            send_error(res, res.status, fmt::format("HTTP {}", res.status));
        });
        http.set_payload_max_length(kMaxBodyBytes);
        http.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
    }
};

bool is_loopback(const std::string& host) {
    return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

int run_playground(int argc, char** argv) {
    CLI::App app{"A local web page to look inside a GPT-2 while it generates: next-token "
                 "probabilities, generation, attention, logit lens, saliency, PPLM."};
    std::string model_dir, tokenizer_dir, host = "127.0.0.1";
    int port = 8080;
    bool open = false;
    app.add_option("--model", model_dir, "model folder (config.json + model.safetensors)")
        ->required();
    app.add_option("--tokenizer", tokenizer_dir,
                   "tokenizer folder (default: the model folder when it has one, else "
                   "data/gpt2-tokenizer)");
    app.add_option("--port", port, "port to listen on (0: any free port, printed)")
        ->capture_default_str()
        ->check(integer_in(0, 65535));
    app.add_option("--host", host, "address to bind (anything but loopback exposes the model)")
        ->capture_default_str();
    app.add_flag("--open", open, "open the page in the default browser (xdg-open)");
    if (auto rc = parse_flags(app, argc, argv)) return *rc;

    auto server = std::make_unique<Server>(load_session(model_dir, tokenizer_dir));
    server->routes();
    if (!is_loopback(host))
        fmt::print(stderr,
                   "warning: --host {} makes the model reachable from the network; the "
                   "playground has no authentication\n", host);
    std::signal(SIGPIPE, SIG_IGN);  // a client that vanished must not end the server
    if (port == 0) {
        port = server->http.bind_to_any_port(host);
        check(port > 0, "[playground] --host {}: cannot bind any port", host);
    } else {
        check(server->http.bind_to_port(host, port),
              "[playground] --host {} --port {}: cannot bind (in use? try --port 0)", host, port);
    }
    const std::string url = fmt::format("http://{}:{}/", host.find(':') != std::string::npos
                                                              ? "[" + host + "]" : host, port);
    fmt::print("gradstack playground: {} (model {}, {} parameters); Ctrl-C stops\n", url,
               model_dir, server->session.model->num_parameters());
    std::fflush(stdout);
    if (open) {
        if (std::system("command -v xdg-open >/dev/null 2>&1") == 0)
            (void)std::system(fmt::format("xdg-open '{}' >/dev/null 2>&1 &", url).c_str());
        else
            fmt::print(stderr, "warning: --open: no xdg-open here; open {} yourself\n", url);
    }
    check(server->http.listen_after_bind(), "[playground] the server stopped with an error");
    return 0;
}

const bool registered = register_command(
    {"playground", "a local web page to look inside a GPT-2 while it generates",
     run_playground});

}  // namespace

}  // namespace gradstack::apps
