// The engine's behaviour: accumulation, retain_graph, no-grad, detach, views, seeds, the in-place
// guard, shape checks, to_dot, and that gradcheck does catch a wrong gradient.
#include <boost/test/unit_test.hpp>

#include "autograd/dot.h"
#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "tests/test_util.h"

using gradstack::testing::contains;
using gradstack::testing::error_of;

using namespace gradstack;

BOOST_AUTO_TEST_SUITE(engine)

BOOST_AUTO_TEST_CASE(simple_chain_and_accumulation) {
    Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
    Tensor y = sum(x * x * 3.0);  // dy/dx = 6x
    y.backward();
    BOOST_TEST(to_vector<double>(x.grad()) == std::vector<double>({6, 12, 18}),
               boost::test_tools::per_element());
    sum(x * 2.0).backward();  // accumulates: 6x + 2
    BOOST_TEST(to_vector<double>(x.grad()) == std::vector<double>({8, 14, 20}),
               boost::test_tools::per_element());
    x.zero_grad();
    BOOST_TEST(!x.grad().defined());
}

BOOST_AUTO_TEST_CASE(shared_subexpression_sums_both_paths) {
    Tensor x = from_vector<double>({2}).requires_grad_();
    Tensor a = x * x;        // used twice below
    Tensor y = sum(a * a + a);  // y = x^4 + x^2, dy/dx = 4x^3 + 2x = 36
    y.backward();
    BOOST_TEST(x.grad().item() == 36.0);
}

BOOST_AUTO_TEST_CASE(backward_twice_needs_retain_graph) {
    Tensor x = from_vector<double>({1, 2}).requires_grad_();
    Tensor y = sum(exp(x));
    y.backward(Tensor(), /*retain_graph=*/true);
    y.backward();  // allowed: the first kept the graph
    std::string msg = error_of([&] { y.backward(); });
    BOOST_TEST(contains(msg, "already freed"));
    BOOST_TEST(contains(msg, "retain_graph"));
}

