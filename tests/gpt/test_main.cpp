#define BOOST_TEST_MODULE test_gpt
#include <boost/test/unit_test.hpp>
