// The safetensors reader against hostile headers (issue 18): JSON nested 100,000 deep in a
// shape or offsets (it crashed with SIGSEGV where the message quoted the value), huge values in
// messages, a FIFO as the file (it blocked forever), and the non-finite check at load.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "autograd/ops.h"
#include "nn/safetensors.h"
#include "tests/robust_inputs.h"
#include "tests/test_util.h"

using namespace gradstack;
using gradstack::testing::contains;
using gradstack::testing::error_of;

namespace {

// A safetensors file with `header` as its JSON header and `data` after it.
std::vector<uint8_t> file_with_header(const std::string& header, const std::string& data = "") {
    std::vector<uint8_t> bytes(8 + header.size() + data.size());
    const uint64_t n = header.size();
    std::memcpy(bytes.data(), &n, 8);
    std::memcpy(bytes.data() + 8, header.data(), header.size());
    std::memcpy(bytes.data() + 8 + header.size(), data.data(), data.size());
    return bytes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(robust_safetensors)

BOOST_AUTO_TEST_CASE(header_nested_100k_deep_is_an_error_not_a_crash) {
    for (const char* field : {"shape", "data_offsets", "dtype"}) {
        std::string entry = R"({"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})";
        const std::string key = std::string("\"") + field + "\": ";
        const size_t at = entry.find(key) + key.size();
        const size_t end = entry.find_first_of(",}", entry.find_first_of("]\"", at + 1) + 1);
        entry = entry.substr(0, at) + testing::deep_json(100000) + entry.substr(end);
        const std::string e = error_of(
            [&] { parse_safetensors(file_with_header("{\"x\": " + entry + "}", "abcd"), "m.st"); });
        BOOST_TEST(contains(e, "m.st: the header: JSON nested deeper than 64 levels"), e);
    }
}

BOOST_AUTO_TEST_CASE(huge_values_are_quoted_with_a_bound) {
    std::string shape = "[";
    for (int i = 0; i < 100000; ++i) shape += (i ? ",-1" : "-1");
    shape += "]";
    const std::string e = error_of([&] {
        parse_safetensors(file_with_header(R"({"x": {"dtype": "F32", "shape": )" + shape +
                                               R"(, "data_offsets": [0, 4]}})",
                                           "abcd"),
                          "m.st");
    });
    BOOST_TEST(contains(e, "\"shape\" [-1,-1,"), e);
    BOOST_TEST(e.size() < 600u, e.size());
    const std::string name(100000, 'n');
    const std::string e2 =
        error_of([&] { parse_safetensors(file_with_header("{\"" + name + "\": 1}"), "m.st"); });
    BOOST_TEST(contains(e2, "not an object"), e2);
    BOOST_TEST(e2.size() < 600u, e2.size());
}

BOOST_AUTO_TEST_CASE(fifo_is_refused_without_blocking) {
    testing::TempDir dir;
    testing::make_fifo(dir / "model.safetensors");
    testing::HangGuard guard;
    const std::string e = error_of([&] { load_safetensors((dir / "model.safetensors").string()); });
    BOOST_TEST((contains(e, "model.safetensors") && contains(e, "FIFO")), e);
    BOOST_TEST(contains(error_of([] { load_safetensors("/dev/zero"); }), "character device"));
}

BOOST_AUTO_TEST_CASE(non_finite_values_are_found_by_name) {
    testing::TempDir dir;
    const std::string path = (dir / "w.safetensors").string();
    Tensor bad = from_vector<double>({1, 2, NAN, 4, INFINITY});
    save_safetensors(path,
                     {{"ok", ones({3})}, {"ids", from_vector<int64_t>({1, 2})}, {"bad", bad}});
    const std::string e = error_of([&] { check_finite(load_safetensors(path), "HINT"); });
    BOOST_TEST(contains(e,
                        "tensor 'bad' (5,) holds 2 non-finite value(s) (the first, element 2, "
                        "is nan)"),
               e);
    BOOST_TEST(contains(e, "; HINT"), e);
    save_safetensors(path, {{"ok", ones({3})}, {"ids", from_vector<int64_t>({1, 2})}});
    BOOST_TEST(error_of([&] { check_finite(load_safetensors(path)); }).empty());
}

BOOST_AUTO_TEST_SUITE_END()
