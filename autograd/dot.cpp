// Graphviz export of the recorded graph (see dot.h): a depth-first walk from the output's Node.
#include "autograd/dot.h"

#include <map>
#include <unordered_set>

#include "autograd/node.h"

namespace gradstack::autograd {

std::string to_dot(const Tensor& t, bool backward_order) {
    std::string out = "digraph autograd {\n  rankdir=BT;\n  node [fontname=\"monospace\"];\n";
    auto root = grad_fn(t);
    if (!root) {
        out += fmt::format("  leaf [shape=box, label=\"leaf {}\"];\n}}\n", shape_str(t.shape()));
        return out;
    }
    // The backward rank of each reachable node: its place in descending creation order.
    std::map<uint64_t, int64_t> rank;
    if (backward_order) {
        std::unordered_set<const Node*> reached{root.get()};
        std::vector<const Node*> todo{root.get()};
        while (!todo.empty()) {
            const Node* n = todo.back();
            todo.pop_back();
            rank[n->sequence] = 0;
            for (const Edge& e : n->edges)
                if (e.node && reached.insert(e.node.get()).second) todo.push_back(e.node.get());
        }
        int64_t k = static_cast<int64_t>(rank.size());
        for (auto& [sequence, r] : rank) r = k--;  // the latest-created node runs first (#1)
    }
    std::unordered_set<const void*> seen;
    std::vector<const Node*> stack{root.get()};
    seen.insert(root.get());
    while (!stack.empty()) {
        const Node* n = stack.back();
        stack.pop_back();
        const std::string order =
            backward_order ? fmt::format("\\nbackward #{}", rank.at(n->sequence)) : "";
        out += fmt::format("  n{} [label=\"{}\\n{} {}{}\"];\n", fmt::ptr(n), n->name,
                           shape_str(n->output_shape), n->output_dtype, order);
        for (size_t i = 0; i < n->edges.size(); ++i) {
            const Edge& e = n->edges[i];
            if (e.node) {
                out += fmt::format("  n{} -> n{};\n", fmt::ptr(e.node.get()), fmt::ptr(n));
                if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
            } else if (e.leaf) {
                if (seen.insert(e.leaf.get()).second)
                    out += fmt::format("  l{} [shape=box, label=\"leaf {}\"];\n",
                                       fmt::ptr(e.leaf.get()), shape_str(n->input_shapes[i]));
                out += fmt::format("  l{} -> n{};\n", fmt::ptr(e.leaf.get()), fmt::ptr(n));
            }
        }
    }
    out += "}\n";
    return out;
}

}  // namespace gradstack::autograd
