// Module registration: dotted names, state dicts, train/eval, freezing, copies, summaries.
#include <boost/test/unit_test.hpp>

#include "autograd/ops.h"
#include "nn/module.h"

using namespace gradstack;
using namespace gradstack::nn;

namespace {

struct LeafConfig {
    int64_t n = 3;
};

struct Leaf : Module {
    explicit Leaf(LeafConfig c = {}) : config_(c) {
        weight = register_parameter("weight", ones({c.n, 2}));
        bias = register_parameter("bias", zeros({2}));
        running = register_buffer("running", zeros({2}));
        scratch = register_buffer("scratch", zeros({1}), /*persistent=*/false);
    }
    LeafConfig config() const { return config_; }
    LeafConfig config_;
    Tensor weight, bias, running, scratch;
};

struct Tree : Module {
    explicit Tree(LeafConfig c = {}) : config_(c) {
        a = register_module("a", std::make_shared<Leaf>(c));
        b = register_module("b", std::make_shared<Leaf>(c));
    }
    LeafConfig config() const { return config_; }
    LeafConfig config_;
    std::shared_ptr<Leaf> a, b;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(module)

BOOST_AUTO_TEST_CASE(dotted_names_and_state_dict) {
    Tree t;
    std::vector<std::string> names;
    for (auto& [n, p] : t.named_parameters()) names.push_back(n);
    BOOST_TEST(names == std::vector<std::string>({"a.weight", "a.bias", "b.weight", "b.bias"}),
               boost::test_tools::per_element());
    std::vector<std::string> sd;
    for (auto& [n, p] : t.state_dict()) sd.push_back(n);
    BOOST_TEST(sd.size() == 6u);  // 4 parameters + 2 persistent buffers, not the scratch ones
    BOOST_TEST(sd.back() == "b.running");
    BOOST_TEST(t.num_parameters() == 2 * (6 + 2));
    BOOST_TEST(t.a->weight.requires_grad());
    BOOST_TEST(!t.a->running.requires_grad());
    BOOST_TEST(t.summary().find("a.weight") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(train_eval_freeze_zero_grad) {
    Tree t;
    t.eval();
    BOOST_TEST(!t.is_training());
    BOOST_TEST(!t.b->is_training());
    t.train();
    BOOST_TEST(t.a->is_training());
    sum(t.a->weight * 2.0).backward();
    BOOST_TEST(t.a->weight.grad().defined());
    t.zero_grad();
    BOOST_TEST(!t.a->weight.grad().defined());
    t.requires_grad_(false);
    BOOST_TEST(!t.b->bias.requires_grad());
}

BOOST_AUTO_TEST_CASE(deep_copy_is_independent) {
    Tree t;
    {
        NoGradGuard g;
        fill_(t.a->weight, 5);
    }
    auto c = deep_copy(t);
    BOOST_TEST(element_at(c->a->weight, {0, 0}) == 5);
    BOOST_TEST(c->a->weight.storage() != t.a->weight.storage());
    {
        NoGradGuard g;
        fill_(t.a->weight, 7);
    }
    BOOST_TEST(element_at(c->a->weight, {0, 0}) == 5);
    Tree other(LeafConfig{4});
    BOOST_CHECK_THROW(other.copy_from(t), Error);
}

BOOST_AUTO_TEST_CASE(bad_registrations_throw) {
    struct Bad : Module {
        Bad() { register_parameter("w.x", zeros({1})); }
    };
    BOOST_CHECK_THROW(Bad(), Error);
    struct Twice : Module {
        Twice() {
            register_parameter("w", zeros({1}));
            register_parameter("w", zeros({1}));
        }
    };
    BOOST_CHECK_THROW(Twice(), Error);
}

BOOST_AUTO_TEST_SUITE_END()
