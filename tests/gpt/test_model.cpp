// GPT-2 against Hugging Face's outputs for the reference tiny model (tests/data/tiny_gpt2, copied
// from ../shared/reference/models/tiny), plus cache, padding, gradcheck, save/load and bad input.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "nn/safetensors.h"
#include "tensor/npy.h"
#include "tests/test_env.h"

using namespace gradstack;
using namespace gradstack::gpt;
namespace fs = std::filesystem;

namespace {

std::string tiny_dir() { return testing::test_data("tiny_gpt2"); }
Tensor expected(const std::string& name) { return load_npy(tiny_dir() + "/expected/" + name); }

// max over elements of |a - e| - (atol + rtol |e|); <= 0 means within tolerance.
double excess(const Tensor& actual, const Tensor& want, double atol, double rtol) {
    BOOST_REQUIRE(actual.shape() == want.shape());
    auto a = to_vector<double>(actual), e = to_vector<double>(want);
    double worst = -1;
    for (size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a[i] - e[i]) - (atol + rtol * std::abs(e[i])));
    return worst;
}

// (layer, key/value, B, H, T, hs) from the per-layer cache.
Tensor stack_presents(const std::vector<KVCache>& presents) {
    std::vector<Tensor> layers;
    for (const auto& p : presents) layers.push_back(stack({p.key, p.value}, 0));
    return stack(layers, 0);
}

GPT2Config small_config(int64_t n_layer = 1) {
    GPT2Config c;
    c.vocab_size = 11;
    c.n_positions = 16;
    c.n_embd = 8;
    c.n_layer = n_layer;
    c.n_head = 2;
    c.resid_pdrop = c.embd_pdrop = c.attn_pdrop = 0;
    return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gpt2_reference)

BOOST_AUTO_TEST_CASE(logits_hidden_states_presents_match_hugging_face) {
    auto model = load_pretrained(tiny_dir());
    BOOST_TEST(model->num_parameters() == 812752);
    Tensor ids = expected("input_ids_a.npy");
    NoGradGuard no_grad;
    ForwardOptions o;
    o.output_hidden_states = true;
    ForwardOutput out = model->forward(ids, o);
    Tensor hs = stack(out.hidden_states, 0);
    BOOST_TEST(excess(hs, expected("hidden_states_a.npy"), 5e-5, 1e-4) <= 0);
    if (!testing::shared_dir().empty()) {
        Tensor want = load_npy(testing::shared_dir() + "/reference/models/tiny/expected/logits_a.npy");
        BOOST_TEST(excess(out.logits, want, 1e-4, 1e-4) <= 0);
    } else {
        BOOST_TEST_MESSAGE("logits_a.npy skipped: ../shared is absent (hidden states still checked)");
    }
    // The cache after the prefix, then the rest on top of it.
    const int64_t P = 6;
    ForwardOutput prefix = model->forward(slice(ids, 1, 0, P));
    BOOST_TEST(excess(stack_presents(prefix.presents), expected("presents_a.npy"), 5e-5, 1e-4) <= 0);
    ForwardOptions cached;
    cached.past = prefix.presents;
    ForwardOutput rest = model->forward(slice(ids, 1, P, ids.size(1)), cached);
    BOOST_TEST(excess(rest.logits, slice(out.logits, 1, P, ids.size(1)), 1e-4, 1e-4) <= 0);
}

BOOST_AUTO_TEST_CASE(loss_and_gradients_match_hugging_face) {
    auto model = load_pretrained(tiny_dir());
    Tensor ids = expected("input_ids_a.npy");
    Tensor loss = model->loss(model->forward(ids).logits, ids);
    BOOST_TEST(excess(reshape(loss, {1}), expected("loss_a.npy"), 1e-5, 1e-5) <= 0);
    loss.backward();
    std::ifstream in(tiny_dir() + "/expected/meta.json");
    auto meta = nlohmann::json::parse(in);
    auto norms = meta["input_a"]["grad_l2_norms"];
    BOOST_TEST(norms.size() == model->named_parameters().size());
    for (auto& [name, p] : model->named_parameters()) {
        BOOST_REQUIRE_MESSAGE(norms.contains(name), name);
        double want = norms[name].get<double>();
        double got = std::sqrt(sum(to_dtype(p.grad(), DType::f64) * to_dtype(p.grad(), DType::f64)).item());
        BOOST_CHECK_MESSAGE(std::abs(got - want) <= 1e-4 * want, name << ": " << got << " vs " << want);
    }
    for (const auto& entry : fs::directory_iterator(tiny_dir() + "/expected")) {
        std::string file = entry.path().filename().string();
        if (file.rfind("grad_a__", 0) != 0) continue;
        std::string name = file.substr(8, file.size() - 8 - 4);
        Tensor g;
        for (auto& [n, p] : model->named_parameters())
            if (n == name) g = p.grad();
        BOOST_REQUIRE_MESSAGE(g.defined(), name);
        BOOST_CHECK_MESSAGE(excess(g, load_npy(entry.path().string()), 2e-5, 1e-3) <= 0, name);
    }
}

