#define BOOST_TEST_MODULE test_nn
#include <boost/test/unit_test.hpp>
