// The playground's computations (see playground_api.h). Every function reads its request with
// the small typed getters below, which throw BadRequest naming the field, then runs the model
// under a NoGradGuard (saliency and PPLM record a graph: they need gradients with respect to
// activations; the parameters stay frozen). Field reference: apps/README.md.
#include "apps/playground_api.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "apps/cli_common.h"
#include "tensor/json.h"
#include "apps/pplm_flags.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/generation/decoder.h"
#include "gpt/generation/generate.h"
#include "gpt/generation/logits_process.h"
#include "gpt/tokenizer/utf8.h"
#include "pplm/bow.h"
#include "pplm/classifier.h"
#include "pplm/generate.h"

namespace gradstack::apps::playground {

namespace {

namespace fs = std::filesystem;

// ---- typed request fields: a missing field takes its default, a wrong one is a BadRequest ----

const json* find_field(const json& body, const char* name) {
    auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::string get_string(const json& body, const char* name, const Limits& limits,
                       bool required = false, const std::string& fallback = "") {
    const json* v = find_field(body, name);
    if (!v) {
        if (required) throw BadRequest(name, fmt::format("'{}' is required (a string)", name));
        return fallback;
    }
    if (!v->is_string()) throw BadRequest(name, fmt::format("'{}' must be a string", name));
    const auto& s = v->get_ref<const std::string&>();
    if (static_cast<int64_t>(s.size()) > limits.max_text_bytes)
        throw BadRequest(name, fmt::format("'{}' is {} bytes, more than the limit of {}", name,
                                           s.size(), limits.max_text_bytes));
    return s;
}

// A number in [lo, hi] (lo excluded when lo_open).
double get_number(const json& body, const char* name, double fallback, double lo, double hi,
                  bool lo_open = false) {
    const json* v = find_field(body, name);
    if (!v) return fallback;
    if (!v->is_number()) throw BadRequest(name, fmt::format("'{}' must be a number", name));
    const double x = v->get<double>();
    if (!(lo_open ? x > lo : x >= lo) || !(x <= hi))
        throw BadRequest(name, fmt::format("'{}' = {} is outside {}{}, {}]", name, x,
                                           lo_open ? "(" : "[", lo, hi));
    return x;
}

int64_t get_int(const json& body, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
    const json* v = find_field(body, name);
    if (!v) return fallback;
    if (!v->is_number_integer())
        throw BadRequest(name, fmt::format("'{}' must be an integer", name));
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi))
        throw BadRequest(name, fmt::format("'{}' is outside [{}, {}]", name, lo, hi));
    const int64_t x = v->get<int64_t>();
    if (x < lo || x > hi)
        throw BadRequest(name, fmt::format("'{}' = {} is outside [{}, {}]", name, x, lo, hi));
    return x;
}

bool get_bool(const json& body, const char* name, bool fallback) {
    const json* v = find_field(body, name);
    if (!v) return fallback;
    if (!v->is_boolean()) throw BadRequest(name, fmt::format("'{}' must be true or false", name));
    return v->get<bool>();
}

// ---- tokens ----

// The text's tokens with nothing added; an empty text is <|endoftext|> alone.
std::vector<int64_t> text_ids(const Session& s, const std::string& text, const char* field) {
    const auto& c = s.model->config();
    std::vector<int64_t> ids = s.tokenizer.encode(text);
    if (ids.empty()) ids.push_back(s.tokenizer.eot_id() >= 0 ? s.tokenizer.eot_id() : c.bos_token_id);
    for (int64_t id : ids)
        if (id < 0 || id >= c.vocab_size)
            throw BadRequest(field, fmt::format("token {} of '{}' is outside the model's "
                                                "vocabulary of {}", id, field, c.vocab_size));
    if (static_cast<int64_t>(ids.size()) > c.n_positions)
        throw BadRequest(field, fmt::format("'{}' is {} tokens, more than the model's "
                                            "n_positions = {}", field, ids.size(), c.n_positions));
    return ids;
}

std::string piece(const Session& s, int64_t id) { return s.tokenizer.decode_text({id}); }

json token_json(const Session& s, int64_t id) { return {{"id", id}, {"text", piece(s, id)}}; }

Tensor ids_tensor(const std::vector<int64_t>& ids) {
    return from_vector(ids, {1, static_cast<int64_t>(ids.size())});
}

std::span<float> row_of(const Tensor& scores, int64_t r) {
    const int64_t V = scores.size(1);
    return {scores.data<float>() + r * V, static_cast<size_t>(V)};
}

// The n largest entries of `p`, largest first, ties by lower id.
std::vector<int64_t> top_ids(std::span<const float> p, int64_t n) {
    std::vector<int64_t> idx(p.size());
    std::iota(idx.begin(), idx.end(), 0);
    n = std::min<int64_t>(n, static_cast<int64_t>(idx.size()));
    std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int64_t a, int64_t b) {
        return p[a] > p[b] || (p[a] == p[b] && a < b);
    });
    idx.resize(n);
    return idx;
}

