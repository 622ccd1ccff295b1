// Element types on the device: visit_scalar_type turns a runtime ScalarType into a C++ type (the
// twin of tensor/dtype.h's visit_dtype, which nvcc cannot include), and convert<T> casts between
// them as the CPU kernels do (to bool: x != 0).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// The sets of element types a kernel is instantiated for: {f32, f64}, + i64, + bool. A type
// outside the set is skipped (the host has thrown for it first, with the CPU's message), so only
// the kernels an op can run are compiled: that keeps the compile time down.
enum class Types { floating, numeric, all };

template <Types kTypes, class F>
inline void visit_types(ScalarType type, F&& f) {
    switch (type) {
        case ScalarType::f32: f.template operator()<float>(); return;
        case ScalarType::f64: f.template operator()<double>(); return;
        case ScalarType::i64:
            if constexpr (kTypes != Types::floating) f.template operator()<int64_t>();
            return;
        case ScalarType::b8:
            if constexpr (kTypes == Types::all) f.template operator()<bool>();
            return;
    }
}

template <class F>
inline void visit_scalar_type(ScalarType type, F&& f) {
    visit_types<Types::all>(type, f);
}
template <class F>
inline void visit_floating_type(ScalarType type, F&& f) {
    visit_types<Types::floating>(type, f);
}
template <class F>
inline void visit_numeric_type(ScalarType type, F&& f) {
    visit_types<Types::numeric>(type, f);
}

template <class D, class S>
__host__ __device__ inline D convert(S x) {
    if constexpr (std::is_same_v<D, bool>)
        return x != S(0);
    else
        return static_cast<D>(x);
}

// The lowest finite value of a floating type (attention's masked scores).
template <class T>
__host__ __device__ constexpr T lowest_of();
template <>
__host__ __device__ constexpr float lowest_of<float>() {
    return -3.402823466e+38f;
}
template <>
__host__ __device__ constexpr double lowest_of<double>() {
    return -1.7976931348623157e+308;
}

}  // namespace gradstack::cuda
