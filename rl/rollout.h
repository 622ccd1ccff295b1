// Rollouts: a batch of queries and the responses the policy samples for them, and the one forward
// pass PPO uses everywhere (for the rollout's statistics and in every optimisation step) to get the
// log-probability and value of each response token.
//
// Responses are exactly N new tokens drawn from the policy's own distribution, softmax(logits),
// by plain multinomial sampling: no temperature, top-k or top-p, no EOS handling, no padding after
// an EOS. So the log-probabilities the KL is computed from are those of the distribution the tokens
// came from, and E[log p - log p_ref] over those tokens is a true KL (>= 0). trl's seed notebook
// shows what the shortcuts did: padding after the first EOS, or -inf on EOS before a min_length,
// sample from one distribution and score another, and the policy learns to reach negative "KL".
// Read next: ppo_math.h (what PPO computes from these), ppo.h (the loop).
#pragma once

#include <vector>

#include "gpt/model.h"
#include "rl/value_head.h"
#include "tensor/random.h"

namespace gradstack::rl {

// Token ids, one row per query or response (no padding).
using Rows = std::vector<std::vector<int64_t>>;

// Query + response rows as one left-padded batch: queries padded on the left to the longest,
// responses all N long, so the response of every row occupies the last N columns.
struct Batch {
    Tensor ids;        // (B, Q + N) int64; padding holds `pad`
    Tensor mask;       // (B, Q + N) int64, 1 real / 0 padding
    Tensor positions;  // (B, Q + N) Hugging Face's position ids for the left padding
    int64_t Q = 0, N = 0;
};

// Throws gradstack::Error for an empty query, responses of different lengths, or no rows.
Batch make_batch(const Rows& queries, const Rows& responses, int64_t pad);
// Rows [begin, end) of a batch (the same Q and N).
Batch batch_rows(const Batch& batch, int64_t begin, int64_t end);

struct Samples {
    Rows responses;                               // N tokens per query
    std::vector<std::vector<float>> logprobs;     // log p of each token, recorded while sampling
};

// N tokens per query from `lm` (eval mode, no graph, through the KV cache), the queries run as one
// left-padded batch, the draws from `gen`. Throws when a query + N exceeds n_positions.
Samples sample_responses(gpt::GPT2LMHeadModel& lm, const Rows& queries, int64_t N, Generator& gen);

// What one forward over a batch gives for its N response tokens.
struct ResponseForward {
    Tensor logprobs;  // (B, N) log p(response token t | everything before it)
    Tensor logp;      // (B, N, V) the whole log-distribution at those positions (if asked for)
    Tensor values;    // (B, N) the value head at the same positions (when a head is given)
};

// One forward of `lm` over the whole batch (no cache), the head applied only at the positions
// Q-1 .. Q+N-2 that predict the response tokens. Records a graph when grad mode is on, so the
// same function serves the rollout (under NoGradGuard) and the PPO loss. With distributions
// false, logp is left undefined and logprobs come from the fused cross-entropy (-CE of each
// token; the same numbers up to rounding, without a (B, N, V) log-softmax and its backward).
ResponseForward forward_responses(gpt::GPT2LMHeadModel& lm, ValueHead* v_head, const Batch& batch,
                                  bool distributions = true);

}  // namespace gradstack::rl
