// UTF-8 checks for the tokenizer: where the first ill-formed sequence of a byte string is, and the
// replacement decoding that Python's bytes.decode('utf-8', errors='replace') does.
// Read next: pretokenizer.h.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gradstack::gpt {

// Offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode's table 3-7:
// no overlong forms, no surrogates, nothing above U+10FFFF), or bytes.size() when all is valid.
std::size_t utf8_invalid_offset(std::string_view bytes);

// `bytes` as valid UTF-8: each maximal ill-formed subpart (a lead byte followed by the longest run
// of continuation bytes that could still complete it, or a lone bad byte) becomes one U+FFFD.
// This is the "maximal subpart" practice of the Unicode standard, which Python follows, so
// "\xF0\x9F\x98" -> one U+FFFD, "\xE0\x80" -> two, "\xED\xA0\x80" (a surrogate) -> three.
std::string utf8_replace_invalid(std::string_view bytes);

}  // namespace gradstack::gpt
