// libFuzzer target for vocab.json + merges.txt (Tokenizer::from_strings): the input is the two
// files separated by the first NUL byte (no NUL: all of it is merges.txt, against the tiny
// vocabulary of fuzz_util.h). A tokenizer that loads is then used to encode and decode the input.
#include <cstring>

#include "tensor/error.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace gradstack;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const size_t nul = input.find('\0');
    static const std::string tiny_vocab = fuzz::tiny_tokenizer_files().first;
    const std::string_view vocab =
        nul == std::string_view::npos ? tiny_vocab : input.substr(0, nul);
    const std::string_view merges = nul == std::string_view::npos ? input : input.substr(nul + 1);
    try {
        const gpt::Tokenizer t =
            gpt::Tokenizer::from_strings(vocab, merges, "fuzz-vocab.json", "fuzz-merges.txt");
        fuzz::exercise(t, "hehe aaa the <|endoftext|> caf\xC3\xA9");
        for (int64_t id = 0; id < t.vocab_size() && id < 4096; ++id) {
            try {
                fuzz::touch(t.token_bytes(id).data(), t.token_bytes(id).size());
            } catch (const Error&) {  // an id no token has
            }
        }
    } catch (const Error&) {
    }
    return 0;
}
