// The catalog's registry and its layout variants (see catalog.h).
#include "tests/autograd/catalog.h"

#include <algorithm>

#include "tensor/kernels/copy.h"

namespace gradstack::testing {

std::vector<CatalogEntry>& catalog() {
    static std::vector<CatalogEntry> entries;
    return entries;
}

namespace {
std::vector<std::function<void()>>& adders() {
    static std::vector<std::function<void()>> list;
    return list;
}
Generator& catalog_generator() {
    static Generator gen(1234);
    return gen;
}
}  // namespace

bool add_to_catalog(std::function<void()> adder) {
    adders().push_back(std::move(adder));
    return true;
}

void build_catalog() {
    static bool built = false;
    if (built) return;
    built = true;
    for (auto& a : adders()) a();
}

Tensor leaf(const Shape& shape, const ValueFn& values, bool requires_grad) {
    Tensor t = randn(shape, DType::f64, &catalog_generator());
    if (values) t = contiguous(values(t)).detach();
    t = clone(t).detach();
    if (requires_grad) t.requires_grad_();
    return t;
}

Tensor on_device_of(const Tensor& constant, const Tensor& x) {
    return kernels::to_device(constant, x.device());
}

Tensor positive(const Tensor& normal) { return abs(normal) + 0.5; }
Tensor away_from_zero(const Tensor& normal) { return sign(normal) * (abs(normal) + 0.3); }

void add_entry(const std::string& op, const std::string& variant, std::vector<Tensor> inputs,
               TensorFn fn, GradcheckOptions options, std::string reason) {
    catalog().push_back({op, variant, std::move(inputs), std::move(fn), options, std::move(reason)});
}

void add_variants(const std::string& op, const std::vector<InputSpec>& specs, TensorFn fn,
                  GradcheckOptions options, std::string reason) {
    const size_t n = specs.size();
    // contiguous
    {
        std::vector<Tensor> leaves;
        for (const auto& s : specs) leaves.push_back(leaf(s.shape, s.values, s.requires_grad));
        add_entry(op, "contiguous", leaves, fn, options, reason);
    }
    // permuted: leaf stored with dims reversed, viewed back in the right order
    {
        std::vector<Tensor> leaves;
        std::vector<std::vector<int64_t>> perms;
        for (const auto& s : specs) {
            Shape rev(s.shape.rbegin(), s.shape.rend());
            leaves.push_back(leaf(rev, s.values, s.requires_grad));
            std::vector<int64_t> p(s.shape.size());
            for (size_t d = 0; d < p.size(); ++d) p[d] = static_cast<int64_t>(p.size() - 1 - d);
            perms.push_back(p);
        }
        add_entry(op, "permuted", leaves, [fn, perms, n](const std::vector<Tensor>& xs) {
            std::vector<Tensor> v;
            for (size_t i = 0; i < n; ++i) v.push_back(permute(xs[i], perms[i]));
            return fn(v);
        }, options, reason);
    }
    // sliced with step 2 along the last dim
    {
        std::vector<Tensor> leaves;
        for (const auto& s : specs) {
            Shape wide = s.shape;
            if (!wide.empty()) wide.back() *= 2;
            leaves.push_back(leaf(wide, s.values, s.requires_grad));
        }
        add_entry(op, "sliced", leaves, [fn, n](const std::vector<Tensor>& xs) {
            std::vector<Tensor> v;
            for (size_t i = 0; i < n; ++i)
                v.push_back(xs[i].dim() == 0 ? xs[i] : slice(xs[i], -1, 0, xs[i].size(-1), 2));
            return fn(v);
        }, options, reason);
    }
    // broadcast: size 1 in dim 0, expanded inside the function
    {
        std::vector<Tensor> leaves;
        std::vector<Shape> full;
        for (const auto& s : specs) {
            Shape small = s.shape;
            if (!small.empty()) small[0] = 1;
            leaves.push_back(leaf(small, s.values, s.requires_grad));
            full.push_back(s.shape);
        }
        add_entry(op, "broadcast", leaves, [fn, full, n](const std::vector<Tensor>& xs) {
            std::vector<Tensor> v;
            for (size_t i = 0; i < n; ++i) v.push_back(expand(xs[i], full[i]));
            return fn(v);
        }, options, reason);
    }
}

}  // namespace gradstack::testing
