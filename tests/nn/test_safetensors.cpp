// safetensors: round trips of every dtype and layout, the exact bytes of a small file worked out by
// hand from the format, F16/BF16 written by hand, every malformed-file error, a writer killed
// midway, and (when ../shared is present) a file written by Python's safetensors.
#include "nn/safetensors.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autograd/ops.h"
#include "tensor/view.h"

using namespace gradstack;
namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

struct TempFolder {
    fs::path path;
    TempFolder() {
        std::string pattern = (fs::temp_directory_path() / "gradstack-st-XXXXXX").string();
        BOOST_REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempFolder() { fs::remove_all(path); }
};

Bytes read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& p, const Bytes& b) {
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}

// A file made by hand: the 8-byte little-endian length of `header`, `header`, then `data`.
Bytes make_file(const std::string& header, const Bytes& data = {}) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(uint64_t(header.size()) >> (8 * i));
    s += header;
    s.append(data.begin(), data.end());
    return Bytes(s.begin(), s.end());
}

// Writes `bytes` to a file, loads it, and returns the error message (fails if nothing throws).
// Every message must name the file.
std::string load_error(const Bytes& bytes) {
    TempFolder dir;
    fs::path p = dir.path / "bad.safetensors";
    write_bytes(p, bytes);
    try {
        SafetensorsFile f = load_safetensors(p.string());
        for (const std::string& k : f.keys()) f.get(k);
    } catch (const Error& e) {
        std::string msg = e.what();
        BOOST_TEST(msg.find(p.string()) != std::string::npos, "message lacks the path: " << msg);
        return msg;
    }
    BOOST_FAIL("loading did not throw");
    return "";
}

// Checks that loading `bytes` fails with a message holding every one of `parts`.
void expect_error(const Bytes& bytes, const std::vector<std::string>& parts) {
    std::string msg = load_error(bytes);
    for (const std::string& part : parts) {
        BOOST_TEST(msg.find(part) != std::string::npos, "'" << part << "' not in: " << msg);
    }
}

std::string entry(const std::string& key, const std::string& dtype, const std::string& shape,
                  uint64_t begin, uint64_t end) {
    return fmt::format(R"("{}":{{"dtype":"{}","shape":{},"data_offsets":[{},{}]}})", key, dtype,
                       shape, begin, end);
}

void check_same(const Tensor& a, const Tensor& b) {
    BOOST_TEST(a.dtype() == b.dtype());
    BOOST_TEST(shape_str(a.shape()) == shape_str(b.shape()));
    BOOST_TEST(a.numel() == b.numel());
    if (a.numel() == 0) return;  // (to_vector of an empty non-contiguous tensor divides by 0)
    if (a.dtype() == DType::i64) {  // doubles would round large int64s
        BOOST_TEST(to_vector<int64_t>(a) == to_vector<int64_t>(b),
                   boost::test_tools::per_element());
    } else {
        BOOST_TEST(to_vector<double>(a) == to_vector<double>(b), boost::test_tools::per_element());
    }
}

fs::path shared_dir() {
    const char* env = std::getenv("GRADSTACK_SHARED_DIR");
    return env ? fs::path(env) : fs::path("../shared");
}

boost::test_tools::assertion_result tiny_model_present(boost::unit_test::test_unit_id) {
    fs::path p = shared_dir() / "reference/models/tiny/model.safetensors";
    boost::test_tools::assertion_result r(fs::exists(p));
    r.message() << "skipped: " << p.string() << " is absent (no ../shared reference folder)";
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors_suite)

