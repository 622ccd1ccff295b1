#define BOOST_TEST_MODULE test_rl
#include <boost/test/unit_test.hpp>
