#define BOOST_TEST_MODULE test_apps
#include <boost/test/unit_test.hpp>