BOOST_AUTO_TEST_CASE(round_trip_every_dtype_and_layout) {
    TempFolder dir;
    std::string p = (dir.path / "all.safetensors").string();
    Tensor m = reshape(arange(12, DType::f32), {3, 4});
    NamedTensors in = {
        {"z.f32", from_vector<float>({1.5f, -2.25f, 1e-30f, 3e38f, -0.0f, 7}, {2, 3})},
        {"a.f64", from_vector<double>({3.141592653589793, -1e-300, 1e300}, {3})},
        {"m.i64", from_vector<int64_t>({-9007199254740993LL, 0, 42, INT64_MAX}, {2, 2})},
        {"bool", from_vector<bool>({true, false, false, true, true}, {5})},
        {"scalar", scalar_tensor(-7.5, DType::f64)},
        {"empty", empty({0}, DType::f32)},
        {"empty2d", empty({3, 0}, DType::i64)},
        {"empty_transposed", transpose(empty({2, 0}, DType::f64), 0, 1)},
        {"transposed", transpose(m, 0, 1)},       // (4, 3), strides (1, 4)
        {"sliced", slice(m, 1, 0, 4, 3)},         // m[:, ::3], (3, 2)
        {"expanded", expand(reshape(arange(2, DType::f64), {2, 1}), {2, 3})},  // stride 0
    };
    save_safetensors(p, in, {{"format", "pt"}, {"step", "12"}});
    SafetensorsFile f = load_safetensors(p);
    std::vector<std::string> names;
    for (const auto& [k, t] : in) names.push_back(k);
    BOOST_TEST(f.keys() == names, boost::test_tools::per_element());  // saved order, not sorted
    BOOST_TEST(f.metadata().at("format") == "pt");
    BOOST_TEST(f.metadata().at("step") == "12");
    for (const auto& [k, t] : in) check_same(f.get(k), t);
    BOOST_TEST(f.info("scalar").shape.empty());
    BOOST_TEST(f.info("transposed").file_dtype == "F32");
    BOOST_TEST(f.info("bool").file_dtype == "BOOL");
    BOOST_TEST(shape_str(f.info("empty2d").shape) == "(3, 0)");
    // tensors() gives the same, in order; an in-memory parse of the bytes gives the same too.
    NamedTensors all = f.tensors();
    BOOST_TEST(all.size() == in.size());
    SafetensorsFile g = parse_safetensors(read_bytes(p), "memory");
    for (const auto& [k, t] : in) check_same(g.get(k), t);
}

BOOST_AUTO_TEST_CASE(header_bytes_match_the_format_exactly) {
    // One F32 tensor x = [1, -2]. The header JSON is 54 bytes, padded with 2 spaces to 56 = 0x38:
    //   38 00 00 00 00 00 00 00 | {"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"  "
    //   | 00 00 80 3f (1.0f) 00 00 00 c0 (-2.0f)
    TempFolder dir;
    fs::path p = dir.path / "x.safetensors";
    save_safetensors(p.string(), {{"x", from_vector<float>({1, -2})}});
    std::string json = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    BOOST_REQUIRE(json.size() == 54u);
    std::string expected = std::string("\x38\0\0\0\0\0\0\0", 8) + json + "  " +
                           std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
    Bytes got = read_bytes(p);
    BOOST_TEST(std::string(got.begin(), got.end()) == expected);

    // With metadata, "__metadata__" comes first: 79 bytes of JSON + 1 space = 80.
    save_safetensors(p.string(), {{"x", from_vector<float>({1, -2})}}, {{"k", "v"}});
    Bytes b = read_bytes(p);
    BOOST_TEST(b.size() == 8u + 80 + 8);
    BOOST_TEST(b[0] == 80);
    BOOST_TEST(
        std::string(b.begin() + 8, b.begin() + 88) ==
        R"({"__metadata__":{"k":"v"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} )");
}

BOOST_AUTO_TEST_CASE(misaligned_tensors_are_copied) {
    // bool (3 bytes) then f64: the f64 starts at data offset 3, not 8-aligned, so get() copies.
    TempFolder dir;
    std::string p = (dir.path / "mis.safetensors").string();
    Tensor b = from_vector<bool>({true, false, true});
    Tensor d = from_vector<double>({0.1, 0.2});
    save_safetensors(p, {{"b", b}, {"d", d}});
    SafetensorsFile f = load_safetensors(p);
    BOOST_TEST(f.info("d").begin == 3u);
    check_same(f.get("d"), d);
    check_same(f.get("b"), b);
}

