// A trained latent diffusion model as a unit: the denoiser, its noise schedule, and the
// per-dimension mean and standard deviation of the VAE latents it was trained on (the DDPM runs on
// standardised latents, z' = (z - mean) / std, so that N(0, I) at t = T fits whatever scale the
// VAE's aggregate posterior has). Saved as a folder: diffusion_config.json + denoiser.safetensors.
// Read next: train.h.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vae/denoiser.h"
#include "vae/diffusion.h"

namespace gradstack::vae {

struct LatentDiffusion {
    LatentDiffusion(const DenoiserConfig& config, const std::string& schedule_name,
                    int64_t timesteps, Generator* gen = nullptr);

    DenoiserConfig config;
    std::string schedule_name;  // "linear" or "cosine"
    NoiseSchedule schedule;
    std::vector<double> mean, stddev;  // latent statistics (0 and 1 until set)
    std::shared_ptr<MLPSkipNet> net;

    Tensor standardize(const Tensor& z) const;    // (B, D) -> (z - mean) / std
    Tensor unstandardize(const Tensor& x) const;  // the inverse
    // n latents for the VAE's decoder (unstandardised), see sample_diffusion.
    Tensor sample(int64_t n, int64_t ddim_steps, double eta, Generator* gen);
};

void save_diffusion(const LatentDiffusion& d, const std::string& dir,
                    const std::map<std::string, std::string>& metadata = {});
// Throws with a hint when `dir` has no diffusion_config.json, and when `expect_latent` >= 0
// differs from the model's latent size ("trained for latent 16, the VAE has 32").
std::shared_ptr<LatentDiffusion> load_diffusion(const std::string& dir, int64_t expect_latent = -1);

}  // namespace gradstack::vae
