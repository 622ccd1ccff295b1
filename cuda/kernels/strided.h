// What a kernel is told about its tensors: plain structs, no gradstack headers, so that nvcc
// compiles the kernel files (kernels/*.cu) and g++ the files that fill these structs from Tensors
// (../launch.h, ../*.cpp). Every operand of an elementwise kernel is described over one shared
// iteration shape: element (i_0, ..., i_{n-1}) of the iteration lives at
//   data + sum_d i_d * strides[d]     (elements, not bytes; stride 0 on a broadcast dim)
// and the kernel walks the iteration's elements in C order by one linear index.
// Read next: strided.cuh (the device-side index maths), ../launch.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace gradstack::cuda {

// After merging dims that are contiguous for every operand (launch.h), 8 dims cover any tensor
// gradstack makes; more throws on the host naming the shape.
constexpr int kMaxDims = 8;

// The element types, numbered as tensor/dtype.h's DType.
enum class ScalarType : uint8_t { f32 = 0, f64 = 1, i64 = 2, b8 = 3 };

struct IterShape {
    int ndim = 0;  // 0: one element
    int64_t sizes[kMaxDims] = {};
    int64_t numel = 1;
};

struct Operand {
    void* data = nullptr;  // the element at index (0, ..., 0)
    ScalarType type = ScalarType::f32;
    int64_t strides[kMaxDims] = {};
    // Row kernels (softmax, layer norm, reductions along one dim): the iteration runs over the
    // rows, and element j of a row is at data + offset + j * step.
    int64_t step = 0;
};

// The largest grid dimension kernels launch with (grid-stride loops cover the rest).
constexpr int64_t kMaxBlocks = 65535;

}  // namespace gradstack::cuda
