// From Tensors to kernel arguments (kernels/strided.h), on the host: checks that every tensor of a
// call is on the same CUDA device, makes that device current, and describes each operand's layout
// over a shared iteration shape with its dims merged where all operands allow it (a contiguous
// tensor becomes one dim), so the kernels' index maths stays short.
// Read next: copy.cpp (fill and copy: the pattern every kernel family follows).
#pragma once

#include <initializer_list>
#include <string_view>
#include <vector>

#include "cuda/kernels/strided.h"
#include "cuda/runtime.h"
#include "tensor/tensor.h"

namespace gradstack::cuda {

ScalarType scalar_type(DType dtype);

// Throws "[op] tensors are on cuda:0 and cuda:1" (or "... on cpu and cuda:0") unless every
// defined tensor is on the device of the first one, which must be a CUDA device.
void check_same_device(std::string_view op, std::initializer_list<Tensor> tensors);

// Everything a launch needs: the device made current for the scope, its stream.
class Launch {
  public:
    // Checks the tensors as check_same_device does; the first decides the device.
    Launch(std::string_view op, std::initializer_list<Tensor> tensors);
    cudaStream_t stream() const { return stream_; }
    int device() const { return device_; }
    // After the launch: throws naming the kernel and the op's shapes if it failed.
    void check(std::string_view kernel) const;

  private:
    std::string op_;
    int device_ = 0;
    DeviceGuard guard_;
    cudaStream_t stream_ = nullptr;
};

// `t` described over `shape` (t's shape must broadcast to it: stride 0 on the broadcast dims).
Operand operand(const Tensor& t, const Shape& shape);

struct Iteration {
    IterShape shape;
    std::vector<Operand> operands;  // in the order given
};
// The elementwise iteration of `tensors` over `shape` (each broadcast to it), with dims merged
// where every operand is contiguous across them and size-1 dims dropped. Throws if more than
// kMaxDims dims remain.
Iteration iteration(const Shape& shape, std::initializer_list<Tensor> tensors);

// Row iteration for kernels along one dim: the rows are every dim but `dim` of `shape` (merged as
// above); each operand's `step` is its stride along `dim` (0 where it is broadcast there).
// Returns the rows' iteration; the row length is shape[dim].
Iteration row_iteration(const Shape& shape, int64_t dim, std::initializer_list<Tensor> tensors);

}  // namespace gradstack::cuda