// softmax of logits (V) as a float32 vector, with the library's softmax.
std::vector<float> softmax_of(const Tensor& logits) {
    return to_vector<float>(softmax(contiguous(logits), -1));
}

// The next-token logits (V,) after position t of a last hidden state h (1, T, C) (after ln_f):
// the tied head on that one row, instead of on all T rows as forward() would.
Tensor head_at(gpt::GPT2LMHeadModel& model, const Tensor& h, int64_t t) {
    const Tensor row = reshape(select(select(h, 0, 0), 0, t), {1, h.size(2)});
    return reshape(matmul(row, transpose(model.transformer->wte->weight, 0, 1)), {-1});
}

// The top alternatives of a next-token distribution, for hovering over a generated token.
json alternatives(const Session& s, const std::vector<float>& probs, int64_t n = 5) {
    json out = json::array();
    for (int64_t id : top_ids(probs, n)) {
        json t = token_json(s, id);
        t["prob"] = probs[id];
        out.push_back(std::move(t));
    }
    return out;
}

// ---- attention and the logit lens ----

// x to 6 significant digits, which JSON then writes in at most 12 characters instead of 17 (the
// attention of GPT-2 124M at 64 tokens is 590k numbers).
double short_float(float x) { return std::strtod(fmt::format("{:.6g}", x).c_str(), nullptr); }

// Layer l's attention probabilities (n_head, T, T), recomputed from its input hidden state the
// way nn/layers/attention.cpp does: q, k from c_attn(ln_1(x)), softmax(q k^T / sqrt(hs)) over
// the keys j <= i; the entries j > i are the causal zeros. In double, rounded to float32.
std::vector<float> attention_probs(gpt::GPT2LMHeadModel& model, int64_t l, const Tensor& x) {
    auto& block = (*model.transformer->h)[l];
    Tensor qkv = contiguous(block.attn->c_attn->forward(block.ln_1->forward(x)));  // (1, T, 3C)
    const int64_t T = x.size(1), C = x.size(2), H = model.config().n_head, hs = C / H;
    const float* d = qkv.data<float>();
    std::vector<float> out(static_cast<size_t>(H * T * T), 0.0f);
    std::vector<double> row(T);
    const double scale = 1.0 / std::sqrt(static_cast<double>(hs));
    for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < T; ++i) {
            const float* q = d + i * 3 * C + h * hs;
            double top = -INFINITY, total = 0;
            for (int64_t j = 0; j <= i; ++j) {
                const float* k = d + j * 3 * C + C + h * hs;
                double dot = 0;
                for (int64_t e = 0; e < hs; ++e) dot += static_cast<double>(q[e]) * k[e];
                row[j] = dot * scale;
                top = std::max(top, row[j]);
            }
            for (int64_t j = 0; j <= i; ++j) total += row[j] = std::exp(row[j] - top);
            for (int64_t j = 0; j <= i; ++j)
                out[(h * T + i) * T + j] = static_cast<float>(row[j] / total);
        }
    return out;
}

// For residual stream `h` (1, T, C) already through ln_f, or the model's logits when given: per
// position the top token and its probability, and the rank (1 = top) and probability of the
// actual next token ids[t + 1].
json lens_layer(const Session& s, const Tensor& logits, const std::vector<int64_t>& ids) {
    const int64_t T = logits.size(1);
    json top = json::array(), rank = json::array(), next_prob = json::array();
    Tensor probs = contiguous(softmax(logits, -1));  // (1, T, V)
    const int64_t V = probs.size(2);
    for (int64_t t = 0; t < T; ++t) {
        std::span<const float> p(probs.data<float>() + t * V, static_cast<size_t>(V));
        const int64_t best = top_ids(p, 1)[0];
        json b = token_json(s, best);
        b["prob"] = p[best];
        top.push_back(std::move(b));
        if (t + 1 < T) {
            const float target = p[ids[t + 1]];
            rank.push_back(1 + std::count_if(p.begin(), p.end(), [&](float x) { return x > target; }));
            next_prob.push_back(target);
        } else {
            rank.push_back(nullptr);
            next_prob.push_back(nullptr);
        }
    }
    return {{"top", top}, {"next_rank", rank}, {"next_prob", next_prob}};
}

