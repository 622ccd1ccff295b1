// gradstack::Error, the one exception type that every layer throws on bad input, and `check`,
// the helper that throws it with a formatted message naming the op and the values involved.
// Read next: dtype.h, shape.h.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace gradstack {

// Every user-facing failure (bad shape, bad file, bad flag) is a gradstack::Error. Messages start
// with the op or file in brackets and print the offending values: "[matmul] a (2, 3) @ b (4, 5)".
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws gradstack::Error with an fmt-formatted message.
template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Throws gradstack::Error when `condition` is false. The message is only formatted on failure.
template <class... Args>
void check(bool condition, fmt::format_string<Args...> format, Args&&... args) {
    if (!condition) throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace gradstack
