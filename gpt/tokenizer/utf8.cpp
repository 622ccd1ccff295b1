// UTF-8 validation and Python-compatible replacement decoding. The whole of UTF-8's grammar is the
// table in `well_formed_length`: a lead byte fixes how many continuation bytes follow and the
// allowed range of the first of them (the ranges exclude overlong forms and surrogates).
#include "gpt/tokenizer/utf8.h"

namespace gradstack::gpt {

namespace {

// Length of the well-formed sequence at s[i], or 0 when there is none; then `subpart` is the
// length of the maximal ill-formed subpart that starts there (at least 1).
std::size_t well_formed_length(std::string_view s, std::size_t i, std::size_t& subpart) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b = byte(i);
    if (b < 0x80) return 1;
    std::size_t need = 0;                // continuation bytes that must follow
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the first of them
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
    } else if (b == 0xE0) {
        need = 2, lo = 0xA0;  // below A0 would be overlong
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
        need = 2;
    } else if (b == 0xED) {
        need = 2, hi = 0x9F;  // above 9F would be a surrogate D800-DFFF
    } else if (b == 0xF0) {
        need = 3, lo = 0x90;  // below 90 would be overlong
    } else if (b >= 0xF1 && b <= 0xF3) {
        need = 3;
    } else if (b == 0xF4) {
        need = 3, hi = 0x8F;  // above 8F would pass U+10FFFF
    } else {
        subpart = 1;  // 80-C1 and F5-FF never start a character
        return 0;
    }
    std::size_t k = 1;
    for (; k <= need && i + k < s.size(); ++k) {
        const unsigned char c = byte(i + k);
        if (c < lo || c > hi) break;
        lo = 0x80, hi = 0xBF;
    }
    if (k == need + 1) return k;
    subpart = k;
    return 0;
}

}  // namespace

std::size_t utf8_invalid_offset(std::string_view bytes) {
    std::size_t i = 0, subpart = 0;
    while (i < bytes.size()) {
        // ASCII runs dominate real text: skip them eight bytes at a time.
        while (i + 8 <= bytes.size()) {
            unsigned long long word = 0;
            for (int k = 0; k < 8; ++k)
                word |= static_cast<unsigned long long>(static_cast<unsigned char>(bytes[i + k]))
                        << (8 * k);
            if (word & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= bytes.size()) break;
        const std::size_t n = well_formed_length(bytes, i, subpart);
        if (n == 0) return i;
        i += n;
    }
    return bytes.size();
}

std::string utf8_replace_invalid(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    std::size_t i = 0, subpart = 0;
    while (i < bytes.size()) {
        const std::size_t n = well_formed_length(bytes, i, subpart);
        if (n > 0) {
            out.append(bytes.substr(i, n));
            i += n;
        } else {
            out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
            i += subpart;
        }
    }
    return out;
}

}  // namespace gradstack::gpt