BOOST_AUTO_TEST_CASE(no_grad_and_detach_cut_the_graph) {
    Tensor x = from_vector<double>({1, 2}).requires_grad_();
    {
        NoGradGuard guard;
        Tensor y = x * 2.0;
        BOOST_TEST(!y.requires_grad());
    }
    BOOST_TEST(is_grad_enabled());
    Tensor d = x.detach();
    BOOST_TEST(!d.requires_grad());
    BOOST_TEST(d.storage() == x.storage());
    Tensor y = sum(x * d);  // d is a constant: dy/dx = d
    y.backward();
    BOOST_TEST(to_vector<double>(x.grad()) == std::vector<double>({1, 2}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(gradient_through_views) {
    Tensor x = reshape(arange(6, DType::f64), {2, 3}).detach().requires_grad_();
    Tensor y = sum(select(transpose(x, 0, 1), 0, 1) * 10.0);  // picks x[1, 0]... x[:, 1]
    y.backward();
    BOOST_TEST(to_vector<double>(x.grad()) == std::vector<double>({0, 10, 0, 0, 10, 0}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(non_scalar_output_needs_a_seed) {
    Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
    Tensor y = x * x;
    std::string msg = error_of([&] { y.backward(); });
    BOOST_TEST(contains(msg, "(3,)"));
    y.backward(from_vector<double>({1, 0, -1}));
    BOOST_TEST(to_vector<double>(x.grad()) == std::vector<double>({2, 0, -6}),
               boost::test_tools::per_element());
    BOOST_CHECK_THROW(y.backward(from_vector<double>({1, 0})), Error);
}

BOOST_AUTO_TEST_CASE(broadcast_is_undone_by_the_engine) {
    Tensor a = ones({2, 3}, DType::f64).requires_grad_();
    Tensor b = ones({3}, DType::f64).requires_grad_();
    Tensor c = ones({2, 1}, DType::f64).requires_grad_();
    sum(a * b * c).backward();
    BOOST_TEST((b.grad().shape() == Shape{3}));
    BOOST_TEST(to_vector<double>(b.grad()) == std::vector<double>({2, 2, 2}),
               boost::test_tools::per_element());
    BOOST_TEST((c.grad().shape() == Shape{2, 1}));
    BOOST_TEST(to_vector<double>(c.grad()) == std::vector<double>({3, 3}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(in_place_write_to_saved_tensor_throws_at_backward) {
    Tensor x = from_vector<double>({1, 2}).requires_grad_();
    Tensor e = exp(x);  // saves its output
    Tensor y = sum(e);
    {
        NoGradGuard guard;
        mul_(e, 2.0);  // writes into what exp saved
    }
    std::string msg = error_of([&] { y.backward(); });
    BOOST_TEST(contains(msg, "[backward of "));  // sum, the first node to run, already sees it
    BOOST_TEST(contains(msg, "modified in place"));
}

BOOST_AUTO_TEST_CASE(in_place_on_leaf_requiring_grad_throws_in_grad_mode) {
    Tensor w = zeros({3}, DType::f64).requires_grad_();
    std::string msg = error_of([&] { add_(w, ones({3}, DType::f64)); });
    BOOST_TEST(contains(msg, "[add_]"));
    NoGradGuard guard;
    add_(w, ones({3}, DType::f64), 0.5);  // an optimizer step: allowed
    BOOST_TEST(to_vector<double>(w)[2] == 0.5);
}

BOOST_AUTO_TEST_CASE(set_grad_checks_shape) {
    Tensor w = zeros({3}, DType::f64).requires_grad_();
    std::string msg = error_of([&] { w.set_grad(zeros({4}, DType::f64)); });
    BOOST_TEST(contains(msg, "(4,)"));
    BOOST_TEST(contains(msg, "(3,)"));
}

BOOST_AUTO_TEST_CASE(requires_grad_only_for_float_leaves) {
    Tensor i = arange(3);
    BOOST_CHECK_THROW(i.requires_grad_(), Error);
    Tensor x = ones({2}).requires_grad_();
    Tensor y = x * 2.0;
    BOOST_CHECK_THROW(y.requires_grad_(false), Error);
    BOOST_TEST(!y.is_leaf());
    BOOST_CHECK_THROW(sum(arange(3)).backward(), Error);
}

BOOST_AUTO_TEST_CASE(to_dot_names_ops_and_shapes) {
    Tensor x = ones({2, 3}, DType::f64).requires_grad_();
    Tensor y = sum(exp(x) * 2.0);
    std::string dot = autograd::to_dot(y);
    BOOST_TEST(contains(dot, "digraph"));
    BOOST_TEST(contains(dot, "exp\\n(2, 3)"));
    BOOST_TEST(contains(dot, "sum"));
    BOOST_TEST(contains(dot, "leaf (2, 3)"));
}

BOOST_AUTO_TEST_CASE(gradcheck_catches_a_wrong_gradient) {
    // f(x) = x * detach(x): the true derivative is 2x but backward sees only x.
    Tensor x = from_vector<double>({0.5, -1.5, 2.0}).requires_grad_();
    GradcheckResult r = gradcheck([](const std::vector<Tensor>& xs) { return xs[0] * xs[0].detach(); },
                                  {x});
    BOOST_TEST(!r.ok);
    BOOST_TEST(contains(r.message, "analytic"));
    GradcheckResult good = gradcheck([](const std::vector<Tensor>& xs) { return xs[0] * xs[0]; }, {x});
    BOOST_TEST(good.ok, good.message);
}

BOOST_AUTO_TEST_CASE(errors_name_op_and_shapes) {
    Tensor a = ones({2, 3}), b = ones({4, 5});
    std::string msg = error_of([&] { (void)(a + b); });
    BOOST_TEST(contains(msg, "[add]"));
    BOOST_TEST(contains(msg, "(2, 3)"));
    BOOST_TEST(contains(msg, "(4, 5)"));
    msg = error_of([&] { (void)(a * ones({2, 3}, DType::f64)); });
    BOOST_TEST(contains(msg, "[mul] dtype mismatch"));
    msg = error_of([&] { (void)sum(a, {2}); });
    BOOST_TEST(contains(msg, "[sum] dim 2 is out of range"));
    msg = error_of([&] { (void)select(a, 0, 2); });
    BOOST_TEST(contains(msg, "index 2 is out of range"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(engine_memory)

BOOST_AUTO_TEST_CASE(graph_without_backward_is_freed) {
    // exp's backward captures its output; the graph must still die with the last handle.
    std::weak_ptr<Storage> saved;
    {
        Tensor x = ones({4}, DType::f64).requires_grad_();
        Tensor y = exp(x);
        saved = y.storage();
    }
    BOOST_TEST(saved.expired());
}

BOOST_AUTO_TEST_CASE(transposed_weights_get_contiguous_gradients) {
    // Conv1D's x @ W with W stored [in, out] and read as linear's [out, in] view, and the tied
    // head x @ wte^T: their backwards compute the gradient in the weight's own layout (no
    // transposed copy); it must equal the gradient written out without the views.
    Tensor x = randn({2, 3, 4}, DType::f64);
    Tensor w = randn({4, 5}, DType::f64).requires_grad_(true);
    Tensor wte = randn({6, 4}, DType::f64).requires_grad_(true);
    sum(linear(x, transpose(w, 0, 1))).backward();
    sum(matmul(x, transpose(wte, 0, 1))).backward();
    BOOST_TEST(w.grad().is_contiguous());
    BOOST_TEST(wte.grad().is_contiguous());
    Tensor x2 = reshape(x, {6, 4});
    Tensor ones_rows = ones({6, 5}, DType::f64), ones_vocab = ones({6, 6}, DType::f64);
    BOOST_TEST(max(abs(w.grad() - matmul(transpose(x2, 0, 1), ones_rows))).item() < 1e-12);
    BOOST_TEST(max(abs(wte.grad() - matmul(ones_vocab, x2))).item() < 1e-12);
}

BOOST_AUTO_TEST_SUITE_END()
