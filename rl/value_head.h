// GPT-2 with a value head: PPO's policy. The value head is Hugging Face's SequenceSummary as trl's
// ValueHead applies it, to the last hidden state h_t (after ln_f) of every position:
//   v_t = last_dropout(activation(summary(first_dropout(h_t))))     summary: Linear(n_embd, 1)
// so the model gives next-token logits and a scalar value estimate per token.
// Read next: reference.h (the frozen copy), rollout.h (sampling and the forward PPO uses).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "gpt/checkpoint.h"
#include "gpt/model.h"
#include "nn/layers/activation.h"
#include "nn/layers/linear.h"

namespace gradstack::rl {

// The summary_* keys of Hugging Face's config.json, with GPT2Config's defaults.
struct ValueHeadConfig {
    // "cls_index" (GPT2Config's default), "last", "first" or "mean": recorded and validated, but
    // as in trl's ValueHead the head scores every position; "attn" is not implemented (as trl).
    std::string summary_type = "cls_index";
    bool summary_use_proj = true;        // must be true: a value is one number
    bool summary_proj_to_labels = true;  // must be true: trl sets num_labels = 1
    std::string summary_activation;      // "" (null: none) or "tanh"
    double summary_first_dropout = 0.1;
    double summary_last_dropout = 0.0;
    // Not in config.json (trl's ValueHead.detach_head): the value loss gives no gradient to the
    // transformer, only to the head. A training choice, not saved: the CLI's --detach-value-head.
    bool detach_head = false;

    // Throws gradstack::Error naming the key for values a scalar value head cannot have.
    void validate(const std::string& source) const;
};

// Reads the summary_* keys of a parsed config.json (absent keys keep their defaults); `source`
// names the file in errors (a key of the wrong type or value).
ValueHeadConfig value_head_config(const nlohmann::json& config, const std::string& source);
// Writes the summary_* keys (and num_labels = 1) into a config.json object.
void put_value_head_config(const ValueHeadConfig& config, nlohmann::json& out);

class ValueHead : public nn::Module {
public:
    // summary.weight ~ N(0, init_std), summary.bias = 0: what transformers' _init_weights gives
    // a newly initialised Linear.
    ValueHead(const ValueHeadConfig& config, int64_t n_embd, double init_std, DType dtype,
              Generator* gen = nullptr);
    // hidden (B, T, n_embd) -> values (B, T).
    Tensor forward(const Tensor& hidden);
    const ValueHeadConfig& config() const { return config_; }

    std::shared_ptr<nn::Dropout> first_dropout, last_dropout;
    std::shared_ptr<nn::Linear> summary;

private:
    ValueHeadConfig config_;
};

struct PolicyOutput {
    Tensor logits;  // (B, T, vocab)
    Tensor values;  // (B, T)
};

// The language model and its value head. Parameter names follow trl's GPT2HeadWithValueModel:
// the LM's own ("transformer.h.0.attn.c_attn.weight", ...) and "v_head.summary.weight/bias".
struct Policy {
    std::shared_ptr<gpt::GPT2LMHeadModel> lm;
    std::shared_ptr<ValueHead> v_head;

    PolicyOutput forward(const Tensor& ids, const gpt::ForwardOptions& options);
    nn::NamedTensors named_parameters() const;  // the LM's, then v_head.*
    void train(bool on);
};

// Loads a Hugging Face GPT-2 folder (gpt::load_pretrained) as a policy. DIR/value_head.safetensors,
// when present, holds the head (saved by save_policy); otherwise the head is newly initialised and
// `warn` is told its names, as transformers reports weights missing from a checkpoint. The head's
// settings come from DIR/config.json's summary_* keys; detach_head from the argument. NaN or Inf
// in the model or the head is an error naming the tensor unless options.allow_nonfinite.
Policy load_policy(const std::string& dir, bool detach_head, Generator* init_gen,
                   const std::function<void(const std::string&)>& warn,
                   const gpt::LoadOptions& options = {});

// Writes the LM in Hugging Face layout (config.json with the summary_* keys added,
// generation_config.json, model.safetensors: `gradstack generate --model DIR` loads it) and the
// head beside it (value_head.safetensors), each file atomically. `metadata` goes into both
// safetensors headers (e.g. the PPO step).
void save_policy(const Policy& policy, const std::string& dir,
                 const std::map<std::string, std::string>& metadata = {});

}  // namespace gradstack::rl
