// JSON inputs with bounds: every JSON a user can hand gradstack (config.json, vocab.json, a
// safetensors header, a CLI's JSON line) goes through parse_json, which refuses nesting deeper
// than a small bound before the parser runs and turns the parser's exceptions into
// gradstack::Error naming the input. Why the bound: nlohmann's parser is iterative, but dumping,
// comparing or copying a value recurses, and a 200 KB line of 100,000 '[' crashed the process
// (SIGSEGV) wherever a message quoted it. Read first: io.h (reading the file itself).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "tensor/error.h"

namespace gradstack {

// No gradstack input nests deeper than a few levels (a safetensors header: 3); 64 leaves room.
inline constexpr int kMaxJsonDepth = 64;

// Throws gradstack::Error naming `what` and the byte offset when `text` opens more than
// `max_depth` arrays/objects inside one another. A linear scan that skips string literals (and
// their escapes), so it needs no recursion and no memory; it does not validate the JSON.
void check_json_depth(std::string_view text, const std::string& what,
                      int max_depth = kMaxJsonDepth);

// check_json_depth, then nlohmann::json::parse. Invalid JSON throws gradstack::Error naming `what`
// with the parser's message (which has the byte position) minus its "[json.exception...]" tag.
nlohmann::json parse_json(std::string_view text, const std::string& what,
                          int max_depth = kMaxJsonDepth);

// read_input_file(path, max_bytes, what) (io.h), then parse_json naming the path.
nlohmann::json read_json_file(const std::string& path, uint64_t max_bytes, const std::string& what);

// A JSON value for an error message: its compact text cut to about `max_chars` bytes. Built
// element by element (never the whole dump first), so a huge array costs only what is shown;
// invalid UTF-8 in strings is replaced.
std::string json_excerpt(const nlohmann::json& value, size_t max_chars = 60);

// The message of a nlohmann exception without its "[json.exception.type_error.302] " tag.
std::string json_message(const nlohmann::json::exception& e);

// `object[key]` converted to T (nlohmann's get<T>), where `object` is a JSON object read from
// `what`. A missing key, or a value of another type, throws gradstack::Error naming `what`, the
// key, the expected type `expected` ("an integer", "a string") and an excerpt of the value.
template <class T>
T json_get(const nlohmann::json& object, const std::string& key, const std::string& what,
           const char* expected) {
    check(object.is_object(), "{}: expected a JSON object, got a {}", what, object.type_name());
    auto it = object.find(key);
    check(it != object.end(), "{}: has no '{}' (expected {})", what, key, expected);
    try {
        return it->template get<T>();
    } catch (const nlohmann::json::exception& e) {
        fail("{}: '{}' must be {}, got {} ({})", what, key, expected, json_excerpt(*it),
             json_message(e));
    }
}

}  // namespace gradstack
