#define BOOST_TEST_MODULE test_tensor
#include <boost/test/unit_test.hpp>
