// `gradstack playground`'s JSON API, against a server started on 127.0.0.1 at a free port with the
// tiny checkpoint: /api/next equals softmax(logits) computed here and the generation module's
// warpers; /api/generate equals `gradstack generate` (greedy, sampling, beam search); trace shapes,
// rows summing to 1 and the causal zeros; saliency against float64 finite differences; every
// malformed request gets its 4xx while the server keeps serving; the 503 queue limit; a client
// that disconnects stops its generation.
#include <boost/test/unit_test.hpp>

#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/config.h"
#include "gpt/generation/logits_process.h"
#include "gpt/tokenizer/tokenizer.h"
#include "tests/test_env.h"

namespace gradstack {
namespace {

using nlohmann::json;
using testing::gradstack_bin;
using testing::source_dir;
using testing::test_data;

std::string tiny_dir() { return test_data("tiny_gpt2"); }
std::string tokenizer_dir() { return source_dir() + "/data/gpt2-tokenizer"; }

// The server, started once for the whole suite: `gradstack playground --port 0` prints its URL.
class PlaygroundServer {
public:
    PlaygroundServer() {
        int out[2];
        BOOST_REQUIRE(pipe(out) == 0);
        pid_ = fork();
        BOOST_REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);  // no server left behind if this test dies
            dup2(out[1], STDOUT_FILENO);
            close(out[0]);
            const std::string bin = gradstack_bin(), model = tiny_dir(), tok = tokenizer_dir();
            execl(bin.c_str(), bin.c_str(), "playground", "--model", model.c_str(), "--tokenizer",
                  tok.c_str(), "--port", "0", static_cast<char*>(nullptr));
            _exit(127);
        }
        close(out[1]);
        FILE* f = fdopen(out[0], "r");
        char line[1024] = {};
        BOOST_REQUIRE_MESSAGE(std::fgets(line, sizeof line, f), "the playground printed nothing");
        std::fclose(f);
        const std::string s = line;
        const auto at = s.find("http://127.0.0.1:");
        BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no URL in: " + s);
        port_ = std::stoi(s.substr(at + 17));
    }
    ~PlaygroundServer() {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
    }
    int port() const { return port_; }
    bool alive() const { return waitpid(pid_, nullptr, WNOHANG) == 0; }

private:
    pid_t pid_ = -1;
    int port_ = 0;
};

PlaygroundServer& server() {
    static PlaygroundServer s;
    return s;
}

httplib::Client client() {
    httplib::Client c("127.0.0.1", server().port());
    c.set_read_timeout(60, 0);
    return c;
}

struct Reply {
    int status = 0;
    json body;
};

Reply post(const std::string& path, const std::string& body) {
    auto r = client().Post(path.c_str(), body, "application/json");
    BOOST_REQUIRE_MESSAGE(r, "no answer from " + path);
    Reply out{r->status, json::parse(r->body, nullptr, false)};
    return out;
}
Reply post(const std::string& path, const json& body) { return post(path, body.dump()); }

// The events of a server-sent event stream, in order: (name, data).
std::vector<std::pair<std::string, json>> stream(const std::string& path, const json& body) {
    auto r = client().Post(path.c_str(), body.dump(), "application/json");
    BOOST_REQUIRE(r);
    BOOST_REQUIRE_MESSAGE(r->status == 200, r->body);
    std::vector<std::pair<std::string, json>> events;
    size_t start = 0;
    while (true) {
        const size_t end = r->body.find("\n\n", start);
        if (end == std::string::npos) break;
        const std::string block = r->body.substr(start, end - start);
        start = end + 2;
        const size_t nl = block.find('\n');
        BOOST_REQUIRE(block.rfind("event: ", 0) == 0 && nl != std::string::npos);
        events.emplace_back(block.substr(7, nl - 7), json::parse(block.substr(nl + 7)));
    }
    return events;
}

json cli_json(const std::string& args) {
    const std::string cmd = gradstack_bin() + " generate --model " + tiny_dir() + " --tokenizer " +
                            tokenizer_dir() + " --json " + args;
    FILE* p = popen(cmd.c_str(), "r");
    BOOST_REQUIRE(p);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    BOOST_REQUIRE_EQUAL(pclose(p), 0);
    return json::parse(out);
}

