// Tensor: a cheap handle to a TensorImpl, which is a view (shape, strides, offset, dtype) into a
// shared Storage. Copying a Tensor copies the handle, never the data. This header holds the data
// model and the creation functions; the maths lives in kernels/ (raw, per device) and in
// autograd/ops (the differentiable API users call). Read next: view.h, dispatch.h, random.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace gradstack {

// Defined by autograd/ (the grad, the node that produced the tensor). tensor/ only holds the
// pointer, so that this layer never depends on autograd (PyTorch's TensorImpl::autograd_meta_).
class AutogradMeta;

struct TensorImpl {
    std::shared_ptr<Storage> storage;
    Shape shape;
    Shape strides;       // in elements, one per dim
    int64_t offset = 0;  // in elements, from the start of storage
    DType dtype = DType::f32;
    // Invariant: is_contiguous == (for every dim d with shape[d] != 1,
    //   strides[d] == product of shape[d+1:]), i.e. the elements are laid out in C order with no
    //   gaps. Size-1 dims may have any stride; a tensor with no elements is contiguous. Computed
    //   once, when the view is made.
    bool is_contiguous = true;
    std::shared_ptr<AutogradMeta> autograd;  // null until autograd needs it

    TensorImpl(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset,
               DType dtype);
};

class Tensor {
public:
    Tensor() = default;  // an undefined tensor: defined() is false
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const { return impl_->shape; }
    const Shape& strides() const { return impl_->strides; }
    int64_t offset() const { return impl_->offset; }
    int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
    int64_t size(int64_t dim) const;  // negative dims count from the end
    int64_t numel() const { return gradstack::numel(impl_->shape); }
    DType dtype() const { return impl_->dtype; }
    Device device() const { return impl_->storage->device(); }
    bool is_contiguous() const { return impl_->is_contiguous; }

    // Pointer to the first element (offset applied). Checks that T matches the dtype.
    template <class T>
    T* data() const {
        check(dtype_of<T>() == dtype(), "[data] tensor is {}, not {}", dtype(),
              dtype_name(dtype_of<T>()));
        return static_cast<T*>(impl_->storage->data()) + impl_->offset;
    }
    void* raw_data() const;

    // The value of a one-element tensor, converted to T. Throws for more than one element.
    template <class T = double>
    T item() const;

    const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
    TensorImpl* impl() const { return impl_.get(); }
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
    bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

    // A new handle on the same data that is cut off from autograd (no grad, no history).
    Tensor detach() const;

    // --- autograd state. Declared here so users can write x.grad() and loss.backward(); defined in
    // autograd/engine.cpp, which owns that state. Code in tensor/ never calls them.
    bool requires_grad() const;
    Tensor& requires_grad_(bool requires_grad = true);  // only on leaves; returns *this
    bool is_leaf() const;                               // no recorded producing op
    const Tensor& grad() const;                         // undefined until backward reaches it
    void zero_grad();                                   // drops the accumulated gradient
    void set_grad(const Tensor& grad);                  // replaces it (checked shape and dtype)
    // Backpropagates from this tensor. A non-scalar tensor needs an explicit `seed` (dL/dthis).
    void backward(const Tensor& seed = Tensor(), bool retain_graph = false) const;

private:
    std::shared_ptr<TensorImpl> impl_;
};

// --- creation. `device` defaults to cpu; memory of `empty` is uninitialised.
Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Device device = Device::cpu());
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// A 0-d tensor holding `value`.
Tensor scalar_tensor(double value, DType dtype = DType::f32, Device device = Device::cpu());
// [start, end) with `step`, like torch.arange; int64 by default.
Tensor arange(double start, double end, double step = 1, DType dtype = DType::i64);
Tensor arange(int64_t end, DType dtype = DType::i64);
// `steps` evenly spaced values from start to end inclusive, like torch.linspace.
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::f32);

// A tensor holding a copy of `values` with `shape` (empty: 1-d; use scalar_tensor for 0-d).
// Throws if the counts differ.
template <class T>
Tensor from_vector(const std::vector<T>& values, Shape shape = {});
// The elements in C order, converted to T (works for any layout).
template <class T>
std::vector<T> to_vector(const Tensor& t);

// Element at a multi-index (for tests and printing; slow). Converted to double.
double element_at(const Tensor& t, const std::vector<int64_t>& index);

// True when `strides` describe a C-order layout of `shape` (size-1 dims ignored).
bool compute_contiguous(const Shape& shape, const Shape& strides);

}  // namespace gradstack
