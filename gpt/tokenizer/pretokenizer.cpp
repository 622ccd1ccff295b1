// The pre-tokenizer through PCRE2: UTF mode (code points, not bytes), UCP (Unicode properties for
// \p{L}, \p{N}), JIT. Each match is anchored where the previous one ended: since every character
// belongs to some alternative, findall's scan would find the next match right there anyway. The
// pattern is compiled anchored because the JIT ignores PCRE2_ANCHORED given at match time.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "gpt/tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <string>

#include "tensor/error.h"

namespace gradstack::gpt {

// Python regex's \s (White_Space): TAB..CR, space, NEL, NBSP, OGHAM SPACE MARK, the U+2000-200A
// spaces, LINE and PARAGRAPH SEPARATOR, NARROW NBSP, MEDIUM MATHEMATICAL SPACE, IDEOGRAPHIC SPACE.
// clang-format off
#define GPT2_WS "\\x{09}-\\x{0D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
                "\\x{202F}\\x{205F}\\x{3000}"
const char* const kGpt2SplitPattern =
    "'s|'t|'re|'ve|'m|'ll|'d"
    "| ?\\p{L}+"
    "| ?\\p{N}+"
    "| ?[^" GPT2_WS "\\p{L}\\p{N}]+"
    "|[" GPT2_WS "]+(?![^" GPT2_WS "])"
    "|[" GPT2_WS "]+";
// clang-format on
#undef GPT2_WS

namespace {

pcre2_code* as_code(void* p) {
    return static_cast<pcre2_code*>(p);
}
pcre2_match_data* as_match_data(void* p) {
    return static_cast<pcre2_match_data*>(p);
}

std::string pcre2_message(int code) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(code, buffer, sizeof(buffer));
    return reinterpret_cast<const char*>(buffer);
}

}  // namespace

// The pattern, compiled (and JIT-compiled) once per process and shared by every Pretokenizer: a
// compiled PCRE2 pattern is never modified by matching, so threads may share it, each with its
// own match data. Compiling took most of the time of loading a small tokenizer.
namespace {

struct CompiledPattern {
    pcre2_code* code = nullptr;
    bool jit = false;
};

const CompiledPattern& compiled_pattern() {
    static const CompiledPattern pattern = [] {
        int error = 0;
        PCRE2_SIZE error_offset = 0;
        pcre2_code* code =
            pcre2_compile(reinterpret_cast<PCRE2_SPTR>(kGpt2SplitPattern), PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &error, &error_offset, nullptr);
        check(code != nullptr,
              "[tokenizer] PCRE2 cannot compile the split pattern at offset {}: {}", error_offset,
              pcre2_message(error));
        // Without a JIT (some platforms) the interpreter gives the same matches, only slower.
        return CompiledPattern{code, pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0};
    }();
    return pattern;
}

}  // namespace

Pretokenizer::Pretokenizer() {
    const CompiledPattern& pattern = compiled_pattern();
    code_ = pattern.code;
    jit_ = pattern.jit;
    match_data_ = pcre2_match_data_create_from_pattern(pattern.code, nullptr);
    check(match_data_ != nullptr, "[tokenizer] out of memory for PCRE2 match data");
}

Pretokenizer::~Pretokenizer() {
    pcre2_match_data_free(as_match_data(match_data_));  // the pattern is shared: kept
}

std::size_t Pretokenizer::piece_end(std::string_view text, std::size_t start) {
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    pcre2_match_data* md = as_match_data(match_data_);
    // The caller validated the UTF-8, so PCRE2 need not check it again on every call (the JIT
    // never checks).
    const int rc =
        jit_ ? pcre2_jit_match(as_code(code_), subject, text.size(), start, 0, md, nullptr)
             : pcre2_match(as_code(code_), subject, text.size(), start, PCRE2_NO_UTF_CHECK, md,
                           nullptr);
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(md);
    // No match is impossible (see the header); an error is a resource limit in PCRE2.
    check(rc > 0 && ovector[1] > start, "[tokenizer] PCRE2 match failed at byte {}: {}", start,
          rc > 0 ? std::string("empty match") : pcre2_message(rc));
    return ovector[1];
}

std::vector<std::string_view> Pretokenizer::split(std::string_view text) {
    std::vector<std::string_view> pieces;
    for (std::size_t start = 0; start < text.size();) {
        const std::size_t end = piece_end(text, start);
        pieces.push_back(text.substr(start, end - start));
        start = end;
    }
    return pieces;
}

}  // namespace gradstack::gpt
