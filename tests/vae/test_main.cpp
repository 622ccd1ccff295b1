#define BOOST_TEST_MODULE test_vae
#include <boost/test/unit_test.hpp>
