// Hugging Face model folders: config.json + model.safetensors, as GPT2LMHeadModel.save_pretrained
// writes them. Loading accepts the names with or without the "transformer." prefix, a tied
// lm_head.weight or none, and ignores the attn.bias / attn.masked_bias mask buffers; any other
// missing, unexpected or misshaped tensor is an error naming it. Read next: generate.h.
#pragma once

#include <memory>
#include <string>

#include "gpt/model.h"

namespace gradstack::gpt {

// Loads `dir`/config.json and `dir`/model.safetensors into a float32 model in eval mode.
std::shared_ptr<GPT2LMHeadModel> load_pretrained(const std::string& dir);

// Loads the weights of `dir`/model.safetensors into an existing model (checked as above).
void load_weights(GPT2LMHeadModel& model, const std::string& safetensors_path);

// Writes config.json, generation_config.json and model.safetensors (keys "transformer.*", no
// lm_head.weight, metadata {"format": "pt"}) into `dir`, creating it; each file atomically.
void save_pretrained(const GPT2LMHeadModel& model, const std::string& dir);

}  // namespace gradstack::gpt
