// Runs the float64 gradcheck on every catalog entry, and fails when a registered differentiable op
// has no entry.
#define BOOST_TEST_MODULE test_autograd
#include <boost/test/unit_test.hpp>

#include <set>

#include "autograd/node.h"
#include "tests/autograd/catalog.h"

using namespace gradstack;
using namespace gradstack::testing;

BOOST_AUTO_TEST_CASE(every_catalog_entry_passes_gradcheck) {
    build_catalog();
    BOOST_REQUIRE(!catalog().empty());
    for (const CatalogEntry& e : catalog()) {
        BOOST_TEST_CONTEXT(e.op << " [" << e.variant << "]") {
            GradcheckResult r;
            try {
                r = gradcheck(e.fn, e.inputs, e.options);
            } catch (const Error& err) {
                r.ok = false;
                r.message = std::string("threw: ") + err.what();
            }
            BOOST_CHECK_MESSAGE(r.ok, e.op << " [" << e.variant << "]: " << r.message);
        }
    }
}

BOOST_AUTO_TEST_CASE(every_registered_op_has_a_catalog_entry) {
    build_catalog();
    std::set<std::string> covered;
    for (const CatalogEntry& e : catalog()) covered.insert(e.op);
    for (const std::string& op : registered_ops())
        BOOST_CHECK_MESSAGE(covered.count(op), "differentiable op '" << op
                                                   << "' has no gradcheck catalog entry");
}