struct Model {
    std::shared_ptr<gpt::GPT2LMHeadModel> f32;
    gpt::Tokenizer tokenizer = gpt::Tokenizer::from_directory(tokenizer_dir());
    Model() : f32(gpt::load_pretrained(tiny_dir())) { f32->eval(); }
    // The next-token logits after `ids` (V,).
    Tensor last_logits(const std::vector<int64_t>& ids) {
        NoGradGuard no_grad;
        Tensor logits = f32->forward(from_vector(ids, {1, (int64_t)ids.size()})).logits;
        return contiguous(select(select(logits, 0, 0), 0, (int64_t)ids.size() - 1));
    }
};
Model& model() {
    static Model m;
    return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(playground)

BOOST_AUTO_TEST_CASE(model_info_and_page) {
    auto info = client().Get("/api/model");
    BOOST_REQUIRE(info && info->status == 200);
    json j = json::parse(info->body);
    BOOST_TEST(j["config"]["n_layer"] == 2);
    BOOST_TEST(j["parameters"].get<int64_t>() == model().f32->num_parameters());
    for (const char* path : {"/", "/index.html", "/app.js", "/style.css"}) {
        auto r = client().Get(path);
        BOOST_REQUIRE(r);
        BOOST_TEST(r->status == 200, path);
        BOOST_TEST(!r->body.empty(), path);
    }
}

// prob = softmax of the last logits; filtered_prob and kept = make_warpers (temperature, top-k,
// top-p in Hugging Face's order) then softmax, both computed here with the library.
BOOST_AUTO_TEST_CASE(next_equals_softmax_and_warpers) {
    struct Case {
        std::string text;
        double temperature;
        int64_t top_k;
        double top_p;
    };
    for (const Case& c : {Case{"Hello world", 0.7, 10, 0.9}, Case{"", 1.0, 0, 1.0},
                          Case{"The quick brown fox", 1.5, 0, 0.5}, Case{"a b", 0.3, 3, 1.0}}) {
        Reply r = post("/api/next", json{{"text", c.text}, {"temperature", c.temperature},
                                         {"top_k", c.top_k}, {"top_p", c.top_p}, {"n", 40}});
        BOOST_REQUIRE_MESSAGE(r.status == 200, r.body.dump());
        std::vector<int64_t> ids = model().tokenizer.encode(c.text);
        if (ids.empty()) ids = {50256};
        BOOST_TEST(r.body["ids"].get<std::vector<int64_t>>() == ids, boost::test_tools::per_element());
        Tensor logits = model().last_logits(ids);
        const auto probs = to_vector<float>(softmax(logits, -1));
        gpt::GenerationConfig g;
        g.temperature = c.temperature, g.top_k = c.top_k, g.top_p = c.top_p;
        Tensor scores = clone(reshape(logits, {1, logits.size(0)}));
        gpt::apply_processors(gpt::make_warpers(g), scores, {ids}, {0});
        const auto filtered = to_vector<float>(softmax(scores, -1));
        const auto kept = to_vector<float>(scores);
        const auto& top = r.body["top"];
        BOOST_REQUIRE_EQUAL(top.size(), 40u);
        double previous = 2;
        for (const auto& t : top) {
            const int64_t id = t["id"];
            BOOST_TEST(t["prob"].get<double>() <= previous);
            previous = t["prob"];
            BOOST_TEST(std::abs(t["prob"].get<double>() - probs[id]) <= 1e-6 * probs[id] + 1e-9);
            BOOST_TEST(std::abs(t["filtered_prob"].get<double>() - filtered[id]) <=
                       1e-6 * filtered[id] + 1e-9);
            BOOST_TEST(t["kept"].get<bool>() == std::isfinite(kept[id]));
            BOOST_TEST(t["text"] == model().tokenizer.decode_text({id}));
            if (!t["kept"].get<bool>()) BOOST_TEST(t["filtered_prob"].get<double>() == 0.0);
        }
        // The top token's probability is the largest of the whole distribution.
        BOOST_TEST(top[0]["prob"].get<double>() == *std::max_element(probs.begin(), probs.end()),
                   boost::test_tools::tolerance(1e-7));
    }
}

BOOST_AUTO_TEST_CASE(generate_equals_the_cli) {
    struct Case {
        json body;
        std::string cli;
    };
    const std::vector<Case> cases = {
        {{{"text", "Hello world"}, {"max_new_tokens", 12}}, "--greedy --max-new-tokens 12"},
        // Hot samples after Japanese: characters of several bytes that tokens split (seed 7's
        // also leave some unfinished, which both sides show as U+FFFD).
        {{{"text", "日本語のテキスト"}, {"max_new_tokens", 100}, {"strategy", "sample"},
          {"top_k", 0}, {"temperature", 3}, {"seed", 2}},
         "--sample --top-k 0 --temperature 3 --seed 2 --max-new-tokens 100"},
        {{{"text", "日本語のテキスト"}, {"max_new_tokens", 100}, {"strategy", "sample"},
          {"top_k", 0}, {"temperature", 3}, {"seed", 7}},
         "--sample --top-k 0 --temperature 3 --seed 7 --max-new-tokens 100"},
        {{{"text", "Once upon a time"}, {"strategy", "sample"}, {"max_new_tokens", 10},
          {"temperature", 0.9}, {"top_k", 20}, {"top_p", 0.95}, {"seed", 7},
          {"num_return_sequences", 2}},
         "--sample --max-new-tokens 10 --temperature 0.9 --top-k 20 --top-p 0.95 --seed 7 "
         "--num-return-sequences 2"},
        {{{"text", "The cat"}, {"strategy", "beam"}, {"max_new_tokens", 8}, {"num_beams", 3},
          {"num_return_sequences", 2}, {"no_repeat_ngram_size", 2}},
         "--num-beams 3 --max-new-tokens 8 --num-return-sequences 2 --no-repeat-ngram-size 2"},
    };
    int split = 0;  // tokens whose text is not what they complete: the delta path was taken
    for (const Case& c : cases) {
        const auto events = stream("/api/generate", c.body);
        const json cli = cli_json(c.cli + " --prompt '" + c.body["text"].get<std::string>() + "'");
        const auto& outputs = cli["prompts"][0]["outputs"];
        BOOST_REQUIRE(!events.empty());
        BOOST_TEST(events.front().first == "start");
        BOOST_TEST(events.back().first == "done");
        const auto& seqs = events.back().second["sequences"];
        BOOST_REQUIRE_EQUAL(seqs.size(), outputs.size());
        for (size_t k = 0; k < seqs.size(); ++k) {
            BOOST_TEST(seqs[k]["new_ids"] == outputs[k]["new_ids"], c.cli);
            BOOST_TEST(seqs[k]["text"] == outputs[k]["text"], c.cli);
            // The streamed tokens of sequence k, in order, are its ids.
            std::vector<int64_t> streamed;
            std::string deltas;
            for (const auto& [name, data] : events)
                if (name == "token" && data["seq"] == k) {
                    streamed.push_back(data["id"]);
                    deltas += data["delta"].get<std::string>();
                    split += data["delta"] != data["text"];
                    BOOST_TEST(data["prob"].get<double>() > 0.0);
                    BOOST_TEST(data["top"].size() == 5u);
                }
            BOOST_TEST(json(streamed) == outputs[k]["new_ids"], c.cli);
            BOOST_TEST(json(deltas) == outputs[k]["text"], c.cli);
        }
    }
    BOOST_TEST(split > 0);
}

BOOST_AUTO_TEST_CASE(trace_shapes_rows_and_causal_zeros) {
    Reply r = post("/api/trace", json{{"text", "Hello world, this is a test"}});
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body.dump());
    const auto ids = model().tokenizer.encode("Hello world, this is a test");
    const size_t T = ids.size(), L = 2, H = 4;
    const auto& a = r.body["attention"];
    BOOST_REQUIRE_EQUAL(a.size(), L);
    for (const auto& layer : a) {
        BOOST_REQUIRE_EQUAL(layer.size(), H);
        for (const auto& head : layer) {
            BOOST_REQUIRE_EQUAL(head.size(), T);
            for (size_t i = 0; i < T; ++i) {
                BOOST_REQUIRE_EQUAL(head[i].size(), T);
                double sum = 0;
                for (size_t j = 0; j < T; ++j) {
                    const double v = head[i][j];
                    if (j > i) BOOST_TEST(v == 0.0);
                    BOOST_TEST(v >= 0.0);
                    sum += v;
                }
                BOOST_TEST(sum == 1.0, boost::test_tools::tolerance(1e-5));
            }
        }
    }
    // The logit lens: L + 1 layers of T positions; the last layer is the model's own prediction.
    const auto& lens = r.body["lens"];
    BOOST_REQUIRE_EQUAL(lens.size(), L + 1);
    NoGradGuard no_grad;
    Tensor logits = select(model().f32->forward(from_vector(ids, {1, (int64_t)T})).logits, 0, 0);
    for (size_t t = 0; t < T; ++t) {
        const auto p = to_vector<float>(softmax(contiguous(select(logits, 0, t)), -1));
        const int64_t best = std::max_element(p.begin(), p.end()) - p.begin();
        BOOST_TEST(lens[L]["top"][t]["id"].get<int64_t>() == best);
        if (t + 1 < T) {
            const float target = p[ids[t + 1]];
            const int64_t rank = 1 + std::count_if(p.begin(), p.end(), [&](float x) { return x > target; });
            BOOST_TEST(lens[L]["next_rank"][t].get<int64_t>() == rank);
        } else {
            BOOST_TEST(lens[L]["next_rank"][t].is_null());
        }
    }
    for (const auto& layer : lens) BOOST_REQUIRE_EQUAL(layer["top"].size(), T);
}

