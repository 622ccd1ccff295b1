// What `gradstack playground` computes for its page, one function per API endpoint: request JSON
// in, response JSON (or a stream of events) out. No HTTP here (that is playground.cpp), so every
// number can be read as "what the model says": next-token tables with the sampling warpers,
// streamed generation, attention maps, the logit lens, saliency by autograd, PPLM side by side.
// The request fields and answers are documented in apps/README.md ("gradstack playground").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "gpt/model.h"
#include "gpt/tokenizer/tokenizer.h"
#include "tensor/error.h"

namespace gradstack::apps::playground {

using nlohmann::json;

// The caps on what one request may ask for (HTTP 400 beyond, naming the field).
struct Limits {
    int64_t max_text_bytes = 20000;     // text, continuation
    int64_t max_new_tokens = 256;       // generate
    int64_t max_pplm_tokens = 60;       // pplm length
    int64_t max_trace_tokens = 64;      // trace: text + continuation, attention is L*H*T*T floats
    int64_t max_saliency_targets = 16;  // trace: forced continuation tokens explained
    int64_t max_beams = 8;
    int64_t max_samples = 8;            // sampling's num_return_sequences
    int64_t max_top_n = 200;            // next: n
};

// A request the page (or a script) got wrong: HTTP 400 with {"error": message, "field": field}.
class BadRequest : public Error {
public:
    BadRequest(std::string field, const std::string& message)
        : Error(message), field_(std::move(field)) {}
    const std::string& field() const { return field_; }

private:
    std::string field_;
};

// Thrown out of a computation when its client has gone away (the stream's write failed).
struct Cancelled {};

// The loaded model and what it needs; one per server. Not thread-safe: the server runs one
// computation at a time.
struct Session {
    std::shared_ptr<gpt::GPT2LMHeadModel> model;  // eval mode, parameters frozen
    gpt::Tokenizer tokenizer;
    std::string model_dir;
    Limits limits;
};

// Loads DIR (and its tokenizer, as `gradstack generate` finds it).
Session load_session(const std::string& model_dir, const std::string& tokenizer_dir);

// GET /api/model: config, parameter count, limits, built-in bags, discriminators found.
json model_info(const Session& s);
// POST /api/next: the contract of issue 16 (see apps/README.md).
json next_tokens(Session& s, const json& body);
// POST /api/trace: attention [L][H][T][T], logit lens, saliency.
json trace(Session& s, const json& body);

// Streams: `emit(event, data)` sends one server-sent event and returns false when the client has
// gone, which stops the computation (Cancelled). check_* validates a body before the stream
// starts, so that a bad request gets its 400 rather than an error event.
using Emit = std::function<bool(const std::string& event, const json& data)>;
void check_generate(const Session& s, const json& body);
void generate(Session& s, const json& body, const Emit& emit);  // POST /api/generate
void check_pplm(const Session& s, const json& body);
void run_pplm(Session& s, const json& body, const Emit& emit);  // POST /api/pplm

}  // namespace gradstack::apps::playground
