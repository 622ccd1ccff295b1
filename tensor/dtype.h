// Element types: float32, float64, int64 and bool, with their sizes and names, and `visit_dtype`,
// which turns a runtime DType into a C++ type so a kernel is written once as a template.
// Read next: device.h, shape.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "tensor/error.h"

namespace gradstack {

enum class DType : uint8_t { f32, f64, i64, b8 };

constexpr size_t itemsize(DType dtype) {
    switch (dtype) {
        case DType::f32: return 4;
        case DType::f64: return 8;
        case DType::i64: return 8;
        case DType::b8: return 1;
    }
    return 0;
}

// NumPy/PyTorch spelling: "float32", "float64", "int64", "bool".
constexpr std::string_view dtype_name(DType dtype) {
    switch (dtype) {
        case DType::f32: return "float32";
        case DType::f64: return "float64";
        case DType::i64: return "int64";
        case DType::b8: return "bool";
    }
    return "?";
}

constexpr bool is_floating(DType dtype) { return dtype == DType::f32 || dtype == DType::f64; }

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::f32; }
template <>
constexpr DType dtype_of<double>() { return DType::f64; }
template <>
constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <>
constexpr DType dtype_of<bool>() { return DType::b8; }

inline std::ostream& operator<<(std::ostream& os, DType d) { return os << dtype_name(d); }

// Calls f.template operator()<T>() with T the C++ type of `dtype`:
//   visit_dtype(x.dtype(), [&]<class T>() { ... T* p = x.data<T>(); ... });
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
    switch (dtype) {
        case DType::f32: return f.template operator()<float>();
        case DType::f64: return f.template operator()<double>();
        case DType::i64: return f.template operator()<int64_t>();
        case DType::b8: return f.template operator()<bool>();
    }
    fail("unknown dtype {}", static_cast<int>(dtype));
}

// Same for the floating types only; `op` names the caller in the error for other dtypes.
template <class F>
decltype(auto) visit_floating(DType dtype, std::string_view op, F&& f) {
    switch (dtype) {
        case DType::f32: return f.template operator()<float>();
        case DType::f64: return f.template operator()<double>();
        default: fail("[{}] expects a float32 or float64 tensor, got {}", op, dtype_name(dtype));
    }
}

// Same for the numeric types (float32, float64, int64); bool is an error naming `op`.
template <class F>
decltype(auto) visit_numeric(DType dtype, std::string_view op, F&& f) {
    switch (dtype) {
        case DType::f32: return f.template operator()<float>();
        case DType::f64: return f.template operator()<double>();
        case DType::i64: return f.template operator()<int64_t>();
        default: fail("[{}] is not defined for {} tensors", op, dtype_name(dtype));
    }
}

}  // namespace gradstack

template <>
struct fmt::formatter<gradstack::DType> : fmt::formatter<std::string_view> {
    auto format(gradstack::DType d, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(gradstack::dtype_name(d), ctx);
    }
};