BOOST_AUTO_TEST_CASE(writing_a_loaded_tensor_never_changes_the_file) {
    TempFolder dir;
    std::string p = (dir.path / "w.safetensors").string();
    save_safetensors(p, {{"w", from_vector<float>({1, 2, 3, 4})}});
    Bytes before = read_bytes(p);
    {
        SafetensorsFile f = load_safetensors(p);
        Tensor w = f.get("w");
        fill_(w, 9);
        BOOST_TEST(to_vector<float>(w)[2] == 9.0f);
    }
    BOOST_TEST(read_bytes(p) == before, boost::test_tools::per_element());
    // A tensor outlives its SafetensorsFile (it keeps the mapping alive).
    Tensor kept = load_safetensors(p).get("w");
    BOOST_TEST(to_vector<float>(kept)[3] == 4.0f);
}

BOOST_AUTO_TEST_CASE(f16_and_bf16_are_widened_exactly) {
    // Bit patterns and their values, from the IEEE 754 half and bfloat16 layouts.
    std::vector<uint16_t> half = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff,
                                  0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555};
    std::vector<float> half_values = {1.0f,
                                      -2.0f,
                                      std::ldexp(1.0f, -24),         // smallest subnormal
                                      1023 * std::ldexp(1.0f, -24),  // largest subnormal
                                      std::ldexp(1.0f, -14),         // smallest normal
                                      65504.0f,                      // largest normal
                                      INFINITY,
                                      -INFINITY,
                                      NAN,
                                      -0.0f,
                                      0.333251953125f};
    std::vector<uint16_t> bf16 = {0x3f80, 0xc040, 0x0001, 0x7f80, 0xffc0, 0x4049, 0x8000};
    std::vector<float> bf16_values = {1.0f, -3.0f, std::ldexp(1.0f, -133), INFINITY,
                                      NAN,  3.140625f, -0.0f};
    Bytes data;
    for (uint16_t h : half) data.insert(data.end(), {uint8_t(h & 0xff), uint8_t(h >> 8)});
    for (uint16_t h : bf16) data.insert(data.end(), {uint8_t(h & 0xff), uint8_t(h >> 8)});
    std::string header = "{" + entry("h", "F16", "[11]", 0, 22) + "," +
                         entry("b", "BF16", "[7]", 22, 36) + "}";
    SafetensorsFile f = parse_safetensors(make_file(header, data), "hand.safetensors");
    BOOST_TEST(f.info("h").file_dtype == "F16");
    BOOST_TEST(f.info("h").dtype == DType::f32);
    auto compare = [](const Tensor& t, const std::vector<float>& want) {
        BOOST_TEST(t.dtype() == DType::f32);
        std::vector<float> got = to_vector<float>(t);
        BOOST_REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < want.size(); ++i) {
            if (std::isnan(want[i])) {
                BOOST_TEST(std::isnan(got[i]));
            } else {
                BOOST_TEST(got[i] == want[i], "element " << i);
                BOOST_TEST(std::signbit(got[i]) == std::signbit(want[i]), "sign of " << i);
            }
        }
    };
    compare(f.get("h"), half_values);
    compare(f.get("b"), bf16_values);
}

BOOST_AUTO_TEST_CASE(truncated_files) {
    expect_error({1, 2, 3, 4, 5}, {"has 5 bytes, fewer than the 8-byte", "cut short"});
    expect_error({}, {"has 0 bytes"});
    Bytes good = make_file("{" + entry("w", "F32", "[2]", 0, 8) + "}", Bytes(8, 0));
    Bytes header_cut(good.begin(), good.begin() + 30);
    expect_error(header_cut, {"header says it is", "cut short"});
    Bytes data_cut(good.begin(), good.end() - 3);
    expect_error(data_cut, {"tensor 'w'", "beyond the end of the data region (5 bytes)",
                            "cut short"});
    Bytes huge = make_file("{}");
    huge[7] = 0xff;  // a header length near 2^64
    expect_error(huge, {"header says it is"});
}

