// Views share storage, compute the right strides, and copy only when they must.
#include <boost/test/unit_test.hpp>

#include "autograd/ops.h"
#include "tensor/view.h"

using namespace gradstack;

BOOST_AUTO_TEST_SUITE(views_suite)

BOOST_AUTO_TEST_CASE(write_through_view_is_seen_by_base) {
    Tensor base = zeros({3, 4});
    Tensor col = views::select(base, 1, 2);  // base[:, 2]
    fill_(col, 7);
    BOOST_TEST(element_at(base, {0, 2}) == 7);
    BOOST_TEST(element_at(base, {2, 2}) == 7);
    BOOST_TEST(element_at(base, {2, 1}) == 0);
    BOOST_TEST(col.storage() == base.storage());
}

BOOST_AUTO_TEST_CASE(permute_slice_strides) {
    Tensor t = arange(24, DType::f32);
    Tensor v = reshape(t, {2, 3, 4});
    BOOST_TEST(v.storage() == t.storage());
    Tensor p = permute(v, {2, 0, 1});
    BOOST_TEST((p.shape() == Shape{4, 2, 3}));
    BOOST_TEST((p.strides() == Shape{1, 12, 4}));
    BOOST_TEST(!p.is_contiguous());
    Tensor s = slice(v, -1, 1, 4, 2);  // v[..., 1:4:2]
    BOOST_TEST((s.shape() == Shape{2, 3, 2}));
    BOOST_TEST(element_at(s, {1, 2, 1}) == 23);
    BOOST_TEST(element_at(s, {0, 0, 0}) == 1);
}

BOOST_AUTO_TEST_CASE(reshape_copies_only_when_needed) {
    Tensor t = reshape(arange(12, DType::f32), {3, 4});
    Tensor tt = transpose(t, 0, 1);                 // (4, 3), not contiguous
    Tensor flat = reshape(tt, {12});                // must copy
    BOOST_TEST(flat.storage() != t.storage());
    BOOST_TEST(to_vector<float>(flat)[1] == 4.0f);  // tt[0, 1] = t[1, 0] = 4
    Tensor split = reshape(t, {3, 2, 2});           // a view
    BOOST_TEST(split.storage() == t.storage());
    // Splitting a dim of a permuted tensor can still be a view.
    Tensor p = permute(reshape(arange(24, DType::f32), {2, 3, 4}), {1, 0, 2});  // (3, 2, 4)
    auto v = views::try_view(p, {3, 2, 2, 2});
    BOOST_TEST(v.has_value());
    BOOST_CHECK_THROW(view(p, {6, 4}), Error);
}

BOOST_AUTO_TEST_CASE(expand_and_broadcast) {
    Tensor a = reshape(arange(3, DType::f32), {3, 1});
    Tensor e = expand(a, {2, 3, 4});
    BOOST_TEST((e.strides() == Shape{0, 1, 0}));
    BOOST_TEST(element_at(e, {1, 2, 3}) == 2);
    Tensor b = from_vector<float>({10, 20, 30, 40});
    Tensor c = a + b;  // (3, 1) + (4,) -> (3, 4)
    BOOST_TEST((c.shape() == Shape{3, 4}));
    BOOST_TEST(element_at(c, {2, 3}) == 42);
    BOOST_CHECK_THROW(expand(a, {2, 2}), Error);  // 3 cannot become 2
}

BOOST_AUTO_TEST_CASE(bad_dims_throw_naming_op) {
    Tensor t = zeros({2, 3});
    try {
        views::select(t, 2, 0);
        BOOST_FAIL("no throw");
    } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("[select] dim 2 is out of range for a 2-d tensor") !=
                   std::string::npos);
    }
    BOOST_CHECK_THROW(views::select(t, 0, 5), Error);
    BOOST_CHECK_THROW(views::permute(t, {0, 0}), Error);
}

BOOST_AUTO_TEST_SUITE_END()
