// The device suite's precondition: a CUDA device is present (Boost.Test reports the suite as
// skipped, saying why, when it is not).
#pragma once

#include <boost/test/unit_test.hpp>

#include "cuda/runtime.h"

namespace gradstack::testing {

struct HasCudaDevice {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result r(cuda::device_count() > 0);
        if (!r) r.message() << "no CUDA device: " << cuda::why_no_device();
        return r;
    }
};

}  // namespace gradstack::testing