BOOST_AUTO_TEST_CASE(header_is_not_a_json_object) {
    expect_error(make_file("{abc"), {"not valid JSON", "not written by a safetensors writer"});
    expect_error(make_file("[1, 2]"), {"is a JSON array, not an object"});
    expect_error(make_file("\"text\""), {"not an object"});
    expect_error(make_file(""), {"not valid JSON"});
    expect_error(make_file(std::string("{}\0\0", 4)), {"NUL byte at offset 2"});
}

BOOST_AUTO_TEST_CASE(entries_with_missing_or_mistyped_fields) {
    Bytes data(8, 0);
    expect_error(make_file(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", data),
                 {"tensor 'w'", "no \"dtype\""});
    expect_error(make_file(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", data),
                 {"tensor 'w'", "no \"shape\""});
    expect_error(make_file(R"({"w":{"dtype":"F32","shape":[2]}})", data),
                 {"tensor 'w'", "no \"data_offsets\""});
    expect_error(make_file(R"({"w":5})", data), {"tensor 'w'", "number, not an object"});
    expect_error(make_file(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", data),
                 {"tensor 'w'", "\"dtype\" is a number"});
    expect_error(make_file(R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", data),
                 {"tensor 'w'", "\"shape\" is a string"});
    expect_error(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", data),
                 {"tensor 'w'", "[begin, end]"});
    expect_error(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":{"a":1}}})", data),
                 {"tensor 'w'", "[begin, end]"});
    expect_error(make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", data),
                 {"tensor 'w'", "two integers"});
}

BOOST_AUTO_TEST_CASE(unknown_dtype_and_bad_shapes) {
    Bytes data(8, 0);
    expect_error(make_file("{" + entry("w", "I32", "[2]", 0, 8) + "}", data),
                 {"tensor 'w'", "dtype \"I32\" is not supported"});
    expect_error(make_file("{" + entry("w", "f32", "[2]", 0, 8) + "}", data),
                 {"dtype \"f32\" is not supported"});
    expect_error(make_file("{" + entry("w", "F32", "[-2]", 0, 8) + "}", data),
                 {"tensor 'w'", "holds -2, not a size >= 0"});
    expect_error(make_file("{" + entry("w", "F32", "[2.0]", 0, 8) + "}", data),
                 {"tensor 'w'", "not a size >= 0"});
    expect_error(make_file("{" + entry("w", "F32", "[true]", 0, 8) + "}", data),
                 {"not a size >= 0"});
    expect_error(make_file("{" + entry("w", "F32", "[4294967296,4294967296,0]", 0, 0) + "}"),
                 {"tensor 'w'", "more elements than fit"});
}

BOOST_AUTO_TEST_CASE(offsets_out_of_range_overlapping_or_not_covering) {
    Bytes data(16, 0);
    // begin > end
    expect_error(make_file("{" + entry("w", "F32", "[2]", 8, 0) + "}", data),
                 {"tensor 'w'", "begin after they end"});
    // beyond the data
    expect_error(make_file("{" + entry("w", "F32", "[2]", 12, 20) + "}", data),
                 {"tensor 'w'", "beyond the end"});
    // byte count != numel * itemsize
    expect_error(make_file("{" + entry("w", "F32", "[3]", 0, 16) + "}", data),
                 {"tensor 'w'", "needs 3 x 4 bytes", "hold 16"});
    // overlap: a = [0, 8), b = [4, 12) (+ c to cover the rest)
    expect_error(make_file("{" + entry("a", "F32", "[2]", 0, 8) + "," +
                               entry("b", "F32", "[2]", 4, 12) + "," +
                               entry("c", "F32", "[1]", 12, 16) + "}",
                           data),
                 {"tensor 'b'", "overlaps tensor 'a'"});
    // a gap: bytes [8, 12) belong to nobody
    expect_error(make_file("{" + entry("a", "F32", "[2]", 0, 8) + "," +
                               entry("b", "F32", "[1]", 12, 16) + "}",
                           data),
                 {"bytes [8, 12) of the data belong to no tensor", "'b'"});
    // trailing bytes after the last tensor
    expect_error(make_file("{" + entry("a", "F32", "[2]", 0, 8) + "}", data),
                 {"has 16 bytes but the tensors cover only the first 8"});
}

BOOST_AUTO_TEST_CASE(bad_metadata_duplicates_and_bad_bools) {
    Bytes data(8, 0);
    std::string w = entry("w", "F32", "[2]", 0, 8);
    expect_error(make_file(R"({"__metadata__":{"format":5},)" + w + "}", data),
                 {"'__metadata__' entry 'format' must be a string"});
    expect_error(make_file(R"({"__metadata__":["pt"],)" + w + "}", data),
                 {"'__metadata__' must be an object"});
    expect_error(make_file("{" + w + "," + w + "}", data), {"tensor 'w' appears twice"});
    expect_error(
        make_file(R"({"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data),
        {"tensor 'w'", "field 'dtype' appears twice"});
    expect_error(make_file(R"({"__metadata__":{"a":"1","a":"2"}})"), {"field 'a' appears twice"});
    // A BOOL byte other than 0 or 1 is refused when the tensor is read.
    expect_error(make_file("{" + entry("b", "BOOL", "[3]", 0, 3) + "}", {0, 1, 2}),
                 {"tensor 'b'", "element 2 is byte 2, not 0 or 1"});
}

BOOST_AUTO_TEST_CASE(unknown_key_and_bad_save_input) {
    SafetensorsFile f = parse_safetensors(make_file("{" + entry("w", "F32", "[0]", 0, 0) + "}"),
                                          "mem");
    try {
        f.get("v");
        BOOST_FAIL("no throw");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()) == "mem: no tensor named 'v' (the file has 1 tensors: w)");
    }
    TempFolder dir;
    std::string p = (dir.path / "s.safetensors").string();
    Tensor t = zeros({2});
    BOOST_CHECK_THROW(save_safetensors(p, {{"a", t}, {"a", t}}), Error);
    BOOST_CHECK_THROW(save_safetensors(p, {{"__metadata__", t}}), Error);
    BOOST_CHECK_THROW(save_safetensors(p, {{"a", Tensor()}}), Error);
    BOOST_CHECK_THROW(save_safetensors(p, {{"bad\xff", t}}), Error);  // not UTF-8
    BOOST_TEST(!fs::exists(p));
}

BOOST_AUTO_TEST_CASE(compare_keys_reports_by_name) {
    SafetensorsFile f = parse_safetensors(
        make_file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[1]", 8, 12) +
                      "," + entry("extra", "F32", "[]", 12, 16) + "}",
                  Bytes(16, 0)),
        "ckpt.safetensors");
    LoadReport ok = compare_keys({{"a", {2}}, {"b", {1}}, {"extra", {}}}, f, true);
    BOOST_TEST(ok.ok());
    LoadReport r = compare_keys({{"a", {2}}, {"b", {3}}, {"c", {4}}}, f);
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.missing == std::vector<std::string>{"c"}, boost::test_tools::per_element());
    BOOST_TEST(r.unexpected == std::vector<std::string>{"extra"}, boost::test_tools::per_element());
    BOOST_REQUIRE(r.mismatched.size() == 1u);
    BOOST_TEST(r.mismatched[0].key == "b");
    try {
        compare_keys({{"a", {2}}, {"b", {3}}, {"c", {4}}}, f, true);
        BOOST_FAIL("no throw");
    } catch (const Error& e) {
        std::string msg = e.what();
        for (const char* part : {"ckpt.safetensors", "1 missing, 1 unexpected, 1 with another",
                                 "missing: c", "unexpected: extra",
                                 "shape mismatch: b expected (3,), file has (1,)"}) {
            BOOST_TEST(msg.find(part) != std::string::npos, part << " not in: " << msg);
        }
    }
}

