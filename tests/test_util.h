// Small helpers every test suite uses: the message of the gradstack::Error a call throws, and
// substring checks on it.
#pragma once

#include <string>

#include "tensor/error.h"

namespace gradstack::testing {

// The message of the gradstack::Error that `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace gradstack::testing
