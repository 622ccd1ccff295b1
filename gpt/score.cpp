// Sliding-window scoring (see score.h). Each window is one forward pass over up to W tokens; only
// the rows of the logits that predict a not-yet-scored token go through log_softmax, which over a
// 50257-word vocabulary costs about as much as the last matmul.
#include "gpt/score.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "tensor/kernels/copy.h"

namespace gradstack::gpt {

std::vector<double> token_logprobs(GPT2LMHeadModel& model, const std::vector<int64_t>& ids,
                                   int64_t stride) {
    const int64_t N = static_cast<int64_t>(ids.size());
    const int64_t W = model.config().n_positions, V = model.config().vocab_size;
    check(N > 0, "[score] no tokens to score");
    check(W >= 2 && stride >= 1 && stride <= W - 1,
          "[score] stride (--stride) must be in [1, n_positions - 1] = [1, {}], got {}", W - 1, stride);
    for (int64_t t = 0; t < N; ++t)
        check(ids[t] >= 0 && ids[t] < V,
              "[score] token {} has id {}, outside the model's vocabulary [0, {})", t, ids[t], V);

    NoGradGuard no_grad;
    std::vector<double> logprobs(N, std::numeric_limits<double>::quiet_NaN());
    int64_t scored_until = 1;  // tokens [1, scored_until) have their log-probability
    for (int64_t begin = 0; scored_until < N; begin += stride) {
        const int64_t end = std::min(begin + W, N);
        // The window's row r predicts token begin + r + 1; the new tokens are
        // [scored_until, end), predicted by rows [scored_until - 1 - begin, end - 1 - begin).
        const int64_t first_row = scored_until - 1 - begin, last_row = end - 1 - begin;
        std::vector<int64_t> window(ids.begin() + begin, ids.begin() + end);
        Tensor x = from_vector<int64_t>(window, {1, end - begin});
        ForwardOptions options;
        options.use_cache = false;
        Tensor logits = model.forward(x, options).logits;                   // (1, T, V)
        Tensor rows = slice(select(logits, 0, 0), 0, first_row, last_row);  // (n, V)
        Tensor logp = contiguous(to_dtype(log_softmax(rows, -1), DType::f64));
        if (logp.device().type != DeviceType::cpu) logp = kernels::to_device(logp, Device::cpu());
        const double* p = logp.data<double>();
        // A NaN or infinite logit spreads through log_softmax to its row (a NaN everywhere, or
        // -inf), so every log-probability of a row is checked, not only the one scored: a NaN
        // model must not print "perplexity: -nan".
        for (int64_t r = first_row; r < last_row; ++r) {
            const double* row = p + (r - first_row) * V;
            for (int64_t v = 0; v < V; ++v)
                check(std::isfinite(row[v]),
                      "[score] the model's log-probabilities for token {} are not finite ({} for "
                      "id {}): its weights or input produce NaN or infinities; check the "
                      "checkpoint (gradstack inspect shows every layer)",
                      begin + r + 1, row[v], v);
            logprobs[begin + r + 1] = row[ids[begin + r + 1]];
        }
        scored_until = end;
    }
    return logprobs;
}

}  // namespace gradstack::gpt
