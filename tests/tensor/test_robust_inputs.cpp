// The one rule for file inputs (tensor/io.h read_input_file, check_input_file, MappedFile) and
// bounded JSON (tensor/json.h), against what a hostile user hands in: FIFOs, /dev/zero,
// directories, files past the cap, 100,000 levels of JSON nesting, huge values in messages.
#include <fcntl.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "tensor/io.h"
#include "tensor/json.h"
#include "tensor/npy.h"
#include "tests/robust_inputs.h"
#include "tests/test_util.h"

using namespace gradstack;
using namespace gradstack::testing;

BOOST_AUTO_TEST_SUITE(robust_inputs)

BOOST_AUTO_TEST_CASE(regular_file_is_read_under_its_cap) {
    TempDir dir;
    write_text(dir / "a.txt", "hello");
    BOOST_TEST(read_input_file((dir / "a.txt").string(), 5, "--file") == "hello");
    BOOST_TEST(check_input_file((dir / "a.txt").string(), "--file") == 5u);
    const std::string e = error_of([&] { read_input_file((dir / "a.txt").string(), 4, "--file"); });
    BOOST_TEST(contains(e, "a.txt"));
    BOOST_TEST(contains(e, "5 bytes, more than the 4 bytes --file can need"));
}

BOOST_AUTO_TEST_CASE(fifo_is_refused_without_blocking) {
    TempDir dir;
    make_fifo(dir / "pipe");
    HangGuard guard;
    const std::string path = (dir / "pipe").string();
    for (const std::string& e : {error_of([&] { read_input_file(path, 1024, "--file"); }),
                                 error_of([&] { check_input_file(path, "--ids"); }),
                                 error_of([&] { MappedFile mapped(path); })}) {
        BOOST_TEST(contains(e, path));
        BOOST_TEST(contains(e, "FIFO"));
    }
}

BOOST_AUTO_TEST_CASE(an_atomic_write_never_replaces_a_fifo_a_device_or_a_folder) {
    // The rename would have replaced the entry itself (as root, /dev/full became a plain file).
    TempDir dir;
    make_fifo(dir / "pipe");
    std::filesystem::create_directories(dir / "folder");
    auto write = [](const std::string& path) {
        return error_of([&] { write_file_atomically(path, [](OutputFile& f) { f.write("x"); }); });
    };
    BOOST_TEST(contains(write((dir / "pipe").string()), "is not a regular file (a FIFO)"));
    BOOST_TEST(contains(write((dir / "folder").string()), "is not a regular file (a folder)"));
    BOOST_TEST(contains(write("/dev/null"), "is not a regular file (a device)"));
    BOOST_TEST(std::filesystem::is_fifo(dir / "pipe"));
    BOOST_TEST(std::filesystem::is_character_file("/dev/null"));
    BOOST_TEST(write((dir / "new.txt").string()).empty());
    BOOST_TEST(write((dir / "new.txt").string()).empty());  // a regular file is replaced
}

BOOST_AUTO_TEST_CASE(devices_directories_and_missing_files_are_refused) {
    TempDir dir;
    HangGuard guard;
    BOOST_TEST(contains(error_of([] { read_input_file("/dev/zero", 1024, "--file"); }),
                        "/dev/zero: is a character device, not a regular file (--file)"));
    BOOST_TEST(contains(error_of([&] { read_input_file(dir.path.string(), 1024, "--file"); }),
                        "is a directory"));
    BOOST_TEST(contains(error_of([&] { read_input_file((dir / "none").string(), 1, "--file"); }),
                        "No such file"));
    // "-" is a file name like any other unless the caller allows stdin.
    BOOST_TEST(contains(error_of([] { read_input_file("-", 1, "--file"); }), "-: cannot open"));
}

BOOST_AUTO_TEST_CASE(stdin_is_read_with_a_bound) {
    // Standard input is /dev/zero for the length of the test: an endless stream.
    HangGuard guard;
    const int saved = dup(STDIN_FILENO);
    const int zero = open("/dev/zero", O_RDONLY);
    BOOST_REQUIRE(saved >= 0 && zero >= 0);
    dup2(zero, STDIN_FILENO);
    const std::string e = error_of([] { read_input_file("-", 1 << 20, "stdin", true); });
    dup2(saved, STDIN_FILENO);
    close(zero);
    close(saved);
    BOOST_TEST(contains(e, "<stdin>: more than 1048576 bytes, the most stdin can need"));
}

