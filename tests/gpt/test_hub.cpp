// gpt/hub.h: the size/hash checks on local files, a whole download from a fake Hub on 127.0.0.1
// (redirects, resume after a cut connection, a corrupt file refused), and `gradstack download`
// without a network (an unreachable GRADSTACK_HF_ENDPOINT): the error says what to fetch by hand.
#include <boost/test/unit_test.hpp>

#include "gpt/hub.h"
#include "tests/gpt/cli_helpers.h"
#include "tests/gpt/fake_hub.h"

using namespace gradstack;
using namespace gradstack::test;

namespace {

const std::string kHelloSha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
const std::string kHelloBlob = "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0";  // git hash-object

std::string sha256sum_tool(const fs::path& path) {  // coreutils, an independent implementation
    std::string out;
    if (FILE* p = ::popen(("sha256sum " + path.string()).c_str(), "r")) {
        char buffer[128];
        if (std::fgets(buffer, sizeof buffer, p)) out = std::string(buffer).substr(0, 64);
        ::pclose(p);
    }
    return out;
}

gpt::HubOptions quiet(const std::string& endpoint) {
    gpt::HubOptions o;
    o.endpoint = endpoint;
    o.connect_timeout_s = 2;
    o.stall_timeout_s = 5;
    o.progress = false;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hub)

BOOST_AUTO_TEST_CASE(hashes_and_file_checks) {
    TempDir dir;
    write_text(dir.path / "hello", "hello");
    BOOST_TEST(gpt::sha256_file(dir.path / "hello") == kHelloSha256);
    BOOST_TEST(gpt::git_blob_sha1_file(dir.path / "hello") == kHelloBlob);
    std::string big(3 * (1 << 20) + 7, 'x');  // crosses the 1 MiB read blocks
    for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>(i);
    write_text(dir.path / "big", big);
    BOOST_TEST(gpt::sha256_file(dir.path / "big") == sha256sum_tool(dir.path / "big"));

    gpt::FileCheck c = gpt::check_file(dir.path / "hello", {5, kHelloSha256});
    BOOST_TEST((c.ok && c.hash_checked));
    c = gpt::check_file(dir.path / "hello", {5, "\"" + kHelloBlob + "\""});  // not cleaned: no hash
    BOOST_TEST((c.ok && !c.hash_checked));
    c = gpt::check_file(dir.path / "hello", {-1, kHelloBlob});
    BOOST_TEST((c.ok && c.hash_checked));
    c = gpt::check_file(dir.path / "hello", {6, kHelloSha256});
    BOOST_TEST(!c.ok);
    BOOST_TEST(contains(c.problem, "has 5 bytes, the Hub says 6"), c.problem);
    c = gpt::check_file(dir.path / "hello", {5, std::string(64, '0')});
    BOOST_TEST(!c.ok);
    BOOST_TEST(contains(c.problem, kHelloSha256), c.problem);
    c = gpt::check_file(dir.path / "hello", {5, std::string(40, 'a')});
    BOOST_TEST((!c.ok && contains(c.problem, "git blob id")), c.problem);
    c = gpt::check_file(dir.path / "absent", {5, kHelloSha256});
    BOOST_TEST((!c.ok && c.problem == "is missing"));
}

BOOST_AUTO_TEST_CASE(downloads_resumes_and_refuses_corrupt_files) {
    TempDir dir;
    FakeHub hub;
    std::string weights(300000, 'w');
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>(i * 7 % 251);
    write_text(dir.path / "w", weights);
    hub.files["config.json"] = {"{}", false, "9e26dfeeb6e641a33dae4961196235bdb965b21b"};
    hub.files["vocab.json"] = {"hello", false, kHelloBlob};
    hub.files["merges.txt"] = {"hello", false, kHelloBlob};
    hub.files["model.safetensors"] = {weights, true, gpt::sha256_file(dir.path / "w"), 100000};
    hub.start();
    const fs::path out = dir.path / "gpt2";

    // The cut connection keeps its 100000 bytes in model.safetensors.partial ...
    try {
        gpt::download_model("gpt2", out, quiet(hub.endpoint()));
        BOOST_FAIL("a cut connection went unnoticed");
    } catch (const Error& e) {
        BOOST_TEST(contains(e.what(), "run again to resume"), e.what());
    }
    BOOST_TEST(fs::file_size(out / "model.safetensors.partial") == 100000u);
    BOOST_TEST(!fs::exists(out / "model.safetensors"));
    BOOST_TEST(read_file_text(out / "config.json") == "{}");
    // ... and the next run asks for the rest only, checks the whole, and renames it into place.
    gpt::download_model("gpt2", out, quiet(hub.endpoint()));
    BOOST_TEST(hub.range_requests.load() == 1);
    BOOST_TEST(read_file_text(out / "model.safetensors") == weights);
    BOOST_TEST(!fs::exists(out / "model.safetensors.partial"));
    BOOST_TEST(read_file_text(out / "merges.txt") == "hello");

    // A file whose bytes do not match the Hub's hash never reaches its final name.
    const fs::path dest = dir.path / "corrupt.txt";
    try {
        gpt::download_file(hub.endpoint() + "/gpt2/resolve/main/vocab.json", dest,
                           {5, kHelloSha256.substr(0, 63) + "0"}, quiet(hub.endpoint()));
        BOOST_FAIL("a corrupt download was accepted");
    } catch (const Error& e) {
        BOOST_TEST(contains(e.what(), "has sha256 " + kHelloSha256), e.what());
    }
    BOOST_TEST(!fs::exists(dest));
    BOOST_TEST(!fs::exists(dir.path / "corrupt.txt.partial"));
    // A missing repository file is an HTTP error, not "offline".
    BOOST_CHECK_THROW(gpt::hub_file_info(hub.endpoint() + "/gpt2/resolve/main/absent", quiet("")),
                      Error);
}

BOOST_AUTO_TEST_CASE(offline_download_says_what_to_fetch_by_hand,
                     *boost::unit_test::precondition(HasGradstackBinary{})) {
    TempDir dir;
    const std::string env = "GRADSTACK_HF_ENDPOINT=http://127.0.0.1:1";
    CliRun r = run_cli("download gpt2-medium --out " + dir.path.string(), env);
    BOOST_TEST(r.exit_code == 1);
    for (const auto& file : gpt::hub_model_files()) {
        BOOST_TEST(contains(r.err, "http://127.0.0.1:1/gpt2-medium/resolve/main/" + file), r.err);
        BOOST_TEST(contains(r.err, (dir.path / file).string()), r.err);
    }
    BOOST_TEST(contains(r.err, "by hand"), r.err);
    // With every file in place it only warns: they cannot be checked offline.
    for (const auto& file : gpt::hub_model_files()) write_text(dir.path / file, "x");
    r = run_cli("download gpt2-medium --out " + dir.path.string(), env);
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.err, "could not be checked"), r.err);
    r = run_cli("download gpt3 --out " + dir.path.string(), env);
    BOOST_TEST(r.exit_code != 0);
}

BOOST_AUTO_TEST_SUITE_END()