// Saliency: d log p(target) / d e_j against central differences of the float64 model (weights of
// the float32 checkpoint widened): gradient x input is the derivative along e_j itself (scaling
// the embedding by 1 + eps), the gradient norm needs every coordinate.
BOOST_AUTO_TEST_CASE(saliency_matches_finite_differences) {
    const std::string text = "Hello world, this", forced = " is a";
    Reply r = post("/api/trace", json{{"text", text}, {"continuation", forced},
                                      {"attention", false}, {"lens", false}});
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body.dump());
    std::vector<int64_t> ids = model().tokenizer.encode(text);
    const size_t n_text = ids.size();
    for (int64_t id : model().tokenizer.encode(forced)) ids.push_back(id);
    const auto& sal = r.body["saliency"];
    BOOST_REQUIRE_EQUAL(sal.size(), ids.size() - n_text);

    gpt::GPT2Config c = gpt::load_config(tiny_dir() + "/config.json");
    c.dtype = DType::f64;
    gpt::GPT2LMHeadModel m64(c);
    nn::NamedTensors wide;
    for (const auto& [name, p] : model().f32->named_parameters()) wide.emplace_back(name, to_dtype(p, DType::f64));
    m64.load_state_dict(wide, true, "tiny f64");
    m64.eval();
    NoGradGuard no_grad;
    const int64_t C = c.n_embd;
    auto logp = [&](const std::vector<double>& e, int64_t p) {  // log p(ids[p] | embeds)
        gpt::ForwardOptions o;
        o.inputs_embeds = from_vector(e, {1, (int64_t)ids.size(), C});
        o.use_cache = false;
        Tensor lp = log_softmax(select(select(m64.forward(Tensor(), o).logits, 0, 0), 0, p - 1), -1);
        return element_at(lp, {ids[p]});
    };
    const std::vector<double> e0 = to_vector<double>(
        m64.transformer->wte->forward(from_vector(ids, {1, (int64_t)ids.size()})));
    for (const auto& s : sal) {
        const int64_t p = s["position"];
        BOOST_TEST(s["id"].get<int64_t>() == ids[p]);
        BOOST_TEST(s["logprob"].get<double>() == logp(e0, p), boost::test_tools::tolerance(1e-4));
        BOOST_REQUIRE_EQUAL(s["grad_x_input"].size(), static_cast<size_t>(p));
        for (int64_t j = 0; j < p; ++j) {
            const double eps = 1e-5;
            auto scaled = [&](double f) {
                std::vector<double> e = e0;
                for (int64_t k = 0; k < C; ++k) e[j * C + k] *= f;
                return logp(e, p);
            };
            const double gxi = (scaled(1 + eps) - scaled(1 - eps)) / (2 * eps);
            BOOST_TEST(std::abs(s["grad_x_input"][j].get<double>() - gxi) <= 1e-4 + 1e-3 * std::abs(gxi),
                       "grad x input, target " << p << ", token " << j << ": " << s["grad_x_input"][j]
                                                << " vs " << gxi);
            double sq = 0;
            for (int64_t k = 0; k < C; ++k) {
                std::vector<double> plus = e0, minus = e0;
                plus[j * C + k] += eps;
                minus[j * C + k] -= eps;
                const double g = (logp(plus, p) - logp(minus, p)) / (2 * eps);
                sq += g * g;
            }
            BOOST_TEST(s["grad_norm"][j].get<double>() == std::sqrt(sq),
                       boost::test_tools::tolerance(1e-3));
        }
    }
}

