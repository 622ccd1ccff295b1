// `gradstack graph`: the SVG of one forward parses as XML and names every op of a GPT-2 block;
// --backward numbers the ops 1..N in backward order; --dot writes the DOT text; bad flags fail.
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <functional>
#include <set>

#include "tests/gpt/cli_helpers.h"

namespace {

using namespace gradstack::test;
namespace pt = boost::property_tree;

// Every <text> of the SVG (Graphviz writes one per label line).
std::vector<std::string> svg_texts(const std::string& svg) {
    std::istringstream in(svg);
    pt::ptree tree;
    pt::read_xml(in, tree);  // throws when the SVG is not well-formed XML
    std::vector<std::string> texts;
    std::function<void(const pt::ptree&)> walk = [&](const pt::ptree& t) {
        for (const auto& [tag, child] : t) {
            if (tag == "text") texts.push_back(child.get_value<std::string>());
            walk(child);
        }
    };
    walk(tree);
    return texts;
}

struct HasDot {
    boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
        boost::test_tools::assertion_result r(std::system("command -v dot > /dev/null 2>&1") == 0);
        r.message() << "Graphviz's dot is not installed (scripts/setup.sh installs graphviz)";
        return r;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(graph_cli, *boost::unit_test::precondition(HasGradstackBinary{}))

BOOST_AUTO_TEST_CASE(the_svg_names_every_op_of_a_block, *boost::unit_test::precondition(HasDot{})) {
    TempDir dir;
    const fs::path svg = dir.path / "graph.svg";
    CliRun r = run_cli("graph --model " + gradstack::testing::test_data("tiny_gpt2") +
                       " --ids 464,3290,318 --backward --out " + svg.string());
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    std::vector<std::string> texts = svg_texts(read_file_text(svg));
    std::set<std::string> ops;
    std::set<int> ranks;
    for (const std::string& t : texts) {
        if (t.rfind("backward #", 0) == 0) ranks.insert(std::stoi(t.substr(10)));
        else ops.insert(t);
    }
    // A block: ln_1, c_attn, the heads' views, attention, c_proj, the residual adds, ln_2, the
    // MLP with gelu; then ln_f, the tied head and the loss.
    for (const char* op : {"embedding", "layer_norm", "linear", "scaled_dot_product_attention",
                           "add", "gelu", "permute", "view", "matmul", "cross_entropy"})
        BOOST_TEST(ops.count(op) == 1, "no " << op << " node in the graph");
    BOOST_REQUIRE(!ranks.empty());
    BOOST_TEST(*ranks.begin() == 1);
    BOOST_TEST(*ranks.rbegin() == static_cast<int>(ranks.size()));  // 1..N, each once
}

BOOST_AUTO_TEST_CASE(dot_text_and_bad_flags) {
    TempDir dir;
    const std::string base = "graph --model " + gradstack::testing::test_data("tiny_gpt2");
    CliRun r = run_cli(base + " --ids 5 --dot --out " + (dir.path / "g.dot").string());
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    BOOST_TEST(contains(read_file_text(dir.path / "g.dot"), "digraph autograd"));
    BOOST_TEST(contains(r.out, "ending in the logits"));
    CliRun bad = run_cli(base + " --ids 1,x --out " + (dir.path / "b.svg").string());
    BOOST_TEST(bad.exit_code == 1);
    BOOST_TEST(contains(bad.err, "--ids"), bad.err);
    CliRun big = run_cli(base + " --ids 99999999 --out " + (dir.path / "c.svg").string());
    BOOST_TEST(big.exit_code == 1);
    BOOST_TEST(!fs::exists(dir.path / "c.svg"));
}

BOOST_AUTO_TEST_SUITE_END()
