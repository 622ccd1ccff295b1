// Bounded JSON parsing (see json.h): the depth scan, the parse with gradstack errors, and the
// excerpt printer whose recursion and output are both bounded.
#include "tensor/json.h"

#include "tensor/io.h"

namespace gradstack {

void check_json_depth(std::string_view text, const std::string& what, int max_depth) {
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;  // the escaped character, whatever it is, cannot end the string
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            check(++depth <= max_depth,
                  "{}: JSON nested deeper than {} levels (at byte {}); no gradstack input needs "
                  "that: the file is damaged or not what was meant",
                  what, max_depth, i);
        } else if (c == ']' || c == '}') {
            --depth;  // unbalanced brackets are the parser's to report
        }
    }
}

std::string json_message(const nlohmann::json::exception& e) {
    std::string_view message = e.what();
    if (message.substr(0, 16) == "[json.exception.") {
        const size_t close = message.find("] ");
        if (close != std::string_view::npos) message.remove_prefix(close + 2);
    }
    // The parser quotes what it last read ("number overflow parsing '1111...'"), which can be
    // the whole input: bound it like any other untrusted value.
    return excerpt(message, 240);
}

nlohmann::json parse_json(std::string_view text, const std::string& what, int max_depth) {
    check_json_depth(text, what, max_depth);
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        // The parser's message quotes the last token it read, which can be a whole huge line.
        fail("{}: not valid JSON: {}", what, excerpt(json_message(e), 300));
    }
}

nlohmann::json read_json_file(const std::string& path, uint64_t max_bytes,
                              const std::string& what) {
    return parse_json(read_input_file(path, max_bytes, what), path);
}

namespace {

// Appends `value` to `out` until `out` holds `limit` bytes; returns false once the limit is hit.
// Recursion is bounded by the value's depth (parse_json keeps it under kMaxJsonDepth) and by
// `levels_left`, whichever is smaller.
bool append_excerpt(const nlohmann::json& value, std::string& out, size_t limit, int levels_left) {
    if (out.size() >= limit) return false;
    if (value.is_array() || value.is_object()) {
        if (levels_left == 0) {
            out += value.is_array() ? "[...]" : "{...}";
            return out.size() < limit;
        }
        out += value.is_array() ? '[' : '{';
        bool first = true;
        for (auto it = value.begin(); it != value.end(); ++it) {
            if (!first) out += ',';
            first = false;
            if (value.is_object()) {
                out += nlohmann::json(it.key()).dump(-1, ' ', false,
                                                     nlohmann::json::error_handler_t::replace);
                out += ':';
            }
            if (!append_excerpt(it.value(), out, limit, levels_left - 1)) return false;
        }
        out += value.is_array() ? ']' : '}';
    } else if (value.is_string()) {
        // Cut first: a string of 100 MB is not copied whole to show 60 bytes of it.
        const std::string& text = value.get_ref<const std::string&>();
        out += nlohmann::json(text.substr(0, limit))
                   .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
        out += value.dump();  // a number, a bool or null
    }
    return out.size() < limit;
}

}  // namespace

std::string json_excerpt(const nlohmann::json& value, size_t max_chars) {
    std::string out;
    append_excerpt(value, out, max_chars, 16);
    return excerpt(out, max_chars);  // cuts (with "...") only when it went past max_chars
}

}  // namespace gradstack
