// Tensor data model and creation functions. See tensor.h.
#include "tensor/tensor.h"

#include <cmath>
#include <cstring>

#include "tensor/kernels/copy.h"

namespace gradstack {

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage_, Shape shape_, Shape strides_,
                       int64_t offset_, DType dtype_)
    : storage(std::move(storage_)),
      shape(std::move(shape_)),
      strides(std::move(strides_)),
      offset(offset_),
      dtype(dtype_),
      is_contiguous(compute_contiguous(shape, strides)) {}

bool compute_contiguous(const Shape& shape, const Shape& strides) {
    // No elements: nothing to lay out, contiguous as in PyTorch (empty() gives such a tensor
    // strides computed with the zero dims counted as 1, which the loop below would refuse).
    for (int64_t s : shape)
        if (s == 0) return true;
    int64_t expected = 1;
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        if (shape[d] == 1) continue;
        if (strides[d] != expected) return false;
        expected *= shape[d];
    }
    return true;
}

int64_t Tensor::size(int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }

void* Tensor::raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->offset * itemsize(dtype());
}

Tensor Tensor::detach() const {
    return Tensor(std::make_shared<TensorImpl>(impl_->storage, impl_->shape, impl_->strides,
                                               impl_->offset, impl_->dtype));
}

template <class T>
T Tensor::item() const {
    check(numel() == 1, "[item] needs a tensor with one element, got shape {}", shape_str(shape()));
    if (device().type != DeviceType::cpu)  // one element comes back, as torch's .item() does
        return kernels::to_device(*this, Device::cpu()).item<T>();
    return visit_dtype(dtype(), [&]<class S>() { return static_cast<T>(*data<S>()); });
}
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template bool Tensor::item<bool>() const;

Tensor empty(const Shape& shape, DType dtype, Device device) {
    for (int64_t s : shape) check(s >= 0, "[empty] negative size in shape {}", shape_str(shape));
    auto storage = std::make_shared<Storage>(numel(shape) * itemsize(dtype), device);
    return Tensor(
        std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0, dtype));
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    kernels::fill_(t, value);
    return t;
}

Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0, dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1, dtype, device); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, double value) {
    return full(t.shape(), value, t.dtype(), t.device());
}
Tensor scalar_tensor(double value, DType dtype, Device device) {
    return full({}, value, dtype, device);
}

Tensor arange(double start, double end, double step, DType dtype) {
    check(step != 0, "[arange] step must be non-zero");
    double span = (end - start) / step;
    int64_t n = span > 0 ? static_cast<int64_t>(std::ceil(span)) : 0;
    Tensor t = empty({n}, dtype);
    visit_dtype(dtype, [&]<class T>() {
        T* p = t.data<T>();
        for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
    });
    return t;
}

Tensor arange(int64_t end, DType dtype) { return arange(0, static_cast<double>(end), 1, dtype); }

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
    check(steps >= 0, "[linspace] steps must be >= 0, got {}", steps);
    Tensor t = empty({steps}, dtype);
    double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0;
    visit_dtype(dtype, [&]<class T>() {
        T* p = t.data<T>();
        // Like torch.linspace: fill the first half from the start, the second from the end, so
        // both endpoints are exact.
        int64_t half = steps / 2;
        for (int64_t i = 0; i < steps; ++i) {
            double v = i < half ? start + step * static_cast<double>(i)
                                : end - step * static_cast<double>(steps - 1 - i);
            p[i] = static_cast<T>(v);
        }
    });
    return t;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, Shape shape) {
    if (shape.empty()) shape = {static_cast<int64_t>(values.size())};
    check(numel(shape) == static_cast<int64_t>(values.size()),
          "[from_vector] {} values do not fill shape {}", values.size(), shape_str(shape));
    Tensor t = empty(shape, dtype_of<T>());
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
    return t;
}
template Tensor from_vector<float>(const std::vector<float>&, Shape);
template Tensor from_vector<double>(const std::vector<double>&, Shape);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, Shape);
template Tensor from_vector<bool>(const std::vector<bool>&, Shape);

template <class T>
std::vector<T> to_vector(const Tensor& t) {
    if (t.device().type != DeviceType::cpu) return to_vector<T>(kernels::to_device(t, Device::cpu()));
    Tensor c = t.is_contiguous() ? t : kernels::contiguous(t);
    std::vector<T> out(static_cast<size_t>(c.numel()));
    visit_dtype(c.dtype(), [&]<class S>() {
        const S* p = c.data<S>();
        for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
    });
    return out;
}
template std::vector<float> to_vector<float>(const Tensor&);
template std::vector<double> to_vector<double>(const Tensor&);
template std::vector<int64_t> to_vector<int64_t>(const Tensor&);
template std::vector<bool> to_vector<bool>(const Tensor&);

double element_at(const Tensor& t, const std::vector<int64_t>& index) {
    check(static_cast<int64_t>(index.size()) == t.dim(), "[element_at] {} indices for a {}-d tensor",
          index.size(), t.dim());
    if (t.device().type != DeviceType::cpu)  // slow, as the header says: for tests and printing
        return element_at(kernels::to_device(t, Device::cpu()), index);
    int64_t off = 0;
    for (size_t d = 0; d < index.size(); ++d) {
        check(index[d] >= 0 && index[d] < t.shape()[d],
              "[element_at] index {} out of range for dim {} of size {}", index[d], d,
              t.shape()[d]);
        off += index[d] * t.strides()[d];
    }
    return visit_dtype(t.dtype(), [&]<class T>() { return static_cast<double>(t.data<T>()[off]); });
}

}  // namespace gradstack
