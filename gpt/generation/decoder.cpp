// The model side of generation (see decoder.h). Hugging Face's rules for a left-padded batch:
// the attention mask is 0 on padding and grows by a column of 1s per step; a token's position id
// is the number of real tokens before it (cumsum(mask) - 1), so padding does not shift positions
// and a padded row computes what it would alone. A batch without padding needs neither: the
// default positions past, past + 1, ... are the same, and skipping the mask saves work per layer.
#include "gpt/generation/decoder.h"

#include <algorithm>
#include <numeric>

#include "autograd/ops.h"
#include "tensor/kernels/copy.h"

namespace gradstack::gpt {

Decoder::Decoder(GPT2LMHeadModel& model, const std::vector<std::vector<int64_t>>& rows,
                 int64_t pad, bool use_cache)
    : model_(model), R_(static_cast<int64_t>(rows.size())), use_cache_(use_cache) {
    check(R_ > 0, "[decoder] no rows to decode");
    for (const auto& row : rows) {
        check(!row.empty(), "[decoder] a row has no tokens");
        S_ = std::max<int64_t>(S_, static_cast<int64_t>(row.size()));
    }
    std::vector<int64_t> ids(R_ * S_, pad), mask(R_ * S_, 0);
    for (int64_t r = 0; r < R_; ++r) {
        const int64_t n = static_cast<int64_t>(rows[r].size()), start = S_ - n;  // left padding
        std::copy(rows[r].begin(), rows[r].end(), ids.begin() + r * S_ + start);
        std::fill(mask.begin() + r * S_ + start, mask.begin() + (r + 1) * S_, 1);
        real_len_.push_back(n);
        padded_ = padded_ || n < S_;
    }
    ids_ = from_vector(ids, {R_, S_});
    if (padded_) mask_ = from_vector(mask, {R_, S_});
}

Tensor Decoder::last_logits(const ForwardOutput& out) {
    const int64_t T = out.logits.size(1);
    Tensor last = select(out.logits, 1, T - 1);  // (R, V)
    // Logits processors and sampling run on the host: one (R, V) row block per step comes back.
    if (last.device().type != DeviceType::cpu) last = kernels::to_device(last, Device::cpu());
    if (last.dtype() != DType::f32) return to_dtype(last, DType::f32);  // a float64 model
    return last.is_contiguous() ? last : contiguous(last);
}

Tensor Decoder::start() {
    ForwardOptions o;
    o.use_cache = use_cache_;
    o.logits_to_keep = 1;  // only the last position's logits are read
    if (padded_) {
        o.attention_mask = mask_;
        o.position_ids = position_ids_from_mask(mask_, S_);
    }
    ForwardOutput out = model_.forward(ids_, o);
    if (use_cache_) {
        past_ = std::move(out.presents);
        ids_ = Tensor();  // the cache holds the prompt from now on
    }
    return last_logits(out);
}

Tensor Decoder::step(const std::vector<int64_t>& tokens) {
    check(static_cast<int64_t>(tokens.size()) == R_, "[decoder] {} tokens for {} rows",
          tokens.size(), R_);
    Tensor next = from_vector(tokens, {R_, 1});
    ++S_;
    if (padded_) mask_ = cat({mask_, ones({R_, 1}, DType::i64)}, 1);  // (R, S)
    ForwardOptions o;
    o.use_cache = use_cache_;
    o.attention_mask = mask_;
    if (!use_cache_) {
        ids_ = cat({ids_, next}, 1);  // (R, S)
        if (padded_) o.position_ids = position_ids_from_mask(mask_, S_);
        for (int64_t& n : real_len_) ++n;
        o.logits_to_keep = 1;
        return last_logits(model_.forward(ids_, o));
    }
    if (padded_) {
        // The new token's position: the count of real tokens before it.
        o.position_ids = from_vector(real_len_, {R_, 1});
    }
    for (int64_t& n : real_len_) ++n;
    o.past = std::move(past_);
    ForwardOutput out = model_.forward(next, o);
    past_ = std::move(out.presents);
    return last_logits(out);
}

void Decoder::reorder(const std::vector<int64_t>& source) {
    check(static_cast<int64_t>(source.size()) == R_, "[decoder] reorder with {} rows, not {}",
          source.size(), R_);
    std::vector<int64_t> identity(R_);
    std::iota(identity.begin(), identity.end(), 0);
    if (source == identity) return;  // nothing moves: skip copying the cache
    const Tensor index = from_vector(source);
    const Tensor cache_index =
        past_.empty() ? index : kernels::to_device(index, past_[0].key.device());
    for (KVCache& kv : past_) {
        kv.key = index_select(kv.key, 0, cache_index);  // (R, nh, S, hs)
        kv.value = index_select(kv.value, 0, cache_index);
    }
    if (ids_.defined()) ids_ = index_select(ids_, 0, index);
    if (mask_.defined()) mask_ = index_select(mask_, 0, index);
    std::vector<int64_t> len(R_);
    for (int64_t r = 0; r < R_; ++r) len[r] = real_len_[source[r]];
    real_len_ = std::move(len);
}

}  // namespace gradstack::gpt