BOOST_AUTO_TEST_CASE(left_padding_gives_real_tokens_the_same_logits) {
    auto model = load_pretrained(tiny_dir());
    NoGradGuard no_grad;
    Tensor alone = from_vector<int64_t>({464, 2068, 7586, 21831}, {1, 4});
    Tensor padded = from_vector<int64_t>({50256, 50256, 464, 2068, 7586, 21831}, {1, 6});
    Tensor mask = from_vector<int64_t>({0, 0, 1, 1, 1, 1}, {1, 6});
    ForwardOptions o;
    o.attention_mask = mask;
    o.position_ids = position_ids_from_mask(mask, 6);
    Tensor a = model->forward(alone).logits;
    Tensor b = slice(model->forward(padded, o).logits, 1, 2, 6);
    BOOST_TEST(max(abs(a - b)).item() < 1e-4);
}

BOOST_AUTO_TEST_CASE(one_layer_gpt_gradcheck_in_float64) {
    GPT2Config c = small_config();
    c.dtype = DType::f64;
    Generator gen(3);
    GPT2LMHeadModel model(c, &gen);
    Tensor ids = from_vector<int64_t>({1, 5, 2, 9, 3, 3, 7, 0}, {2, 4});
    std::vector<Tensor> params = model.parameters();
    GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>&) { return model.loss(model.forward(ids).logits, ids); }, params);
    BOOST_TEST(r.ok, r.message);
}

BOOST_AUTO_TEST_CASE(save_then_load_gives_identical_logits) {
    Generator gen(5);
    GPT2LMHeadModel model(small_config(2), &gen);
    model.eval();
    fs::path dir = fs::temp_directory_path() / "gradstack_gpt_roundtrip";
    fs::remove_all(dir);
    save_pretrained(model, dir.string());
    BOOST_TEST(fs::exists(dir / "config.json"));
    SafetensorsFile f = load_safetensors((dir / "model.safetensors").string());
    BOOST_TEST(f.metadata().at("format") == "pt");
    BOOST_TEST(!f.contains("lm_head.weight"));
    BOOST_TEST(f.contains("transformer.h.1.mlp.c_fc.weight"));
    auto back = load_pretrained(dir.string());
    Tensor ids = from_vector<int64_t>({1, 2, 3, 4}, {1, 4});
    NoGradGuard no_grad;
    BOOST_TEST(max(abs(model.forward(ids).logits - back->forward(ids).logits)).item() == 0.0);
    fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(bad_checkpoints_and_inputs_are_clear_errors) {
    auto error_of = [](auto f) -> std::string {
        try {
            f();
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    };
    fs::path dir = fs::temp_directory_path() / "gradstack_gpt_bad";
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(tiny_dir() + "/config.json", dir / "config.json");
    SafetensorsFile good = load_safetensors(tiny_dir() + "/model.safetensors");
    // A missing key, an extra key, a wrong shape: each named.
    NamedTensors t = good.tensors();
    NamedTensors missing(t.begin() + 1, t.end());
    save_safetensors((dir / "model.safetensors").string(), missing);
    BOOST_TEST(error_of([&] { load_pretrained(dir.string()); }).find("missing: " + t[0].first) != std::string::npos);
    NamedTensors extra = t;
    extra.emplace_back("transformer.h.9.attn.c_attn.weight", zeros({2}));
    save_safetensors((dir / "model.safetensors").string(), extra);
    BOOST_TEST(error_of([&] { load_pretrained(dir.string()); }).find("unexpected: transformer.h.9") != std::string::npos);
    // Hub layout: no prefix, attn.bias buffers present, lm_head present: all accepted.
    NamedTensors hub;
    for (auto& [n, v] : t) hub.emplace_back(n.substr(std::string("transformer.").size()), v);
    hub.emplace_back("h.0.attn.bias", ones({1, 1, 128, 128}));
    hub.emplace_back("lm_head.weight", good.get("transformer.wte.weight"));
    save_safetensors((dir / "model.safetensors").string(), hub);
    BOOST_CHECK_NO_THROW(load_pretrained(dir.string()));
    // A config that disagrees with the weights.
    std::ofstream(dir / "config.json") << R"({"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 128})";
    std::string msg = error_of([&] { load_pretrained(dir.string()); });
    BOOST_TEST(msg.find("(50257, 32)") != std::string::npos);
    BOOST_TEST(msg.find("config.json") != std::string::npos);
    std::ofstream(dir / "config.json") << "{not json";
    BOOST_TEST(error_of([&] { load_pretrained(dir.string()); }).find("not valid JSON") != std::string::npos);
    fs::remove(dir / "model.safetensors");
    BOOST_TEST(error_of([&] { load_pretrained(dir.string()); }).find("model.safetensors: missing") != std::string::npos);
    fs::remove_all(dir);
    // Too long a prompt, an id outside the vocabulary.
    Generator gen(1);
    GPT2LMHeadModel m(small_config(), &gen);
    BOOST_TEST(error_of([&] { m.forward(zeros({1, 17}, DType::i64)); }).find("n_positions = 16") != std::string::npos);
    BOOST_TEST(error_of([&] { m.forward(full({1, 2}, 11, DType::i64)); }).find("11") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
