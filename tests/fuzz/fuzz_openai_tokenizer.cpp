// libFuzzer target for OpenAI's tokenizer files, encoder.json + vocab.bpe: the input is vocab.bpe
// (the merges) against the tiny encoder.json of fuzz_util.h, with lines that pass every check
// of Tokenizer::from_strings (parts and results in the vocabulary, in an order BPE can apply),
// and the loaded tokenizer then encodes the input itself as text (any bytes, made valid UTF-8).
#include "gpt/tokenizer/utf8.h"
#include "tensor/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gradstack;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    static const std::string encoder_json = fuzz::tiny_tokenizer_files().first;
    try {
        const gpt::Tokenizer t = gpt::Tokenizer::from_strings(
            encoder_json, input, "fuzz-encoder.json", "fuzz-vocab.bpe");
        fuzz::exercise(t, gpt::utf8_replace_invalid(input));
    } catch (const Error&) {
    }
    // The tiny tokenizer on the input as text: the encoder must take any valid UTF-8.
    try {
        fuzz::exercise(fuzz::tiny_tokenizer(), gpt::utf8_replace_invalid(input));
    } catch (const Error&) {
    }
    return 0;
}
