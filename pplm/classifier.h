// The discriminator attribute model of PPLM: ClassifierHead, one linear layer on the mean of
// GPT-2's last hidden states (after ln_f):
//   logits = W mean_t(h_t) + b          W (class_size, embed_size), b (class_size)
// and its folder: head.safetensors (`weight`, `bias`) + meta.json in uber's format
//   {"class_size", "embed_size", "class_vocab": {name: id}, "default_class", "pretrained_model"}.
// Read next: generate.h (how its loss steers GPT-2), discrim_train.h (how it is trained).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "gpt/checkpoint.h"
#include "gpt/model.h"
#include "nn/module.h"

namespace gradstack::pplm {

struct ClassifierMeta {
    int64_t class_size = 0;
    int64_t embed_size = 0;
    std::map<std::string, int64_t> class_vocab;  // label name -> class id
    int64_t default_class = 0;
    std::string pretrained_model;  // what the head was trained on (informational)
};

class ClassifierHead : public nn::Module {
public:
    // Random init as torch.nn.Linear (U(-1/sqrt(embed), 1/sqrt(embed))); float64 for gradchecks.
    ClassifierHead(int64_t class_size, int64_t embed_size, Generator* gen = nullptr,
                   DType dtype = DType::f32);
    // x (..., embed_size) -> logits (..., class_size).
    Tensor forward(const Tensor& x) const;

    Tensor weight;  // (class_size, embed_size)
    Tensor bias;    // (class_size,)
};

struct Discriminator {
    ClassifierMeta meta;
    std::shared_ptr<ClassifierHead> head;
};

// Reads DIR/meta.json and DIR/head.safetensors. Throws gradstack::Error naming the file and key
// for a missing file or key, a value of the wrong type or range, weights whose shapes disagree
// with meta.json, and non-finite weights (unless options.allow_nonfinite).
Discriminator load_discriminator(const std::string& dir, const gpt::LoadOptions& options = {});
// Writes both files into DIR (created), each atomically.
void save_discriminator(const Discriminator& d, const std::string& dir);
// Throws unless the head reads hidden states of this model (embed_size == n_embd).
void check_compatible(const Discriminator& d, const gpt::GPT2Config& config,
                      const std::string& dir);

// --class-label: a class id ("2") or a name from class_vocab ("very_positive"). As uber's code:
// a label that is neither falls back to default_class, and `warn` is told why.
int64_t resolve_class_label(const ClassifierMeta& meta, const std::string& label,
                            const std::function<void(const std::string&)>& warn);

// The mean over positions of the last hidden states of `ids` (R, T) int64 under `model`, the
// positions t < lengths[r] of each row only (no padding), and no gradient: (R, n_embd).
Tensor mean_hidden(gpt::GPT2LMHeadModel& model, const Tensor& ids,
                   const std::vector<int64_t>& lengths);

}  // namespace gradstack::pplm
