#define BOOST_TEST_MODULE test_pplm
#include <boost/test/unit_test.hpp>
