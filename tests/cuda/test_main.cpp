// test_cuda: the CUDA backend's tests, in two suites that ctest runs as two entries.
//   host   (test_cuda_host):   what needs no GPU: device strings, the errors a machine without a
//                              GPU gives, the Philox port, the allocator's size classes, how
//                              launch.h describes strided operands. Runs everywhere.
//   device (test_cuda_device): every kernel against the CPU, the op catalog's gradchecks on the
//                              GPU, GPT-2, training steps, generation, the allocator. Without a
//                              device it prints why and exits with 77, which ctest counts as
//                              skipped (never as passed).
#define BOOST_TEST_MODULE test_cuda
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <iostream>

#include "cuda/runtime.h"

int main(int argc, char** argv) {
    bool device_suite = false;
    for (int i = 1; i < argc; ++i)
        if (std::strncmp(argv[i], "--run_test=device", 17) == 0) device_suite = true;
    if (device_suite && gradstack::cuda::device_count() == 0) {
        std::cout << "no CUDA device: the CUDA device tests are skipped ("
                  << gradstack::cuda::why_no_device() << ")\n";
        return 77;
    }
    return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
