// Raw views (see view.h). Each computes a new (shape, strides, offset) and calls as_strided.
#include "tensor/view.h"

#include <algorithm>

namespace gradstack::views {

Tensor as_strided(const Tensor& t, Shape shape, Shape strides, int64_t offset) {
    check(shape.size() == strides.size(), "[as_strided] {} sizes but {} strides", shape.size(),
          strides.size());
    // The largest element offset the view can reach must lie inside the storage.
    int64_t hi = offset, lo = offset;
    bool empty_view = false;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 0) empty_view = true;
        (strides[d] >= 0 ? hi : lo) += (shape[d] - 1) * strides[d];
    }
    int64_t capacity = static_cast<int64_t>(t.storage()->nbytes() / itemsize(t.dtype()));
    check(empty_view || (lo >= 0 && hi < capacity),
          "[as_strided] view {} with strides {} at offset {} reaches outside a storage of {} "
          "elements",
          shape_str(shape), shape_str(strides), offset, capacity);
    return Tensor(std::make_shared<TensorImpl>(t.storage(), std::move(shape), std::move(strides),
                                               offset, t.dtype()));
}

Tensor permute(const Tensor& t, const std::vector<int64_t>& dims) {
    check(static_cast<int64_t>(dims.size()) == t.dim(),
          "[permute] {} dims given for a {}-d tensor of shape {}", dims.size(), t.dim(),
          shape_str(t.shape()));
    Shape shape(dims.size()), strides(dims.size());
    std::vector<bool> seen(dims.size(), false);
    for (size_t i = 0; i < dims.size(); ++i) {
        int64_t d = normalize_dim(dims[i], t.dim(), "permute");
        check(!seen[d], "[permute] dim {} appears twice in ({})", d, fmt::join(dims, ", "));
        seen[d] = true;
        shape[i] = t.shape()[d];
        strides[i] = t.strides()[d];
    }
    return as_strided(t, shape, strides, t.offset());
}

Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1) {
    std::vector<int64_t> dims(t.dim());
    for (int64_t i = 0; i < t.dim(); ++i) dims[i] = i;
    if (t.dim() == 0) return as_strided(t, t.shape(), t.strides(), t.offset());
    std::swap(dims[normalize_dim(dim0, t.dim(), "transpose")],
              dims[normalize_dim(dim1, t.dim(), "transpose")]);
    return permute(t, dims);
}

Tensor slice(const Tensor& t, int64_t dim, int64_t start, int64_t end, int64_t step) {
    check(t.dim() > 0, "[slice] cannot slice a 0-d tensor");
    int64_t d = normalize_dim(dim, t.dim(), "slice");
    check(step >= 1, "[slice] step must be >= 1, got {}", step);
    int64_t size = t.shape()[d];
    if (start < 0) start += size;
    if (end < 0) end += size;
    start = std::clamp<int64_t>(start, 0, size);
    end = std::clamp<int64_t>(end, start, size);
    Shape shape = t.shape(), strides = t.strides();
    shape[d] = (end - start + step - 1) / step;
    strides[d] = t.strides()[d] * step;
    return as_strided(t, shape, strides, t.offset() + start * t.strides()[d]);
}

Tensor select(const Tensor& t, int64_t dim, int64_t index) {
    check(t.dim() > 0, "[select] cannot select from a 0-d tensor");
    int64_t d = normalize_dim(dim, t.dim(), "select");
    int64_t size = t.shape()[d];
    check(index >= -size && index < size, "[select] index {} is out of range for dim {} of size {}",
          index, d, size);
    if (index < 0) index += size;
    Shape shape = t.shape(), strides = t.strides();
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
    return as_strided(t, shape, strides, t.offset() + index * t.strides()[d]);
}

Tensor unsqueeze(const Tensor& t, int64_t dim) {
    int64_t d = normalize_dim(dim, t.dim() + 1, "unsqueeze");
    Shape shape = t.shape(), strides = t.strides();
    int64_t stride = d < t.dim() ? t.strides()[d] * t.shape()[d] : 1;
    shape.insert(shape.begin() + d, 1);
    strides.insert(strides.begin() + d, stride);
    return as_strided(t, shape, strides, t.offset());
}

