// Operand descriptions and dim merging (see launch.h).
#include "cuda/launch.h"

#include "tensor/view.h"

namespace gradstack::cuda {

ScalarType scalar_type(DType dtype) {
    return static_cast<ScalarType>(static_cast<uint8_t>(dtype));
}

void check_same_device(std::string_view op, std::initializer_list<Tensor> tensors) {
    const Tensor* first = nullptr;
    for (const Tensor& t : tensors) {
        if (!t.defined()) continue;
        if (first == nullptr) {
            first = &t;
            gradstack::check(t.device().type == DeviceType::cuda,
                             "[{}] tensor is on {}, not a CUDA device", op, t.device());
            continue;
        }
        gradstack::check(t.device() == first->device(),
                         "[{}] tensors are on {} and {}; move them to one device", op,
                         first->device(), t.device());
    }
    gradstack::check(first != nullptr, "[{}] no tensor given", op);
}

namespace {
int first_device(std::string_view op, std::initializer_list<Tensor> tensors) {
    check_same_device(op, tensors);
    for (const Tensor& t : tensors)
        if (t.defined()) return t.device().index;
    return 0;
}
}  // namespace

Launch::Launch(std::string_view op, std::initializer_list<Tensor> tensors)
    : op_(op),
      device_(first_device(op, tensors)),
      guard_(device_),
      stream_(cuda::stream(device_)) {}

void Launch::check(std::string_view kernel) const {
    check_launch(kernel, op_);
}


namespace {
// Merges dims of `sizes` in place across all operands; returns the iteration.
Iteration merge(std::vector<int64_t> sizes, std::vector<std::vector<int64_t>> strides,
                std::vector<Operand> ops) {
    // Drop size-1 dims.
    std::vector<int64_t> s2;
    std::vector<std::vector<int64_t>> st2(strides.size());
    for (size_t d = 0; d < sizes.size(); ++d) {
        if (sizes[d] == 1) continue;
        s2.push_back(sizes[d]);
        for (size_t k = 0; k < strides.size(); ++k) st2[k].push_back(strides[k][d]);
    }
    // Merge dim d into d - 1 when, for every operand, stride[d - 1] == stride[d] * size[d].
    std::vector<int64_t> s3;
    std::vector<std::vector<int64_t>> st3(strides.size());
    for (size_t d = 0; d < s2.size(); ++d) {
        bool mergeable = !s3.empty();
        for (size_t k = 0; k < st2.size() && mergeable; ++k)
            mergeable = st3[k].back() == st2[k][d] * s2[d];
        if (mergeable) {
            s3.back() *= s2[d];
            for (size_t k = 0; k < st2.size(); ++k) st3[k].back() = st2[k][d];
        } else {
            s3.push_back(s2[d]);
            for (size_t k = 0; k < st2.size(); ++k) st3[k].push_back(st2[k][d]);
        }
    }
    gradstack::check(
        static_cast<int>(s3.size()) <= kMaxDims,
        "[cuda] an iteration of {} dims remains after merging; at most {} are supported", s3.size(),
        kMaxDims);
    Iteration it;
    it.shape.ndim = static_cast<int>(s3.size());
    it.shape.numel = 1;
    for (size_t d = 0; d < s3.size(); ++d) {
        it.shape.sizes[d] = s3[d];
        it.shape.numel *= s3[d];
    }
    for (size_t k = 0; k < ops.size(); ++k) {
        for (int d = 0; d < kMaxDims; ++d) ops[k].strides[d] = 0;
        for (size_t d = 0; d < s3.size(); ++d) ops[k].strides[d] = st3[k][d];
    }
    it.operands = std::move(ops);
    return it;
}

// Full (unmerged) strides of t broadcast to shape, allowing more than kMaxDims dims.
std::vector<int64_t> broadcast_strides(const Tensor& t, const Shape& shape) {
    const int64_t n = static_cast<int64_t>(shape.size());
    const int64_t lead = n - t.dim();
    gradstack::check(lead >= 0, "[cuda] tensor of shape {} does not broadcast to {}",
                     shape_str(t.shape()), shape_str(shape));
    std::vector<int64_t> strides(static_cast<size_t>(n), 0);
    for (int64_t d = 0; d < t.dim(); ++d) {
        const int64_t size = t.shape()[d];
        gradstack::check(size == shape[d + lead] || size == 1,
                         "[cuda] tensor of shape {} does not broadcast to {}", shape_str(t.shape()),
                         shape_str(shape));
        strides[d + lead] = size == 1 ? 0 : t.strides()[d];
    }
    return strides;
}

Operand bare_operand(const Tensor& t) {
    Operand o;
    o.data = t.raw_data();
    o.type = scalar_type(t.dtype());
    return o;
}
}  // namespace

Operand operand(const Tensor& t, const Shape& shape) {
    const std::vector<int64_t> strides = broadcast_strides(t, shape);
    gradstack::check(strides.size() <= static_cast<size_t>(kMaxDims),
                     "[cuda] {}-d tensors are not supported (at most {} dims before merging)",
                     strides.size(), kMaxDims);
    Operand o = bare_operand(t);
    for (size_t d = 0; d < strides.size(); ++d) o.strides[d] = strides[d];
    return o;
}

Iteration iteration(const Shape& shape, std::initializer_list<Tensor> tensors) {
    std::vector<std::vector<int64_t>> strides;
    std::vector<Operand> ops;
    for (const Tensor& t : tensors) {
        strides.push_back(broadcast_strides(t, shape));
        ops.push_back(bare_operand(t));
    }
    return merge(std::vector<int64_t>(shape.begin(), shape.end()), std::move(strides),
                 std::move(ops));
}

Iteration row_iteration(const Shape& shape, int64_t dim, std::initializer_list<Tensor> tensors) {
    std::vector<int64_t> sizes;
    for (size_t d = 0; d < shape.size(); ++d)
        if (static_cast<int64_t>(d) != dim) sizes.push_back(shape[d]);
    std::vector<std::vector<int64_t>> strides;
    std::vector<Operand> ops;
    for (const Tensor& t : tensors) {
        std::vector<int64_t> full = broadcast_strides(t, shape);
        Operand o = bare_operand(t);
        o.step = full[static_cast<size_t>(dim)];
        full.erase(full.begin() + dim);
        strides.push_back(std::move(full));
        ops.push_back(o);
    }
    return merge(std::move(sizes), std::move(strides), std::move(ops));
}

}  // namespace gradstack::cuda
