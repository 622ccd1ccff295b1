// Rollouts and the response forward (see rollout.h).
#include "rl/rollout.h"

#include <algorithm>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "gpt/generation/generate.h"
#include "tensor/error.h"

namespace gradstack::rl {

Batch make_batch(const Rows& queries, const Rows& responses, int64_t pad) {
    check(!queries.empty() && queries.size() == responses.size(),
          "[rollout] {} queries and {} responses", queries.size(), responses.size());
    Batch b;
    b.N = static_cast<int64_t>(responses[0].size());
    for (size_t r = 0; r < queries.size(); ++r) {
        check(!queries[r].empty(), "[rollout] query {} is empty", r);
        check(static_cast<int64_t>(responses[r].size()) == b.N,
              "[rollout] response {} has {} tokens, response 0 has {}", r, responses[r].size(), b.N);
        b.Q = std::max<int64_t>(b.Q, static_cast<int64_t>(queries[r].size()));
    }
    const int64_t B = static_cast<int64_t>(queries.size()), T = b.Q + b.N;
    std::vector<int64_t> ids(B * T, pad), mask(B * T, 0);
    for (int64_t r = 0; r < B; ++r) {
        const auto& q = queries[r];
        const int64_t start = b.Q - static_cast<int64_t>(q.size());  // left padding
        std::copy(q.begin(), q.end(), ids.begin() + r * T + start);
        std::copy(responses[r].begin(), responses[r].end(), ids.begin() + r * T + b.Q);
        std::fill(mask.begin() + r * T + start, mask.begin() + (r + 1) * T, 1);
    }
    b.ids = from_vector(ids, {B, T});
    b.mask = from_vector(mask, {B, T});
    b.positions = gpt::position_ids_from_mask(b.mask, T);
    return b;
}

Batch batch_rows(const Batch& batch, int64_t begin, int64_t end) {
    Batch b = batch;
    b.ids = slice(batch.ids, 0, begin, end);
    b.mask = slice(batch.mask, 0, begin, end);
    b.positions = slice(batch.positions, 0, begin, end);
    return b;
}

Samples sample_responses(gpt::GPT2LMHeadModel& lm, const Rows& queries, int64_t N, Generator& gen) {
    gpt::GenerationConfig g;
    g.do_sample = true;
    g.temperature = 1.0;
    g.top_k = 0;  // off: the policy's own distribution
    g.top_p = 1.0;
    g.max_new_tokens = N;
    g.min_new_tokens = 0;
    g.ignore_eos = true;  // exactly N tokens, an EOS being one of them like any other
    g.eos_token_id = lm.config().eos_token_id;
    g.bos_token_id = lm.config().bos_token_id;
    auto out = gpt::generate(lm, queries, g, &gen);
    Samples s;
    for (auto& seqs : out) {
        s.responses.push_back(seqs[0].new_ids);
        s.logprobs.push_back(seqs[0].logprobs);
    }
    return s;
}

ResponseForward forward_responses(gpt::GPT2LMHeadModel& lm, ValueHead* v_head, const Batch& batch,
                                  bool distributions) {
    gpt::ForwardOptions o;
    o.attention_mask = batch.mask;
    o.position_ids = batch.positions;
    o.use_cache = false;
    o.logits = false;  // the head runs below on the N positions that matter only
    o.output_hidden_states = true;
    gpt::ForwardOutput out = lm.forward(batch.ids, o);
    const int64_t Q = batch.Q, N = batch.N;
    // Position t predicts token t + 1: the response tokens Q..Q+N-1 come from positions Q-1..Q+N-2.
    Tensor h = slice(out.hidden_states.back(), 1, Q - 1, Q + N - 1);              // (B, N, C)
    Tensor logits = matmul(h, transpose(lm.transformer->wte->weight, 0, 1));      // (B, N, V)
    ResponseForward r;
    Tensor tokens = slice(batch.ids, 1, Q, Q + N);                                 // (B, N)
    if (distributions) {
        r.logp = log_softmax(logits, -1);                                          // (B, N, V)
        r.logprobs = squeeze(gather(r.logp, 2, unsqueeze(tokens, -1)), -1);        // (B, N)
    } else {
        r.logprobs = neg(cross_entropy(logits, contiguous(tokens), -100, Reduction::none));
    }
    if (v_head) r.values = v_head->forward(h);                                     // (B, N)
    return r;
}

}  // namespace gradstack::rl