BOOST_AUTO_TEST_CASE(malformed_requests_get_4xx_and_the_server_keeps_serving) {
    const std::string long_text(30000, 'a');
    struct Case {
        std::string path, body;
        int status;
        std::string field;
    };
    const std::vector<Case> cases = {
        {"/api/next", "{", 400, "body"},
        {"/api/next", "", 400, "body"},
        {"/api/next", "[1, 2]", 400, "body"},
        {"/api/next", "\"text\"", 400, "body"},
        {"/api/next", "{\"text\": \"\xff\xfe\"}", 400, "body"},  // invalid UTF-8
        {"/api/next", "{\"text\": \"\xc3\"}", 400, "body"},      // a cut character
        // 100,000 levels (issue 18): refused before parsing, never printed back whole
        {"/api/next", "{\"text\": " + std::string(100000, '[') + std::string(100000, ']') + "}",
         400, "body"},
        {"/api/pplm", "{\"text\": \"a\", \"bags\": [[[[1]]]]}", 400, "bags"},
        {"/api/next", "{}", 400, "text"},
        {"/api/next", "{\"text\": 5}", 400, "text"},
        {"/api/next", "{\"text\": [\"a\"]}", 400, "text"},
        {"/api/next", "{\"text\": \"a\", \"temperature\": 0}", 400, "temperature"},
        {"/api/next", "{\"text\": \"a\", \"temperature\": \"hot\"}", 400, "temperature"},
        {"/api/next", "{\"text\": \"a\", \"top_k\": -1}", 400, "top_k"},
        {"/api/next", "{\"text\": \"a\", \"top_k\": 2.5}", 400, "top_k"},
        {"/api/next", "{\"text\": \"a\", \"top_k\": 1e300}", 400, "top_k"},
        {"/api/next", "{\"text\": \"a\", \"top_k\": 18446744073709551615}", 400, "top_k"},
        {"/api/next", "{\"text\": \"a\", \"top_p\": 1.5}", 400, "top_p"},
        {"/api/next", "{\"text\": \"a\", \"n\": 0}", 400, "n"},
        {"/api/next", "{\"text\": \"a\", \"n\": true}", 400, "n"},
        {"/api/next", json{{"text", long_text}}.dump(), 400, "text"},
        {"/api/trace", json{{"text", std::string(2000, 'x') + " y z"}}.dump(), 400, "text"},
        {"/api/trace", "{\"text\": \"a\", \"continuation\": 3}", 400, "continuation"},
        {"/api/trace", "{\"text\": \"a\", \"lens\": \"yes\"}", 400, "lens"},
        {"/api/generate", "{\"text\": \"a\", \"max_new_tokens\": 100000}", 400, "max_new_tokens"},
        {"/api/generate", "{\"text\": \"a\", \"max_new_tokens\": 0}", 400, "max_new_tokens"},
        {"/api/generate", "{\"text\": \"a\", \"strategy\": \"magic\"}", 400, "strategy"},
        {"/api/generate", "{\"text\": \"a\", \"strategy\": \"beam\", \"num_beams\": 99}", 400,
         "num_beams"},
        {"/api/generate", "{\"text\": \"a\", \"strategy\": \"beam\", \"num_beams\": 2, "
                          "\"num_return_sequences\": 3}", 400, "num_return_sequences"},
        {"/api/generate", "{\"text\": \"a\", \"strategy\": \"sample\", \"seed\": -1}", 400,
         "seed"},
        {"/api/generate", "{\"text\": \"a\", \"strategy\": \"sample\", \"top_p\": 0}", 400,
         "top_p"},
        {"/api/pplm", "{\"text\": \"a\"}", 400, "bags"},
        {"/api/pplm", "{\"text\": \"a\", \"bags\": [\"/etc/passwd\"]}", 400, "bags"},
        {"/api/pplm", "{\"text\": \"a\", \"bags\": \"space\"}", 400, "bags"},
        {"/api/pplm", "{\"text\": \"a\", \"discrim\": \"../../x\"}", 400, "discrim"},
        {"/api/pplm", "{\"text\": \"a\", \"bags\": [\"space\"], \"length\": 1000}", 400, "length"},
        {"/api/nothing", "{}", 404, ""},
        {"/api/next", std::string(2 << 20, ' '), 413, ""},
    };
    for (const Case& c : cases) {
        Reply r = post(c.path, c.body);
        BOOST_TEST(r.status == c.status, c.path << " " << c.body.substr(0, 80) << ": " << r.status);
        BOOST_TEST(r.body.is_object(), c.path << " " << c.body.substr(0, 80));
        if (r.body.is_object()) {
            BOOST_TEST(r.body.contains("error"));
            if (!c.field.empty()) BOOST_TEST(r.body.value("field", "") == c.field, c.body.substr(0, 80));
        }
        BOOST_REQUIRE(server().alive());
    }
    auto get = client().Get("/api/next");
    BOOST_REQUIRE(get);
    BOOST_TEST(get->status == 405);
    Reply ok = post("/api/next", json{{"text", "still here"}});
    BOOST_TEST(ok.status == 200);
    // A JSON body under the 1 MiB cap is read whole (unknown fields are ignored).
    BOOST_TEST(post("/api/next", json{{"text", "a"}, {"pad", std::string(500000, 'x')}}).status == 200);
}