BOOST_AUTO_TEST_CASE(save_killed_midway_leaves_a_complete_file) {
    // A child saves two different 32 MiB checkpoints in turn, forever; we SIGKILL it at some point
    // while it writes. Whatever is under the final name must be one of the two, complete.
    TempFolder dir;
    fs::path p = dir.path / "model.safetensors";
    Tensor a = full({8 << 20}, 1.0f);
    Tensor b = full({8 << 20}, 2.0f);
    pid_t pid = fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        try {
            for (int i = 0;; ++i) save_safetensors(p.string(), {{"w", i % 2 ? b : a}});
        } catch (...) {
        }
        _exit(1);
    }
    for (int i = 0; i < 20000 && !fs::exists(p); ++i) usleep(1000);  // the first save
    usleep(30000);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    BOOST_TEST(WIFSIGNALED(status));
    BOOST_REQUIRE(fs::exists(p));
    SafetensorsFile f = load_safetensors(p.string());
    std::vector<float> w = to_vector<float>(f.get("w"));
    BOOST_REQUIRE(w.size() == size_t(8 << 20));
    BOOST_TEST((w.front() == 1.0f || w.front() == 2.0f));
    BOOST_TEST(std::count(w.begin(), w.end(), w.front()) == std::ptrdiff_t(w.size()));
}

