// Hugging Face model folders: config.json + model.safetensors, as GPT2LMHeadModel.save_pretrained
// writes them. Loading accepts the names with or without the "transformer." prefix, a tied
// lm_head.weight or none, and ignores the attn.bias / attn.masked_bias mask buffers; any other
// missing, unexpected or misshaped tensor is an error naming it. The header is checked against
// config.json before the model is built (a config.json with n_layer 1e9 fails at once, not after
// minutes of allocating), and weights that hold NaN or Inf are an error naming the tensor unless
// LoadOptions::allow_nonfinite says otherwise. Read next: generate.h.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "gpt/model.h"
#include "nn/safetensors.h"

namespace gradstack::gpt {

struct LoadOptions {
    // Load weights that hold NaN or +-Inf (to look at a damaged file with inspect, say) instead
    // of refusing them. The CLI's --allow-nonfinite.
    bool allow_nonfinite = false;
};

// The hint that ends the error for non-finite weights (names the CLI flag).
inline constexpr const char* kAllowNonfiniteHint =
    "pass --allow-nonfinite to load it anyway (to inspect it)";

// Loads `dir`/config.json and `dir`/model.safetensors into a float32 model in eval mode. Throws
// gradstack::Error naming the file for a missing folder or file, a FIFO or other non-regular
// file, a config.json whose sizes disagree with the weights' header (before building anything),
// and non-finite weights (unless options.allow_nonfinite).
std::shared_ptr<GPT2LMHeadModel> load_pretrained(const std::string& dir,
                                                 const LoadOptions& options = {});

// Loads the weights of `dir`/model.safetensors into an existing model (checked as above).
void load_weights(GPT2LMHeadModel& model, const std::string& safetensors_path,
                  const LoadOptions& options = {});

// Checks the header of a GPT-2 safetensors file against what `config` implies (the layer count
// first, then every name and shape), without reading the data; throws gradstack::Error naming the
// file, the config `config_source` and each difference.
void check_header_matches(const GPT2Config& config, const SafetensorsFile& file,
                          const std::string& config_source);

// Writes config.json, generation_config.json and model.safetensors (keys "transformer.*", no
// lm_head.weight, metadata {"format": "pt"}) into `dir`, creating it; each file atomically.
// `metadata` is added to the safetensors header next to "format" (e.g. the training step).
void save_pretrained(const GPT2LMHeadModel& model, const std::string& dir,
                     const std::map<std::string, std::string>& metadata = {});

}  // namespace gradstack::gpt