Tensor squeeze(const Tensor& t, int64_t dim) {
    int64_t d = normalize_dim(dim, t.dim(), "squeeze");
    check(t.shape()[d] == 1, "[squeeze] dim {} has size {}, not 1, in shape {}", dim, t.shape()[d],
          shape_str(t.shape()));
    Shape shape = t.shape(), strides = t.strides();
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
    return as_strided(t, shape, strides, t.offset());
}

Tensor squeeze(const Tensor& t) {
    Shape shape, strides;
    for (int64_t d = 0; d < t.dim(); ++d) {
        if (t.shape()[d] == 1) continue;
        shape.push_back(t.shape()[d]);
        strides.push_back(t.strides()[d]);
    }
    return as_strided(t, shape, strides, t.offset());
}

Tensor expand(const Tensor& t, const Shape& shape) {
    const size_t n = shape.size(), m = t.shape().size();
    check(m <= n, "[expand] cannot expand shape {} to fewer dims {}", shape_str(t.shape()),
          shape_str(shape));
    Shape out(n), strides(n, 0);
    for (size_t d = 0; d < n; ++d) {
        int64_t want = shape[d];
        if (d < n - m) {
            check(want >= 0, "[expand] size -1 is not allowed for a new leading dim in {}",
                  shape_str(shape));
            out[d] = want;
            continue;
        }
        int64_t have = t.shape()[d - (n - m)];
        if (want == -1) want = have;
        check(have == want || have == 1, "[expand] shape {} cannot expand to {}",
              shape_str(t.shape()), shape_str(shape));
        out[d] = want;
        strides[d] = have == want ? t.strides()[d - (n - m)] : 0;
    }
    return as_strided(t, out, strides, t.offset());
}

Shape infer_shape(const Shape& shape, int64_t count, std::string_view op) {
    Shape out = shape;
    int64_t known = 1, infer_at = -1;
    for (size_t d = 0; d < out.size(); ++d) {
        if (out[d] == -1) {
            check(infer_at < 0, "[{}] only one dim can be -1 in {}", op, shape_str(shape));
            infer_at = static_cast<int64_t>(d);
        } else {
            check(out[d] >= 0, "[{}] invalid size {} in {}", op, out[d], shape_str(shape));
            known *= out[d];
        }
    }
    if (infer_at >= 0) {
        check(known != 0 && count % known == 0, "[{}] cannot infer -1 in {} for {} elements", op,
              shape_str(shape), count);
        out[infer_at] = count / known;
    }
    check(numel(out) == count, "[{}] shape {} does not hold {} elements", op, shape_str(shape),
          count);
    return out;
}

std::optional<Tensor> try_view(const Tensor& t, const Shape& shape) {
    if (t.is_contiguous() || t.numel() == 0)
        return as_strided(t, shape, contiguous_strides(shape), t.offset());
    // Walk old dims in chunks that are contiguous among themselves; each chunk of old dims must
    // map to a run of new dims with the same element count (PyTorch's computeStride).
    Shape strides(shape.size());
    const Shape& old_shape = t.shape();
    const Shape& old_strides = t.strides();
    int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
    int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
    int64_t tensor_numel = 1, view_numel = 1;
    for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
        tensor_numel *= old_shape[d];
        bool chunk_ends = d == 0 || (old_shape[d - 1] != 1 &&
                                     old_strides[d - 1] != tensor_numel * chunk_base_stride);
        if (chunk_ends) {
            while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
                strides[view_d] = view_numel * chunk_base_stride;
                view_numel *= shape[view_d];
                --view_d;
            }
            if (view_numel != tensor_numel) return std::nullopt;
            if (d > 0) {
                chunk_base_stride = old_strides[d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    if (view_d != -1) {
        for (; view_d >= 0; --view_d) {
            if (shape[view_d] != 1) return std::nullopt;
            strides[view_d] = 1;
        }
    }
    return as_strided(t, shape, strides, t.offset());
}

}  // namespace gradstack::views
