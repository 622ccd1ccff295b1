// The autograd engine: recording (record), the Tensor autograd members declared in tensor.h, and
// backward(), which walks the graph from the output in reverse topological order.
//
// Backward in four steps:
//   1. collect every Node reachable from the output and count, for each, how many consumers will
//      send it a gradient (its dependencies);
//   2. start with the seed gradient at the output's Node; a Node is ready once all its consumers
//      have sent their gradient (summed in its buffer);
//   3. run the ready Node with the largest sequence number (the latest op first, like PyTorch),
//      with grad mode off; check each returned gradient and sum it back to its input's shape,
//      which undoes broadcasting once, here, for every op;
//   4. hand each gradient to the input's Node buffer, or accumulate it into the leaf's .grad.
#include <algorithm>
#include <atomic>
#include <queue>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/reduce.h"

namespace gradstack {

namespace {

thread_local bool grad_enabled = true;
std::atomic<uint64_t> next_sequence{0};

std::vector<std::string>& op_registry() {
    static std::vector<std::string> ops;
    return ops;
}

AutogradMeta* meta_of(const Tensor& t) { return t.impl()->autograd.get(); }

AutogradMeta& ensure_meta(const Tensor& t) {
    if (!t.impl()->autograd) t.impl()->autograd = std::make_shared<AutogradMeta>();
    return *t.impl()->autograd;
}

}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }

Op::Op(const char* name) : name_(name) { op_registry().emplace_back(name); }
const std::vector<std::string>& registered_ops() { return op_registry(); }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
    if (!grad_enabled) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

std::shared_ptr<Node> grad_fn(const Tensor& t) {
    AutogradMeta* m = t.defined() ? meta_of(t) : nullptr;
    return m ? m->grad_fn : nullptr;
}

Tensor record(const Op& op, const std::vector<Tensor>& inputs, Tensor output, BackwardFn backward) {
    if (!any_requires_grad(inputs)) return output;
    // The graph hangs off a fresh handle on the output's data, never off `output` itself: a
    // backward closure may capture `output` (exp saves y), and if that handle owned the Node the
    // two would keep each other alive forever when backward never runs. It also keeps an op that
    // returns an input unchanged from turning that input into a non-leaf.
    output = output.detach();
    auto node = std::make_shared<Node>();
    node->name = op.name();
    node->sequence = next_sequence++;
    for (const Tensor& t : inputs) {
        Edge e;
        if (t.defined() && t.requires_grad()) {
            if (auto fn = grad_fn(t)) e.node = fn;
            else e.leaf = t.impl()->autograd;
        }
        node->edges.push_back(e);
        node->input_shapes.push_back(t.defined() ? t.shape() : Shape{});
        node->input_dtypes.push_back(t.defined() ? t.dtype() : DType::f32);
        node->versions.push_back(t.defined() ? SavedVersion{t.storage(), t.storage()->version()}
                                             : SavedVersion{});
    }
    node->versions.push_back({output.storage(), output.storage()->version()});
    node->output_shape = output.shape();
    node->output_dtype = output.dtype();
    node->backward = std::move(backward);
    AutogradMeta& m = ensure_meta(output);
    m.requires_grad = true;
    m.grad_fn = std::move(node);
    return output;
}

// --- Tensor members declared in tensor/tensor.h.

bool Tensor::requires_grad() const {
    AutogradMeta* m = meta_of(*this);
    return m != nullptr && m->requires_grad;
}

Tensor& Tensor::requires_grad_(bool requires_grad) {
    check(is_leaf(), "[requires_grad_] only leaf tensors can change requires_grad; use detach() "
                     "to make a leaf from a tensor of shape {}", shape_str(shape()));
    check(!requires_grad || is_floating(dtype()),
          "[requires_grad_] only float tensors can require grad, got {}", dtype());
    ensure_meta(*this).requires_grad = requires_grad;
    return *this;
}

bool Tensor::is_leaf() const { return grad_fn(*this) == nullptr; }

const Tensor& Tensor::grad() const {
    static const Tensor undefined;
    AutogradMeta* m = meta_of(*this);
    return m ? m->grad : undefined;
}

void Tensor::zero_grad() {
    if (AutogradMeta* m = meta_of(*this)) m->grad = Tensor();
}

void Tensor::set_grad(const Tensor& g) {
    check(!g.defined() || (g.shape() == shape() && g.dtype() == dtype()),
          "[set_grad] gradient {} {} does not match tensor {} {}", g.dtype(), shape_str(g.shape()),
          dtype(), shape_str(shape()));
    ensure_meta(*this).grad = g;
}

