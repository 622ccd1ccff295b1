// .npy round trips, headers NumPy writes, and the reference files when ../shared is present.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autograd/ops.h"
#include "tensor/npy.h"

using namespace gradstack;

BOOST_AUTO_TEST_SUITE(npy)

BOOST_AUTO_TEST_CASE(round_trip_every_dtype) {
    auto dir = std::filesystem::temp_directory_path() / "gradstack_npy_test";
    std::filesystem::create_directories(dir);
    std::vector<Tensor> ts = {reshape(arange(6, DType::f32), {2, 3}),
                              transpose(reshape(arange(6, DType::f64), {2, 3}), 0, 1),
                              from_vector<int64_t>({-5, 7}), from_vector<bool>({true, false, true}),
                              scalar_tensor(3.5), zeros({0, 4})};
    for (size_t i = 0; i < ts.size(); ++i) {
        std::string path = (dir / fmt::format("t{}.npy", i)).string();
        save_npy(path, ts[i]);
        Tensor back = load_npy(path);
        BOOST_TEST((back.shape() == ts[i].shape()));
        BOOST_TEST(back.dtype() == ts[i].dtype());
        BOOST_TEST(to_vector<double>(back) == to_vector<double>(ts[i]), boost::test_tools::per_element());
    }
    // The header NumPy itself writes for a (2, 3) float32 array, and its 64-byte alignment.
    std::string b = npy_bytes(ts[0]);
    BOOST_TEST(b.substr(10, 59) ==
               "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    BOOST_TEST((b.size() - 24) % 64 == 0u);
    BOOST_TEST(npy_bytes(from_vector<float>({1, 2})).find("'shape': (2,), }") != std::string::npos);
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(fortran_order_and_bad_files) {
    // A (2, 3) int64 array in Fortran order: storage is column by column.
    std::string header = "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }";
    header.append(64 - (10 + header.size() + 1) % 64, ' ');
    header.push_back('\n');
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    bytes += static_cast<char>(header.size());
    bytes += '\0';
    bytes += header;
    for (int64_t v : {0, 3, 1, 4, 2, 5}) bytes.append(reinterpret_cast<const char*>(&v), 8);
    Tensor t = parse_npy(bytes, "f.npy");
    BOOST_TEST(to_vector<int64_t>(t) == std::vector<int64_t>({0, 1, 2, 3, 4, 5}), boost::test_tools::per_element());
    BOOST_CHECK_THROW(parse_npy("hello", "x.npy"), Error);
    BOOST_CHECK_THROW(parse_npy(bytes.substr(0, bytes.size() - 8), "cut.npy"), Error);
    try {
        load_npy("/nonexistent/file.npy");
        BOOST_FAIL("no throw");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("/nonexistent/file.npy") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(reads_reference_files_written_by_numpy) {
    const char* shared = std::getenv("GRADSTACK_SHARED_DIR");
    std::string path = std::string(shared ? shared : "") + "/reference/models/tiny/expected/input_ids_a.npy";
    if (!shared || !std::filesystem::exists(path)) {
        BOOST_TEST_MESSAGE("skipped: ../shared reference files are absent");
        return;
    }
    Tensor ids = load_npy(path);
    BOOST_TEST((ids.shape() == Shape{2, 10}));
    BOOST_TEST(ids.dtype() == DType::i64);
}

BOOST_AUTO_TEST_SUITE_END()