// ---- saliency ----

// d log p(ids[p] | ids[< p]) / d e_j for every input embedding e_j = wte[ids[j]] (j < p), by
// backpropagation through the model fed inputs_embeds: gradient x input g_j . e_j and |g_j|.
// One forward over the whole sequence; one backward per target (causality makes the gradient
// of later positions zero, so they are left out).
json saliency(Session& s, const std::vector<int64_t>& ids, const std::vector<int64_t>& targets) {
    auto& model = *s.model;
    const int64_t C = model.config().n_embd;
    Tensor embeds;
    {
        NoGradGuard no_grad;
        embeds = contiguous(model.transformer->wte->forward(ids_tensor(ids)));  // (1, T, C)
    }
    embeds.requires_grad_();
    gpt::ForwardOptions o;
    o.inputs_embeds = embeds;
    o.use_cache = false;
    o.output_hidden_states = true;
    o.logits = false;  // the head runs on the explained positions only
    const Tensor h = model.forward(Tensor(), o).hidden_states.back();  // (1, T, C), after ln_f
    const std::vector<float> e = to_vector<float>(embeds);
    json out = json::array();
    for (size_t k = 0; k < targets.size(); ++k) {
        const int64_t p = targets[k];
        embeds.zero_grad();
        Tensor lp = select(log_softmax(head_at(model, h, p - 1), -1), 0, ids[p]);
        lp.backward(Tensor(), k + 1 < targets.size());
        const std::vector<float> g = to_vector<float>(embeds.grad());
        json gxi = json::array(), norm = json::array();
        for (int64_t j = 0; j < p; ++j) {
            double dot = 0, sq = 0;
            for (int64_t c = 0; c < C; ++c) {
                dot += static_cast<double>(g[j * C + c]) * e[j * C + c];
                sq += static_cast<double>(g[j * C + c]) * g[j * C + c];
            }
            gxi.push_back(static_cast<float>(dot));
            norm.push_back(static_cast<float>(std::sqrt(sq)));
        }
        json t = token_json(s, ids[p]);
        t["position"] = p;
        t["logprob"] = lp.item<float>();
        t["grad_x_input"] = std::move(gxi);
        t["grad_norm"] = std::move(norm);
        out.push_back(std::move(t));
    }
    return out;
}

// ---- generation ----

// Streams a row of tokens as text: each token's bytes are appended and what is complete so far
// goes out as valid UTF-8, so a character split across tokens arrives with the token that
// completes it; with flush() at the end, the pieces add up to decode_text() of the whole row.
class TextStream {
public:
    std::string push(const std::string& bytes, bool last) {
        pending_ += bytes;
        const size_t keep = last ? 0 : incomplete_tail();
        std::string out =
            gpt::utf8_replace_invalid(std::string_view(pending_).substr(0, pending_.size() - keep));
        pending_.erase(0, pending_.size() - keep);
        return out;
    }

private:
    // Bytes at the end that start a multi-byte character without finishing it (0 to 3).
    size_t incomplete_tail() const {
        for (size_t back = 1; back <= std::min<size_t>(3, pending_.size()); ++back) {
            const auto c = static_cast<unsigned char>(pending_[pending_.size() - back]);
            if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
            const size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            return need > back ? back : 0;
        }
        return 0;
    }
    std::string pending_;
};

struct GenerateRequest {
    std::vector<int64_t> prompt;
    std::string strategy;  // greedy | beam | sample
    gpt::GenerationConfig config;
};