namespace {

void accumulate_leaf(AutogradMeta& leaf, Tensor g) {
    NoGradGuard no_grad;
    if (!leaf.grad.defined()) {
        // The first gradient becomes .grad. It is copied unless this handle is its only owner
        // (add's backward hands the same gy to both inputs, and .grad is later updated in place).
        bool sole_owner = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1;
        leaf.grad = sole_owner && g.is_contiguous() ? g : kernels::clone(g);
    } else {
        kernels::add(leaf.grad, leaf.grad, g);
        leaf.grad.storage()->bump_version();
    }
}

void check_versions(const Node& node) {
    for (size_t i = 0; i < node.versions.size(); ++i) {
        const SavedVersion& v = node.versions[i];
        auto storage = v.storage.lock();
        if (!storage || storage->version() == v.version) continue;
        bool is_output = i + 1 == node.versions.size();
        fail("[backward of {}] its {} was modified in place after the forward (version {} -> {}); "
             "clone it before writing to it, or write before the op runs",
             node.name, is_output ? "output" : fmt::format("input {}", i), v.version,
             storage->version());
    }
}

// Sums or checks one gradient returned by node for input i.
Tensor fit_gradient(const Node& node, size_t i, Tensor g) {
    const Shape& want = node.input_shapes[i];
    if (g.shape() != want) {
        Shape b = broadcast_shapes(want, g.shape(), node.name);
        check(b == g.shape(),
              "[backward of {}] gradient for input {} has shape {}, but the input has shape {}",
              node.name, i, shape_str(g.shape()), shape_str(want));
        g = kernels::sum_to(g, want);
    }
    check(g.dtype() == node.input_dtypes[i],
          "[backward of {}] gradient for input {} is {}, but the input is {}", node.name, i,
          g.dtype(), node.input_dtypes[i]);
    return g;
}

void run_backward(const std::shared_ptr<Node>& root, const Tensor& seed, bool retain_graph) {
    // 1. Reachable nodes and their dependency counts.
    std::unordered_map<Node*, int> deps;
    std::vector<Node*> stack{root.get()};
    deps[root.get()] = 0;
    while (!stack.empty()) {
        Node* n = stack.back();
        stack.pop_back();
        for (const Edge& e : n->edges) {
            if (!e.node) continue;
            auto [it, inserted] = deps.try_emplace(e.node.get(), 0);
            ++it->second;
            if (inserted) stack.push_back(e.node.get());
        }
    }
    // 2. Gradient buffers; the root is ready with the seed.
    std::unordered_map<Node*, Tensor> buffer;
    buffer[root.get()] = seed;
    auto later_first = [](Node* a, Node* b) { return a->sequence < b->sequence; };
    std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
    ready.push(root.get());
    NoGradGuard no_grad;
    while (!ready.empty()) {
        Node* node = ready.top();
        ready.pop();
        auto it = buffer.find(node);
        grads gs(node->edges.size());
        if (it != buffer.end()) {  // else no gradient reached this node: its inputs get none
            Tensor gy = std::move(it->second);
            buffer.erase(it);
            check(!node->released,
                  "[backward of {}] this graph was already freed by an earlier backward(); pass "
                  "retain_graph=true to the first backward to run it twice",
                  node->name);
            check_versions(*node);
            // 3. The op's own backward.
            gs = node->backward(gy);
            check(gs.size() == node->edges.size(),
                  "[backward of {}] returned {} gradients for {} inputs", node->name, gs.size(),
                  node->edges.size());
            if (!retain_graph) {
                node->backward = nullptr;
                node->released = true;
            }
        }
        // 4. Pass each gradient on; a consumer that is done makes its producer one step closer.
        for (size_t i = 0; i < gs.size(); ++i) {
            const Edge& e = node->edges[i];
            if (!e.needs_grad()) continue;
            if (gs[i].defined()) {
                Tensor g = fit_gradient(*node, i, std::move(gs[i]));
                if (e.leaf) {
                    accumulate_leaf(*e.leaf, std::move(g));
                    continue;
                }
                auto b = buffer.find(e.node.get());
                if (b == buffer.end()) buffer.emplace(e.node.get(), g);
                else b->second = kernels::binary(kernels::add, b->second, g);
            }
            if (e.node && --deps[e.node.get()] == 0) ready.push(e.node.get());
        }
    }
}

}  // namespace

void Tensor::backward(const Tensor& seed, bool retain_graph) const {
    check(requires_grad(), "[backward] tensor of shape {} does not require grad and has no "
                           "grad_fn: nothing to differentiate", shape_str(shape()));
    Tensor s = seed;
    if (!s.defined()) {
        check(numel() == 1, "[backward] the output has shape {}; a gradient can only be implied "
                            "for a one-element output, so pass a seed of that shape",
              shape_str(shape()));
        s = ones(shape(), dtype(), device());
    }
    check(s.shape() == shape() && s.dtype() == dtype(),
          "[backward] seed {} {} does not match the output {} {}", s.dtype(), shape_str(s.shape()),
          dtype(), shape_str(shape()));
    if (auto fn = grad_fn(*this)) {
        run_backward(fn, s, retain_graph);
    } else {
        accumulate_leaf(*impl()->autograd, s);  // backward on a leaf: its gradient is the seed
    }
}

}  // namespace gradstack
