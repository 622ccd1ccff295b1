// `gradstack inspect` on the reference tiny model: every file it writes against Hugging Face's
// outputs (tests/data/tiny_gpt2/expected, logits from ../shared when present) within the
// tolerances of the reference README, and each kind of bad input as a clear error.
#include <boost/test/unit_test.hpp>

#include "autograd/ops.h"
#include "tensor/npy.h"
#include "tests/gpt/cli_helpers.h"

using namespace gradstack;
using namespace gradstack::test;

namespace {

fs::path tiny() {
    return source_dir() / "tests" / "data" / "tiny_gpt2";
}
Tensor expected(const std::string& name) {
    return load_npy((tiny() / "expected" / name).string());
}

// max over elements of |a - e| - (atol + rtol |e|); <= 0 means within tolerance.
double excess(const Tensor& actual, const Tensor& want, double atol, double rtol) {
    BOOST_REQUIRE_MESSAGE(actual.shape() == want.shape(), shape_str(actual.shape())
                                                              << " vs " << shape_str(want.shape()));
    auto a = to_vector<double>(actual), e = to_vector<double>(want);
    double worst = -1;
    for (size_t i = 0; i < a.size(); ++i)
        worst = std::max(worst, std::abs(a[i] - e[i]) - (atol + rtol * std::abs(e[i])));
    return worst;
}

CliRun inspect(const std::string& args) {
    return run_cli("inspect --model " + tiny().string() + " " + args);
}

const char* kGrads[] = {"transformer.h.0.attn.c_attn.weight", "transformer.h.1.mlp.c_fc.bias",
                        "transformer.ln_f.weight"};

}  // namespace

BOOST_AUTO_TEST_SUITE(inspect_cli)

BOOST_AUTO_TEST_CASE(reproduces_hugging_face,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir out;
    std::string args = "--ids " + (tiny() / "expected" / "input_ids_a.npy").string() + " --out " +
                       out.path.string() + " --past-length 6";
    for (const char* g : kGrads) args += std::string(" --grad ") + g;
    CliRun r = inspect(args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    auto file = [&](const std::string& name) { return load_npy((out.path / name).string()); };

    Tensor logits = file("logits.npy");
    BOOST_TEST(logits.dtype() == DType::f32);
    BOOST_TEST(shape_str(logits.shape()) == shape_str({2, 10, 50257}));
    if (fs::exists(shared_dir() / "reference" / "models" / "tiny" / "expected" / "logits_a.npy")) {
        Tensor want =
            load_npy((shared_dir() / "reference" / "models" / "tiny" / "expected" / "logits_a.npy")
                         .string());
        BOOST_TEST(excess(logits, want, 1e-4, 1e-4) <= 0);
    } else {
        BOOST_TEST_MESSAGE("logits_a.npy skipped: ../shared is absent");
    }
    BOOST_TEST(excess(file("hidden_states.npy"), expected("hidden_states_a.npy"), 5e-5, 1e-4) <= 0);
    BOOST_TEST(excess(file("loss.npy"), expected("loss_a.npy"), 1e-5, 1e-5) <= 0);
    for (const char* g : kGrads) {
        const std::string name = std::string("grad__") + g + ".npy";
        BOOST_TEST(
            excess(file(name), expected("grad_a__" + std::string(g) + ".npy"), 2e-5, 1e-3) <= 0,
            name);
    }
    BOOST_TEST(excess(file("presents.npy"), expected("presents_a.npy"), 5e-5, 1e-4) <= 0);
    // The rest of the ids on the prefix's cache give the full run's last 4 positions.
    BOOST_TEST(excess(file("cached_logits.npy"), slice(logits, 1, 6, 10), 1e-4, 1e-4) <= 0);

    // Every parameter's gradient norm, Hugging Face's names in Hugging Face's order.
    auto meta = nlohmann::ordered_json::parse(read_file_text(tiny() / "expected" / "meta.json"));
    auto want = meta["input_a"]["grad_l2_norms"];
    auto got = nlohmann::ordered_json::parse(read_file_text(out.path / "grad_norms.json"));
    BOOST_REQUIRE(got.size() == want.size());
    auto w = want.begin();
    for (auto g = got.begin(); g != got.end(); ++g, ++w) {
        BOOST_TEST(g.key() == w.key());
        const double a = g.value().get<double>(), e = w.value().get<double>();
        BOOST_TEST(std::abs(a - e) <= 1e-4 * e, g.key() << ": " << a << " vs " << e);
    }
}

BOOST_AUTO_TEST_CASE(one_token_has_no_loss, *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir out;
    save_npy((out.path / "ids.npy").string(), from_vector<int64_t>({464, 318}, {2, 1}));
    CliRun r =
        inspect("--ids " + (out.path / "ids.npy").string() + " --out " + (out.path / "o").string());
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(fs::exists(out.path / "o" / "logits.npy"));
    BOOST_TEST(fs::exists(out.path / "o" / "hidden_states.npy"));
    BOOST_TEST(!fs::exists(out.path / "o" / "loss.npy"));
    BOOST_TEST(!fs::exists(out.path / "o" / "grad_norms.json"));
    BOOST_TEST(contains(r.err, "T = 1"), r.err);
}

BOOST_AUTO_TEST_CASE(bad_input_is_a_clear_error,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir dir;
    auto ids_file = [&](const std::string& name, const Tensor& t) {
        save_npy((dir.path / name).string(), t);
        return "--ids " + (dir.path / name).string() + " --out " + (dir.path / "o").string();
    };
    const std::string good = ids_file("good.npy", from_vector<int64_t>({1, 2, 3, 4}, {1, 4}));
    struct Case {
        std::string args, message;
    } cases[] = {
        {ids_file("float.npy", from_vector<float>({1, 2}, {1, 2})), "must be int64"},
        {ids_file("flat.npy", from_vector<int64_t>({1, 2, 3})), "expected shape [B, T]"},
        {ids_file("big.npy", from_vector<int64_t>({1, 50257}, {1, 2})), "id 50257 at [0, 1]"},
        {ids_file("long.npy", zeros({1, 129}, DType::i64)), "n_positions = 128"},
        {ids_file("one.npy", from_vector<int64_t>({1}, {1, 1})) + " --grad transformer.wte.weight",
         "T >= 2"},
        {good + " --past-length 0", "[1, 3]"},
        {good + " --past-length 4", "[1, 3]"},
        {good + " --grad transformer.h.0.attn.c_atn.weight",
         "closest names: transformer.h.0.attn.c_attn.weight"},
        {good + " --grad lm_head.weight", "tied to transformer.wte.weight"},
        {"--ids " + (dir.path / "absent.npy").string() + " --out " + dir.path.string(),
         "absent.npy"},
        {"--ids " + (dir.path / "good.npy").string() + " --out " +
             (dir.path / "good.npy" / "o").string(),
         "cannot create"},
    };
    for (const auto& c : cases) {
        CliRun r = inspect(c.args);
        BOOST_TEST(r.exit_code == 1, c.args);
        BOOST_TEST(contains(r.err, c.message), c.args << " -> " << r.err);
        BOOST_TEST(contains(r.err, "error: "), r.err);
    }
}

BOOST_AUTO_TEST_SUITE_END()
