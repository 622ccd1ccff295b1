// What apps/vae.cpp shares with apps/vae_eval.cpp: loading a VAE with its tokenizer, decoding
// latents, and the `gradstack vae eval` entry point. Defined in vae.cpp and vae_eval.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gpt/tokenizer/tokenizer.h"
#include "vae/latent_diffusion.h"
#include "vae/model.h"

namespace gradstack::apps {

struct LoadedVae {
    std::shared_ptr<vae::TextVae> model;
    gpt::Tokenizer tokenizer;
};
// The VAE folder and the tokenizer saved in it; errors name --vae.
LoadedVae load_vae_dir(const std::string& dir);
// The latent diffusion folder, checked against the VAE's latent size.
std::shared_ptr<vae::LatentDiffusion> load_diffusion_dir(const std::string& dir, int64_t latent);
// Token ids of `text` for the VAE; throws naming `flag` when empty or longer than max_length.
std::vector<int64_t> vae_ids(const LoadedVae& v, const std::string& text, const std::string& flag);
// Decodes each row of z (greedy unless `config.greedy` is false) into text.
std::vector<std::string> decode_texts(LoadedVae& v, const Tensor& z, const vae::DecodeConfig& config,
                                      Generator* gen);

struct VaeEvalFlags {
    std::string vae, diffusion, data, scorer;
    int64_t n = 100;
    int64_t max_sentences = 200;
    int64_t ddim_steps = 50;
    double eta = 0.0, clip_x0 = 5.0;
    uint64_t seed = 0;
    bool json = false;
};
int run_vae_eval(const VaeEvalFlags& flags);

}  // namespace gradstack::apps