// One computation at a time, 4 waiting: a burst of slow requests gets some 503s (JSON), the
// rest their answers, and the server serves afterwards.
BOOST_AUTO_TEST_CASE(queue_limit_answers_503) {
    std::string text;
    for (int i = 0; i < 60; ++i) text += " word";
    const std::string body = json{{"text", text}}.dump();
    std::atomic<int> ok{0}, busy{0}, other{0};
    for (int round = 0; round < 5 && busy == 0; ++round) {
        std::vector<std::thread> threads;
        for (int i = 0; i < 12; ++i)
            threads.emplace_back([&] {
                httplib::Client c("127.0.0.1", server().port());
                c.set_read_timeout(120, 0);
                auto r = c.Post("/api/trace", body, "application/json");
                if (r && r->status == 200) {
                    ++ok;
                } else if (r && r->status == 503 &&
                           json::parse(r->body, nullptr, false).contains("error")) {
                    ++busy;
                } else {
                    ++other;
                }
            });
        for (auto& t : threads) t.join();
    }
    BOOST_TEST(busy.load() > 0);
    BOOST_TEST(ok.load() >= 5);  // the one running and the four waiting of a round
    BOOST_TEST(other.load() == 0);
    auto info = json::parse(client().Get("/api/model")->body);
    BOOST_TEST(info["queue"]["rejected"].get<int>() >= busy.load());
    BOOST_TEST(info["queue"]["peak_waiting"].get<int>() <= 4);
    BOOST_TEST(post("/api/next", json{{"text", "after the burst"}}).status == 200);
}

// A client that reads one token event and hangs up: the server stops that generation (counted in
// /api/model's queue.cancelled) and frees the model.
BOOST_AUTO_TEST_CASE(disconnect_stops_generation) {
    const int before = json::parse(client().Get("/api/model")->body)["queue"]["cancelled"];
    httplib::Client c("127.0.0.1", server().port());
    httplib::Request req;
    req.method = "POST";
    req.path = "/api/generate";
    req.body = json{{"text", "a"}, {"max_new_tokens", 120}, {"ignore_eos", true}}.dump();
    req.set_header("Content-Type", "application/json");
    std::string got;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        got.append(data, n);
        return got.find("event: token") == std::string::npos;  // false: hang up
    };
    c.send(req);
    BOOST_TEST(got.find("event: token") != std::string::npos);
    bool stopped = false;
    for (int i = 0; i < 100 && !stopped; ++i) {
        auto q = json::parse(client().Get("/api/model")->body)["queue"];
        stopped = q["cancelled"].get<int>() > before && !q["busy"].get<bool>();
        if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    BOOST_TEST(stopped);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace gradstack
