// Training the text VAE (`gradstack vae train`) and its latent diffusion model
// (`gradstack vae diffusion-train`). Both: AdamW, warm-up + cosine learning rate, global-norm
// clipping, a progress line, metrics.csv + metrics.png, atomic checkpoints every save_every
// steps, and --resume, which continues with identical losses (every random draw comes from a
// seeded generator whose counter is saved). An --out folder that already holds a run is refused
// unless --resume. Read next: train.cpp.
//   two-stage:  vae train (ddpm_weight 0), then diffusion-train on the frozen VAE's latents
//   joint:      vae train with ddpm_weight > 0 (DMLP's VAE_DDPM): loss = rec + beta KL +
//               ddpm_weight * ddpm(z); the denoiser is saved in <out>/diffusion
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace gradstack::vae {

struct VaeTrainConfig {
    std::vector<std::string> data;
    std::string out;
    std::string init_from;   // a GPT-2 folder: decoder and encoder start from it
    std::string tokenizer;   // new model: its tokenizer ("" = the GPT-2 one, or init_from's)
    bool resume = false;

    // A new model (ignored with init_from or resume).
    int64_t n_layer = 2, n_head = 2, n_embd = 64;
    double dropout = 0.0;
    // The VAE.
    int64_t latent = 32;
    int64_t encoder_layers = 0;          // 0: as many as the decoder
    std::string conditioning = "both";   // "both", "embedding" or "memory"
    int64_t max_length = 48;             // sentences with more tokens are left out
    // The KL term.
    double beta = 1.0;
    int64_t kl_cycles = 1;
    double kl_ratio_zero = 0.25, kl_ratio_increase = 0.25;
    double free_bits = 0.0;
    // Joint DDPM (ddpm_weight > 0).
    double ddpm_weight = 0.0;
    std::string schedule = "linear";
    int64_t timesteps = 1000;
    int64_t hidden = 256, layers = 4, time_dim = 64;
    // Optimisation.
    int64_t steps = 1000;
    int64_t batch_size = 32;
    double lr = 5e-4, min_lr = 5e-5;
    int64_t warmup = 100;
    double weight_decay = 0.01;
    double clip = 1.0;
    double val_fraction = 0.05;
    int64_t eval_every = 100, save_every = 500, log_every = 10;
    int64_t stop_at = 0;  // > 0: save a checkpoint and stop at this step (--resume goes on)
    uint64_t seed = 1337;
};

struct DiffusionTrainConfig {
    std::string vae;                 // the trained VAE folder
    std::string out;
    std::vector<std::string> data;   // empty: the files the VAE was trained on
    bool resume = false;
    std::string schedule = "linear";
    int64_t timesteps = 1000;
    int64_t hidden = 256, layers = 4, time_dim = 64;
    int64_t steps = 2000;
    int64_t batch_size = 256;
    double lr = 1e-3, min_lr = 1e-4;
    int64_t warmup = 100;
    double weight_decay = 0.0;
    double clip = 1.0;
    int64_t eval_every = 200, save_every = 1000, log_every = 50;
    int64_t stop_at = 0;  // > 0: save a checkpoint and stop at this step (--resume goes on)
    uint64_t seed = 1337;
};

struct TrainSummary {
    int64_t steps_done = 0;
    std::vector<double> losses;  // the total loss of each step run in this call
    bool interrupted = false;
};

// Throw gradstack::Error naming the flag for a bad setting, before any work starts.
void validate(const VaeTrainConfig& config);
void validate(const DiffusionTrainConfig& config);

using Log = std::function<void(const std::string&)>;
TrainSummary train_vae(const VaeTrainConfig& config, const Log& log,
                       const std::atomic<bool>* stop = nullptr);
TrainSummary train_diffusion(const DiffusionTrainConfig& config, const Log& log,
                             const std::atomic<bool>* stop = nullptr);

}  // namespace gradstack::vae