BOOST_AUTO_TEST_CASE(deep_json_is_refused_before_parsing) {
    const std::string deep = deep_json(100000);
    const std::string e = error_of([&] { parse_json(deep, "deep.json"); });
    BOOST_TEST(contains(e, "deep.json: JSON nested deeper than 64 levels (at byte 64)"));
    // Brackets inside strings are text, not nesting.
    const nlohmann::json j = parse_json("{\"a\": \"" + std::string(1000, '[') + "\\\"[\"}", "x");
    BOOST_TEST(j["a"].get<std::string>().size() == 1002u);
    BOOST_TEST(parse_json(deep_json(64), "x").is_array());
    BOOST_TEST(contains(error_of([] { parse_json("{\"a\": 1", "cfg.json"); }),
                        "cfg.json: not valid JSON: parse error at line 1, column 8"));
    BOOST_TEST(!contains(error_of([] { parse_json("{\"a\": 1", "cfg.json"); }), "json.exception"));
}

BOOST_AUTO_TEST_CASE(messages_quote_values_with_a_bound) {
    BOOST_TEST(excerpt("short") == "short");
    BOOST_TEST(excerpt(std::string(1000, 'x'), 10) == "xxxxxxxxxx...");
    BOOST_TEST(excerpt("a\nb") == "a?b");
    // A cut never leaves half a UTF-8 character: "é" is 2 bytes.
    BOOST_TEST(excerpt("aaaa\xc3\xa9", 5) == "aaaa...");
    nlohmann::json big = nlohmann::json::array();
    for (int i = 0; i < 100000; ++i) big.push_back(i);
    const std::string s = json_excerpt(big);
    BOOST_TEST(s.size() <= 63u);
    BOOST_TEST(s.substr(0, 8) == "[0,1,2,3");
    BOOST_TEST(json_excerpt(nlohmann::json::parse(R"({"a":[1,"b"]})")) == R"({"a":[1,"b"]})");
    BOOST_TEST(json_excerpt(parse_json(deep_json(60), "x")).size() <= 63u);
}

BOOST_AUTO_TEST_CASE(typed_values_name_the_key) {
    const nlohmann::json j = parse_json(R"({"n_layer": "twelve"})", "config.json");
    const std::string e =
        error_of([&] { json_get<int64_t>(j, "n_layer", "config.json", "an integer"); });
    BOOST_TEST(contains(e, "config.json: 'n_layer' must be an integer, got \"twelve\""));
    BOOST_TEST(
        contains(error_of([&] { json_get<int64_t>(j, "n_head", "config.json", "an integer"); }),
                 "config.json: has no 'n_head'"));
    BOOST_TEST(json_get<std::string>(j, "n_layer", "config.json", "a string") == "twelve");
}

// A .npy file with the given header dict and `data_bytes` bytes of data after it.
std::string npy_with_header(const std::string& dict, size_t data_bytes) {
    std::string header = dict;
    header += std::string((64 - (10 + header.size() + 1) % 64) % 64, ' ') + "\n";
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    return out + header + std::string(data_bytes, '\0');
}

BOOST_AUTO_TEST_CASE(npy_shape_whose_product_overflows_is_refused) {
    // 2^32 * 2^32 * 2 = 2^65 wraps to 0 in 64 bits: 0 bytes needed, and the file has 0.
    const std::string e = error_of([] {
        parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                  "(4294967296, 4294967296, 2), }",
                                  0),
                  "x.npy");
    });
    BOOST_TEST(contains(e, "x.npy: shape (4294967296, 4294967296, 2) has more elements than fit"));
    // The count fits but count * itemsize does not: still refused, not wrapped.
    BOOST_TEST(contains(error_of([] {
                            parse_npy(npy_with_header("{'descr': '<f8', 'fortran_order': False, "
                                                      "'shape': (2147483648, 2147483648), }",
                                                      8),
                                      "y.npy");
                        }),
                        "needs 4611686018427387904 x 8 bytes"));
    // A size that is not a number names the entry (it used to be "stoll").
    BOOST_TEST(contains(error_of([] {
                            parse_npy(npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                                      "'shape': (2, x), }",
                                                      8),
                                      "z.npy");
                        }),
                        "z.npy: shape entry 'x' is not a size"));
    BOOST_TEST(contains(error_of([] {
                            parse_npy(npy_with_header("{'descr': '|b1', 'fortran_order': False, "
                                                      "'shape': (2,), }",
                                                      0) +
                                          "\x01\x07",
                                      "b.npy");
                        }),
                        "b.npy: bool element 1 is byte 7"));
    const Tensor ok = parse_npy(
        npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", 0), "ok");
    BOOST_TEST((ok.shape() == Shape{2, 0}));
}

BOOST_AUTO_TEST_CASE(npy_fifo_and_dev_zero_are_refused) {
    TempDir dir;
    make_fifo(dir / "a.npy");
    HangGuard guard;
    BOOST_TEST(contains(error_of([&] { load_npy((dir / "a.npy").string()); }), "FIFO"));
    BOOST_TEST(contains(error_of([] { load_npy("/dev/zero"); }), "character device"));
}

BOOST_AUTO_TEST_SUITE_END()