GenerateRequest parse_generate(const Session& s, const json& body) {
    const Limits& L = s.limits;
    GenerateRequest r;
    r.prompt = text_ids(s, get_string(body, "text", L, true), "text");
    r.strategy = get_string(body, "strategy", L, false, "greedy");
    if (r.strategy != "greedy" && r.strategy != "beam" && r.strategy != "sample")
        throw BadRequest("strategy", "'strategy' must be \"greedy\", \"beam\" or \"sample\"");
    gpt::GenerationConfig& g = r.config;
    const auto& mc = s.model->config();
    const int64_t room = mc.n_positions - static_cast<int64_t>(r.prompt.size());
    g.max_new_tokens = get_int(body, "max_new_tokens", 20, 1, L.max_new_tokens);
    if (g.max_new_tokens > room)
        throw BadRequest("max_new_tokens",
                         fmt::format("'max_new_tokens' = {} does not fit: the prompt has {} tokens "
                                     "and the model's n_positions is {}",
                                     g.max_new_tokens, r.prompt.size(), mc.n_positions));
    g.no_repeat_ngram_size = get_int(body, "no_repeat_ngram_size", 0, 0, 16);
    g.repetition_penalty = get_number(body, "repetition_penalty", 1.0, 0, 100, true);
    g.ignore_eos = get_bool(body, "ignore_eos", false);
    g.eos_token_id = mc.eos_token_id;
    g.bos_token_id = mc.bos_token_id;
    if (r.strategy == "beam") {
        g.num_beams = get_int(body, "num_beams", 4, 2, L.max_beams);
        g.num_return_sequences = get_int(body, "num_return_sequences", 1, 1, g.num_beams);
        g.length_penalty = get_number(body, "length_penalty", 1.0, -10, 10);
    } else if (r.strategy == "sample") {
        g.do_sample = true;
        g.temperature = get_number(body, "temperature", 1.0, 0, 100, true);
        g.top_k = get_int(body, "top_k", 50, 0, 1000000);
        g.top_p = get_number(body, "top_p", 1.0, 0, 1, true);
        g.seed = static_cast<uint64_t>(get_int(body, "seed", 0, 0, INT64_MAX));
        g.num_return_sequences = get_int(body, "num_return_sequences", 1, 1, L.max_samples);
    }
    try {
        g.validate();
    } catch (const Error& e) {
        throw BadRequest("", e.what());
    }
    return r;
}

// Greedy search and sampling, streamed: the loop of gpt/generation/generate.cpp's search() (same
// processors, warpers, argmax and multinomial draws from Generator(seed), so the tokens are the
// ones `gradstack generate` prints), with each token's model probability and alternatives.
std::vector<gpt::GeneratedSequence> stream_search(Session& s, const GenerateRequest& r,
                                                  const Emit& emit) {
    const auto& g = r.config;
    const int64_t R = g.do_sample ? g.num_return_sequences : 1, stop = g.stop_id();
    std::vector<std::vector<int64_t>> tokens(R, r.prompt);
    std::vector<int64_t> new_tokens(R, 0);
    std::vector<bool> finished(R, false);
    std::vector<gpt::GeneratedSequence> out(R);
    std::vector<TextStream> text(R);
    const auto processors = gpt::make_processors(g);
    const auto warpers = g.do_sample ? gpt::make_warpers(g) : gpt::LogitsProcessorList{};
    Generator gen(g.seed);
    NoGradGuard no_grad;
    gpt::Decoder decoder(*s.model, tokens, g.pad_id());
    Tensor scores = decoder.start();
    for (int64_t step = 0; step < g.max_new_tokens; ++step) {
        // (as gpt::generate: the stream ends with an error event, not tokens of NaN)
        gpt::check_finite_logits(
            scores, fmt::format("[playground] the model's logits for new token {}", step + 1));
        std::vector<std::vector<float>> raw(R);
        for (int64_t r2 = 0; r2 < R; ++r2)
            raw[r2] = softmax_of(from_vector(std::vector<float>(row_of(scores, r2).begin(),
                                                                row_of(scores, r2).end())));
        gpt::apply_processors(processors, scores, tokens, new_tokens);
        std::vector<int64_t> chosen(R, g.pad_id());
        if (g.do_sample) {
            gpt::apply_processors(warpers, scores, tokens, new_tokens);
            chosen = to_vector<int64_t>(multinomial(softmax(scores, -1), 1, false, &gen));
        } else {
            for (int64_t k = 0; k < R; ++k) {
                const auto row = row_of(scores, k);
                chosen[k] = std::max_element(row.begin(), row.end()) - row.begin();
            }
        }
        for (int64_t k = 0; k < R; ++k) {
            if (finished[k]) {
                chosen[k] = g.pad_id();
                continue;
            }
            const int64_t t = chosen[k];
            out[k].new_ids.push_back(t);
            out[k].logprobs.push_back(static_cast<float>(gpt::log_prob_of(row_of(scores, k), t)));
            out[k].score += out[k].logprobs.back();
            tokens[k].push_back(t);
            ++new_tokens[k];
            if (t == stop) finished[k] = true;
            json ev = token_json(s, t);
            ev["delta"] = text[k].push(s.tokenizer.decode({t}),
                                       finished[k] || step + 1 == g.max_new_tokens);
            ev["seq"] = k;
            ev["index"] = step;
            ev["prob"] = raw[k][t];
            ev["logprob"] = out[k].logprobs.back();
            ev["top"] = alternatives(s, raw[k]);
            if (!emit("token", ev)) throw Cancelled{};
        }
        if (std::all_of(finished.begin(), finished.end(), [](bool f) { return f; }) ||
            step + 1 == g.max_new_tokens)
            break;
        scores = decoder.step(chosen);
    }
    return out;
}

