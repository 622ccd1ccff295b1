// The text VAE: encoder -> Gaussian head -> z -> conditioned GPT-2 decoder, trained on
//   loss = reconstruction + beta * KL(q(z|x) || N(0, I))          (Optimus's objective)
// where reconstruction is the decoder's cross-entropy of the sentence summed over its tokens and
// averaged over the batch. Also the batches of padded sentences, and the VAE folder on disk.
// Read next: diffusion.h (the prior over z learned afterwards or jointly).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpt/config.h"
#include "vae/decoder.h"
#include "vae/encoder.h"
#include "vae/latent.h"

namespace gradstack::vae {

struct VaeConfig {
    gpt::GPT2Config gpt;             // the decoder; the encoder has its sizes too
    int64_t encoder_layers = 0;      // 0: gpt.n_layer
    int64_t latent = 32;
    bool embedding_conditioning = true;
    bool memory_conditioning = true;
    int64_t max_length = 48;         // longest sentence in tokens (without bos / eos)

    int64_t encoder_depth() const { return encoder_layers > 0 ? encoder_layers : gpt.n_layer; }
    // Throws gradstack::Error naming the setting (latent 0, no conditioning, a sentence that
    // cannot fit n_positions, encoder deeper than the decoder's checkpoint, ...).
    void validate() const;
};

// Sentences as padded tensors. Encoder: the tokens, padded on the right, with a 0/1 mask.
// Decoder: bos + tokens + eos, padded; labels are the decoder ids with -100 at padding.
struct TextBatch {
    Tensor enc_ids, enc_mask;  // (B, Tmax)
    Tensor dec_ids, labels;    // (B, Tmax + 2)
    int64_t tokens = 0;        // predicted tokens (each sentence's tokens + its eos)
};
// Throws for an empty batch or an empty sentence.
TextBatch make_batch(const std::vector<std::vector<int64_t>>& sentences, int64_t bos, int64_t eos);

struct VaeLoss {
    Tensor total;      // rec + beta * kl (0-d)
    Tensor rec;        // summed cross-entropy per sentence, batch mean (0-d)
    Tensor kl;         // kl_loss with free bits (0-d)
    double kl_raw = 0; // the plain KL per sentence (no free bits), for reporting
    Posterior q;
    Tensor z;          // (B, latent), the reparameterised sample
};

class TextVae : public nn::Module {
public:
    explicit TextVae(const VaeConfig& config, Generator* gen = nullptr);

    Posterior encode(const Tensor& ids, const Tensor& mask);
    // eps: (B, latent) standard normal noise for the reparameterisation (zeros: z = mu).
    VaeLoss loss(const TextBatch& batch, const Tensor& eps, double beta, double free_bits);
    // Initialises encoder and decoder from a GPT-2 of the same sizes.
    void load_from_gpt2(const gpt::GPT2LMHeadModel& gpt2);

    const VaeConfig& config() const { return config_; }
    int64_t bos() const { return config_.gpt.bos_token_id; }
    int64_t eos() const { return config_.gpt.eos_token_id; }

    // mu and logvar of many sentences, encoded `batch` at a time without gradients: (N, latent).
    Posterior encode_all(const std::vector<std::vector<int64_t>>& sentences, int64_t batch = 128);

    std::shared_ptr<TextEncoder> encoder;
    std::shared_ptr<GaussianHead> head;
    std::shared_ptr<LatentDecoder> decoder;

private:
    VaeConfig config_;
};

// --- the VAE folder: config.json (the decoder's GPT-2 config), vae_config.json, model.safetensors
// and the tokenizer (vocab.json + merges.txt). `metadata` goes into model.safetensors' header.

// The JSON of vae_config.json; `extra` (an object) adds keys, e.g. "train_data", the paths the
// VAE was trained on, which diffusion-train reads again.
nlohmann::json vae_config_json(const VaeConfig& config, const nlohmann::json& extra = {});
// Reads `dir`'s config.json and vae_config.json (its whole JSON into `raw` when given). Throws with a hint when `dir` is not a VAE
// folder (no vae_config.json) or a file is malformed.
VaeConfig load_vae_config(const std::string& dir, nlohmann::json* raw = nullptr);
void save_vae(const TextVae& model, const std::string& dir,
              const std::map<std::string, std::string>& metadata = {},
              const nlohmann::json& extra_config = {});
// A float32 VAE in eval mode.
std::shared_ptr<TextVae> load_vae(const std::string& dir);

}  // namespace gradstack::vae
