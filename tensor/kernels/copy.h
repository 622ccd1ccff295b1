// Raw (non-differentiable) copy kernels: fill, strided copy with broadcasting and dtype conversion.
// Everything that materialises a view (contiguous, clone, to(dtype)) goes through copy_.
#pragma once

#include "tensor/dispatch.h"

namespace gradstack::kernels {

// dst[...] = value, through any strides of dst.
inline constinit Dispatcher<void(const Tensor& dst, double value)> fill{"fill_"};
// dst[...] = src[...], src broadcast to dst's shape, converted to dst's dtype (both on one device;
// copy_ below also moves data between devices).
inline constinit Dispatcher<void(const Tensor& dst, const Tensor& src)> copy{"copy_"};

// Version-bumping wrappers used by everything that writes in place.
void fill_(const Tensor& dst, double value);
void copy_(const Tensor& dst, const Tensor& src);

// A C-order copy of t (always copies).
Tensor clone(const Tensor& t);
// t itself when it is already contiguous, else a C-order copy.
Tensor contiguous(const Tensor& t);
// A C-order copy on `device` (t itself when it is already there). Between the CPU and a GPU the
// backend stages through pinned host memory; the call returns when the data is in place.
Tensor to_device(const Tensor& t, Device device);
// A copy converted to dtype (t itself when it already has it).
Tensor to_dtype(const Tensor& t, DType dtype);

}  // namespace gradstack::kernels