// Beam search knows its tokens only at the end (gpt::generate); each returned sequence is then
// sent token by token with the model's probabilities from one forward over it.
std::vector<gpt::GeneratedSequence> stream_beam(Session& s, const GenerateRequest& r,
                                                const Emit& emit) {
    auto result = gpt::generate(*s.model, {r.prompt}, r.config)[0];
    NoGradGuard no_grad;
    const int64_t P = static_cast<int64_t>(r.prompt.size());
    for (size_t k = 0; k < result.size(); ++k) {
        std::vector<int64_t> all = r.prompt;
        all.insert(all.end(), result[k].new_ids.begin(), result[k].new_ids.end());
        if (result[k].new_ids.empty()) continue;
        gpt::ForwardOptions o;
        o.use_cache = false;
        Tensor logits = select(s.model->forward(ids_tensor(all), o).logits, 0, 0);  // (T, V)
        TextStream text;
        for (size_t j = 0; j < result[k].new_ids.size(); ++j) {
            const int64_t t = result[k].new_ids[j];
            const auto raw = softmax_of(select(logits, 0, P + static_cast<int64_t>(j) - 1));
            json ev = token_json(s, t);
            ev["delta"] = text.push(s.tokenizer.decode({t}), j + 1 == result[k].new_ids.size());
            ev["seq"] = k;
            ev["index"] = j;
            ev["prob"] = raw[t];
            ev["logprob"] = result[k].logprobs[j];
            ev["top"] = alternatives(s, raw);
            if (!emit("token", ev)) throw Cancelled{};
        }
    }
    return result;
}

// ---- PPLM ----

struct PplmRequest {
    std::vector<int64_t> prompt;
    std::vector<std::string> bags;
    std::string discrim, class_label;
    pplm::PplmConfig config;
};

