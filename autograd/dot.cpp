// Graphviz export of the recorded graph (see dot.h): a depth-first walk from the output's Node.
#include "autograd/dot.h"

#include <unordered_set>

#include "autograd/node.h"

namespace gradstack::autograd {

std::string to_dot(const Tensor& t) {
    std::string out = "digraph autograd {\n  rankdir=BT;\n  node [fontname=\"monospace\"];\n";
    auto root = grad_fn(t);
    if (!root) {
        out += fmt::format("  leaf [shape=box, label=\"leaf {}\"];\n}}\n", shape_str(t.shape()));
        return out;
    }
    std::unordered_set<const void*> seen;
    std::vector<const Node*> stack{root.get()};
    seen.insert(root.get());
    while (!stack.empty()) {
        const Node* n = stack.back();
        stack.pop_back();
        out += fmt::format("  n{} [label=\"{}\\n{} {}\"];\n", fmt::ptr(n), n->name,
                           shape_str(n->output_shape), n->output_dtype);
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
