// Printing tensors like PyTorch: values with a shared format, long dims abbreviated with "...",
// then shape, dtype and device. `fmt::print("{}\n", t)` and `std::cout << t` both work.
#pragma once

#include <fmt/format.h>

#include <ostream>
#include <string>

#include "tensor/tensor.h"

namespace gradstack {

struct PrintOptions {
    int64_t threshold = 1000;  // more elements than this: abbreviate
    int64_t edge_items = 3;    // items kept at each end of an abbreviated dim
    int precision = 4;         // digits after the point for floats
};

std::string to_string(const Tensor& t, const PrintOptions& options = {});
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace gradstack

template <>
struct fmt::formatter<gradstack::Tensor> : fmt::formatter<std::string_view> {
    auto format(const gradstack::Tensor& t, format_context& ctx) const {
        return fmt::format_to(ctx.out(), "{}", gradstack::to_string(t));
    }
};