// The discriminators the page may pick: folders under MODEL/discrim (and MODEL/discrim itself)
// holding a meta.json, named by their path relative to the model folder.
std::vector<std::string> discriminators(const std::string& model_dir) {
    std::vector<std::string> out;
    const fs::path root = fs::path(model_dir) / "discrim";
    std::error_code ec;
    if (fs::exists(root / "meta.json", ec)) out.push_back("discrim");
    if (fs::is_directory(root, ec))
        for (const auto& entry : fs::directory_iterator(root, ec))
            if (fs::exists(entry.path() / "meta.json", ec))
                out.push_back("discrim/" + entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

PplmRequest parse_pplm(const Session& s, const json& body) {
    const Limits& L = s.limits;
    PplmRequest r;
    const std::string text = get_string(body, "text", L, true);
    r.prompt = eot_prompt(s.tokenizer, s.model->config(), text);
    const std::vector<std::string> known = pplm::builtin_bags();
    if (const json* b = find_field(body, "bags")) {
        if (!b->is_array()) throw BadRequest("bags", "'bags' must be an array of bag names");
        for (const json& name : *b) {
            if (!name.is_string() ||
                std::find(known.begin(), known.end(), name.get<std::string>()) == known.end())
                throw BadRequest("bags", fmt::format("'bags': {} is not one of the built-in bags "
                                                     "({})", json_excerpt(name, 60),
                                                     fmt::join(known, ", ")));
            r.bags.push_back(name.get<std::string>());
        }
    }
    r.discrim = get_string(body, "discrim", L);
    if (!r.discrim.empty()) {
        const auto found = discriminators(s.model_dir);
        if (std::find(found.begin(), found.end(), r.discrim) == found.end())
            throw BadRequest("discrim", fmt::format("'discrim' = '{}' is not a discriminator of "
                                                    "this model (found: {})", r.discrim,
                                                    fmt::join(found, ", ")));
    }
    if (r.bags.empty() && r.discrim.empty())
        throw BadRequest("bags", "give 'bags' (built-in bag names) or 'discrim', or both");
    r.class_label = get_string(body, "class_label", L);
    pplm::PplmConfig& c = r.config;
    c.length = get_int(body, "length", 20, 1, L.max_pplm_tokens);
    c.stepsize = get_number(body, "stepsize", 0.03, 0, 10);
    c.num_iterations = get_int(body, "num_iterations", 3, 0, 20);
    c.kl_scale = get_number(body, "kl_scale", 0.01, 0, 100);
    c.gm_scale = get_number(body, "gm_scale", 0.9, 0, 1);
    c.top_k = get_int(body, "top_k", 10, 0, 1000000);
    c.temperature = get_number(body, "temperature", 1.0, 0, 100, true);
    c.sample = get_bool(body, "sample", false);
    c.seed = static_cast<uint64_t>(get_int(body, "seed", 0, 0, INT64_MAX));
    c.num_samples = 1;
    try {
        c.validate(s.model->config(), static_cast<int64_t>(r.prompt.size()), !r.discrim.empty());
    } catch (const Error& e) {
        throw BadRequest("", e.what());
    }
    return r;
}

}  // namespace

Session load_session(const std::string& model_dir, const std::string& tokenizer_dir) {
    auto model = gpt::load_pretrained(model_dir);
    model->eval();
    model->requires_grad_(false);  // gradients are taken with respect to activations only
    return Session{model, require_tokenizer(tokenizer_dir, model_dir), model_dir, Limits{}};
}

json model_info(const Session& s) {
    const auto& c = s.model->config();
    const Limits& L = s.limits;
    return {{"model_dir", s.model_dir},
            {"config",
             {{"vocab_size", c.vocab_size}, {"n_positions", c.n_positions},
              {"n_embd", c.n_embd}, {"n_layer", c.n_layer}, {"n_head", c.n_head},
              {"n_inner", c.inner()}, {"bos_token_id", c.bos_token_id},
              {"eos_token_id", c.eos_token_id}}},
            {"parameters", s.model->num_parameters()},
            {"tokenizer", {{"vocab_size", s.tokenizer.vocab_size()}, {"eot_id", s.tokenizer.eot_id()}}},
            {"limits",
             {{"max_text_bytes", L.max_text_bytes}, {"max_new_tokens", L.max_new_tokens},
              {"max_pplm_tokens", L.max_pplm_tokens}, {"max_trace_tokens", L.max_trace_tokens},
              {"max_saliency_targets", L.max_saliency_targets}, {"max_beams", L.max_beams},
              {"max_samples", L.max_samples}, {"max_top_n", L.max_top_n}}},
            {"bags", pplm::builtin_bags()},
            {"discriminators", discriminators(s.model_dir)}};
}

json next_tokens(Session& s, const json& body) {
    const Limits& L = s.limits;
    const std::vector<int64_t> ids = text_ids(s, get_string(body, "text", L, true), "text");
    gpt::GenerationConfig g;
    g.temperature = get_number(body, "temperature", 1.0, 0, 1e6, true);
    g.top_k = get_int(body, "top_k", 0, 0, INT64_MAX);
    g.top_p = get_number(body, "top_p", 1.0, 0, 1, true);
    const int64_t n = get_int(body, "n", 20, 1, L.max_top_n);

    NoGradGuard no_grad;
    gpt::ForwardOptions o;
    o.use_cache = false;
    const int64_t T = static_cast<int64_t>(ids.size());
    // The full forward, head on every position, as generation's first step computes it: the
    // head on the last row alone would be faster but round differently.
    Tensor last = contiguous(select(select(s.model->forward(ids_tensor(ids), o).logits, 0, 0), 0,
                                    T - 1));  // (V,)
    gpt::check_finite_logits(reshape(last, {1, last.size(0)}),
                             "[playground] the model's next-token logits");
    const std::vector<float> probs = softmax_of(last);
    // The sampling warpers of the generation module, in its (Hugging Face's) order.
    Tensor scores = clone(reshape(last, {1, last.size(0)}));
    gpt::apply_processors(gpt::make_warpers(g), scores, {ids}, {0});
    const std::vector<float> filtered = softmax_of(scores);
    const auto row = row_of(scores, 0);
    json top = json::array();
    for (int64_t id : top_ids(probs, n))
        top.push_back({{"id", id}, {"text", piece(s, id)}, {"prob", probs[id]},
                       {"filtered_prob", filtered[id]}, {"kept", std::isfinite(row[id])}});
    return {{"ids", ids}, {"top", top}};
}

json trace(Session& s, const json& body) {
    const Limits& L = s.limits;
    const std::vector<int64_t> text = text_ids(s, get_string(body, "text", L, true), "text");
    const std::string forced = get_string(body, "continuation", L);
    std::vector<int64_t> ids = text;
    for (int64_t id : s.tokenizer.encode(forced)) ids.push_back(id);
    const int64_t T = static_cast<int64_t>(ids.size()), T_text = static_cast<int64_t>(text.size());
    const char* field = forced.empty() ? "text" : "continuation";
    if (T > L.max_trace_tokens)
        throw BadRequest(field, fmt::format("the trace is capped at {} tokens (text + "
                                            "continuation); this is {}: shorten the {}",
                                            L.max_trace_tokens, T, field));
    if (T - T_text > L.max_saliency_targets)
        throw BadRequest("continuation", fmt::format("'continuation' is {} tokens; saliency "
                                                     "explains at most {}", T - T_text,
                                                     L.max_saliency_targets));
    if (T > s.model->config().n_positions - 1)
        throw BadRequest(field, "the text leaves no position for a next token");
    const bool want_attention = get_bool(body, "attention", true);
    const bool want_lens = get_bool(body, "lens", true);
    const bool want_saliency = get_bool(body, "saliency", true);

    auto& model = *s.model;
    json out;
    json toks = json::array();
    for (int64_t id : ids) toks.push_back(token_json(s, id));
    out["tokens"] = toks;
    out["n_text"] = T_text;
    int64_t next_id = -1;
    {
        NoGradGuard no_grad;
        gpt::ForwardOptions o;
        o.use_cache = false;
        o.output_hidden_states = true;
        auto f = model.forward(ids_tensor(ids), o);
        const int64_t nl = model.config().n_layer, nh = model.config().n_head;
        if (want_attention) {
            json layers = json::array();
            for (int64_t l = 0; l < nl; ++l) {
                const auto a = attention_probs(model, l, f.hidden_states[l]);
                json heads = json::array();
                for (int64_t h = 0; h < nh; ++h) {
                    json rows = json::array();
                    for (int64_t i = 0; i < T; ++i) {
                        json row = json::array();
                        for (int64_t j = 0; j < T; ++j)
                            row.push_back(short_float(a[(h * T + i) * T + j]));
                        rows.push_back(std::move(row));
                    }
                    heads.push_back(std::move(rows));
                }
                layers.push_back(std::move(heads));
            }
            out["attention"] = std::move(layers);
        }
        if (want_lens) {
            // Layer 0 is the embeddings, layer l the residual after block l; each through ln_f
            // and the tied head. The last layer's hidden state is already after ln_f: its lens
            // is the model's own prediction.
            // One matmul for all layers, (1, n_layer * T, C) @ wte^T: the 154 MB head of GPT-2
            // 124M is then read once, not once per layer.
            std::vector<Tensor> normed;
            for (int64_t l = 0; l < nl; ++l)
                normed.push_back(model.transformer->ln_f->forward(f.hidden_states[l]));
            const Tensor all =
                matmul(cat(normed, 1), transpose(model.transformer->wte->weight, 0, 1));
            json layers = json::array();
            for (int64_t l = 0; l < nl; ++l)
                layers.push_back(lens_layer(s, slice(all, 1, l * T, (l + 1) * T), ids));
            layers.push_back(lens_layer(s, f.logits, ids));
            out["lens"] = std::move(layers);
        }
        const auto p = softmax_of(select(select(f.logits, 0, 0), 0, T - 1));
        next_id = top_ids(p, 1)[0];
        out["next"] = token_json(s, next_id);
        out["next"]["prob"] = p[next_id];
    }
    if (want_saliency) {
        // Targets: each forced continuation token, else the model's greedy next token.
        std::vector<int64_t> targets, seq = ids;
        for (int64_t p = T_text; p < T; ++p) targets.push_back(p);
        if (targets.empty()) {
            seq.push_back(next_id);
            targets.push_back(T);
        }
        out["saliency"] = saliency(s, seq, targets);
    }
    return out;
}

void check_generate(const Session& s, const json& body) { parse_generate(s, body); }

void generate(Session& s, const json& body, const Emit& emit) {
    const GenerateRequest r = parse_generate(s, body);
    if (!emit("start", {{"prompt_ids", r.prompt}, {"strategy", r.strategy}})) throw Cancelled{};
    const auto seqs = r.strategy == "beam" ? stream_beam(s, r, emit) : stream_search(s, r, emit);
    json done = json::array();
    for (const auto& q : seqs)
        done.push_back({{"new_ids", q.new_ids}, {"text", s.tokenizer.decode_text(q.new_ids)},
                        {"score", q.score}, {"logprobs", q.logprobs}});
    emit("done", {{"sequences", done}});
}

void check_pplm(const Session& s, const json& body) { parse_pplm(s, body); }

void run_pplm(Session& s, const json& body, const Emit& emit) {
    const PplmRequest r = parse_pplm(s, body);
    const auto& mc = s.model->config();
    pplm::AttributeModel attribute;
    json bags = json::array(), warnings = json::array();
    for (const auto& name : r.bags) {
        attribute.bags.push_back(pplm::load_bag(name, s.tokenizer));
        for (int64_t id : attribute.bags.back().ids)
            check(id < mc.vocab_size, "bag '{}': token {} is not below the model's vocab_size {}",
                  name, id, mc.vocab_size);
        bags.push_back({{"name", name}, {"words", attribute.bags.back().words},
                        {"kept", attribute.bags.back().ids.size()}});
    }
    if (!r.discrim.empty()) {
        const std::string dir = (fs::path(s.model_dir) / r.discrim).string();
        attribute.discrim = std::make_shared<pplm::Discriminator>(pplm::load_discriminator(dir));
        pplm::check_compatible(*attribute.discrim, mc, dir);
        auto warn = [&](const std::string& m) { warnings.push_back(m); };
        attribute.class_label = r.class_label.empty()
                                    ? attribute.discrim->meta.default_class
                                    : pplm::resolve_class_label(attribute.discrim->meta,
                                                                r.class_label, warn);
    }
    json classes = json::object();
    if (attribute.discrim)
        for (const auto& [name, id] : attribute.discrim->meta.class_vocab) classes[name] = id;
    if (!emit("start", {{"prompt_ids", r.prompt}, {"bags", bags}, {"classes", classes},
                        {"class_label", attribute.class_label}, {"warnings", warnings}}))
        throw Cancelled{};
    auto stream = [&](const char* which) {
        return [&, which](int64_t index, const std::vector<int64_t>& tokens) {
            json ev = token_json(s, tokens[0]);
            ev["which"] = which;
            ev["index"] = index;
            ev["in_bag"] = pplm::in_bags(attribute.bags, tokens[0]);
            if (!emit("token", ev)) throw Cancelled{};
        };
    };
    const auto& c = r.config;
    Generator plain_gen(c.seed), steered_gen(c.seed);
    const auto plain = pplm::generate_unperturbed(*s.model, r.prompt, c.length, 1, c.sample,
                                                  c.top_k, c.temperature, &plain_gen,
                                                  stream("plain"))[0];
    const auto steered =
        pplm::generate_pplm(*s.model, r.prompt, attribute, c, &steered_gen, stream("steered"))[0];
    const auto losses =
        pplm::attribute_losses(*s.model, r.prompt, {plain.new_ids, steered.new_ids}, attribute);
    auto side = [&](const pplm::PplmSample& q, double loss) {
        return json{{"new_ids", q.new_ids}, {"text", s.tokenizer.decode_text(q.new_ids)},
                    {"bag_hits", pplm::count_in_bags(attribute.bags, q.new_ids)},
                    {"attribute_loss", loss}};
    };
    emit("done", {{"plain", side(plain, losses[0])}, {"steered", side(steered, losses[1])}});
}

}  // namespace gradstack::apps::playground
