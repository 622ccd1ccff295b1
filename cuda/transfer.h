// dst = src between the host and a CUDA device or between two CUDA devices (src broadcast to dst's
// shape and converted to its dtype); returns when the data is in place. Registered as the CUDA
// Backend's transfer (backend.cpp); users call kernels::copy_ or kernels::to_device.
#pragma once

#include "tensor/tensor.h"

namespace gradstack::cuda {

void transfer(const Tensor& dst, const Tensor& src);

}  // namespace gradstack::cuda
