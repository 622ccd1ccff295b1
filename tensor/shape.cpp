// Shape helpers: see shape.h.
#include "tensor/shape.h"

#include <algorithm>

#include "tensor/error.h"

namespace gradstack {

int64_t numel(const Shape& shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

Shape contiguous_strides(const Shape& shape) {
    Shape strides(shape.size());
    int64_t stride = 1;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        strides[d] = stride;
        stride *= std::max<int64_t>(shape[d], 1);
    }
    return strides;
}

int64_t normalize_dim(int64_t dim, int64_t ndim, std::string_view op) {
    int64_t lo = -std::max<int64_t>(ndim, 1), hi = std::max<int64_t>(ndim, 1);
    check(dim >= lo && dim < hi, "[{}] dim {} is out of range for a {}-d tensor", op, dim, ndim);
    return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim,
                                    std::string_view op) {
    std::vector<int64_t> out;
    if (dims.empty()) {
        for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
        return out;
    }
    for (int64_t d : dims) out.push_back(normalize_dim(d, ndim, op));
    std::sort(out.begin(), out.end());
    check(std::adjacent_find(out.begin(), out.end()) == out.end(),
          "[{}] dims ({}) name a dim twice", op, fmt::join(dims, ", "));
    return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
    size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        int64_t sa = i < n - a.size() ? 1 : a[i - (n - a.size())];
        int64_t sb = i < n - b.size() ? 1 : b[i - (n - b.size())];
        check(sa == sb || sa == 1 || sb == 1, "[{}] shapes {} and {} cannot be broadcast", op,
              shape_str(a), shape_str(b));
        out[i] = sa == 1 ? sb : sa;
    }
    return out;
}

std::string shape_str(const Shape& shape) {
    if (shape.size() == 1) return fmt::format("({},)", shape[0]);
    return fmt::format("({})", fmt::join(shape, ", "));
}

}  // namespace gradstack