BOOST_AUTO_TEST_CASE(reads_python_safetensors_file,
                     *boost::unit_test::precondition(tiny_model_present)) {
    fs::path folder = shared_dir() / "reference/models/tiny";
    SafetensorsFile f = load_safetensors((folder / "model.safetensors").string());
    std::ifstream meta_in(folder / "expected/meta.json");
    nlohmann::json meta = nlohmann::json::parse(meta_in);
    auto keys = meta["safetensors_keys"].get<std::vector<std::string>>();
    BOOST_TEST(f.keys() == keys, boost::test_tools::per_element());
    BOOST_TEST(f.metadata().at("format") == "pt");
    // Shapes from config.json (n_embd 16, n_positions 128, vocab 50257), Conv1D weights [in, out].
    std::map<std::string, Shape> expected;
    for (int l = 0; l < 2; ++l) {
        std::string h = fmt::format("transformer.h.{}.", l);
        for (const char* ln : {"ln_1", "ln_2"}) {
            expected[h + ln + ".weight"] = {16};
            expected[h + ln + ".bias"] = {16};
        }
        expected[h + "attn.c_attn.weight"] = {16, 48};
        expected[h + "attn.c_attn.bias"] = {48};
        expected[h + "attn.c_proj.weight"] = {16, 16};
        expected[h + "attn.c_proj.bias"] = {16};
        expected[h + "mlp.c_fc.weight"] = {16, 64};
        expected[h + "mlp.c_fc.bias"] = {64};
        expected[h + "mlp.c_proj.weight"] = {64, 16};
        expected[h + "mlp.c_proj.bias"] = {16};
    }
    expected["transformer.ln_f.weight"] = {16};
    expected["transformer.ln_f.bias"] = {16};
    expected["transformer.wte.weight"] = {50257, 16};
    expected["transformer.wpe.weight"] = {128, 16};
    BOOST_TEST(compare_keys(expected, f, true).ok());
    int64_t total = 0;
    for (const auto& [k, t] : f.tensors()) {
        BOOST_TEST(t.dtype() == DType::f32);
        total += t.numel();
    }
    BOOST_TEST(total == meta["n_parameters"].get<int64_t>());
    // Written back with the same metadata, the file is byte-identical to Python's.
    TempFolder dir;
    fs::path copy = dir.path / "copy.safetensors";
    save_safetensors(copy.string(), f.tensors(), f.metadata());
    BOOST_TEST((read_bytes(copy) == read_bytes(folder / "model.safetensors")));
}

BOOST_AUTO_TEST_SUITE_END()
