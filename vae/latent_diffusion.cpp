// The latent diffusion folder (see latent_diffusion.h).
#include "vae/latent_diffusion.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "nn/safetensors.h"
#include "tensor/io.h"

namespace gradstack::vae {

namespace fs = std::filesystem;

LatentDiffusion::LatentDiffusion(const DenoiserConfig& c, const std::string& name, int64_t T,
                                 Generator* gen)
    : config(c), schedule_name(name), schedule(NoiseSchedule::make(name, T)),
      mean(c.latent, 0.0), stddev(c.latent, 1.0), net(std::make_shared<MLPSkipNet>(c, gen)) {}

Tensor LatentDiffusion::standardize(const Tensor& z) const {
    const int64_t D = config.latent;
    return (z - to_dtype(from_vector<double>(mean, {1, D}), z.dtype())) /
           to_dtype(from_vector<double>(stddev, {1, D}), z.dtype());
}

Tensor LatentDiffusion::unstandardize(const Tensor& x) const {
    const int64_t D = config.latent;
    return x * to_dtype(from_vector<double>(stddev, {1, D}), x.dtype()) +
           to_dtype(from_vector<double>(mean, {1, D}), x.dtype());
}

Tensor LatentDiffusion::sample(int64_t n, int64_t ddim_steps, double eta, Generator* gen) {
    return unstandardize(sample_diffusion(*net, schedule, n, ddim_steps, eta, gen));
}

void save_diffusion(const LatentDiffusion& d, const std::string& dir,
                    const std::map<std::string, std::string>& metadata) {
    fs::create_directories(dir);
    nlohmann::json j = {{"format", "gradstack-latent-diffusion"},
                        {"version", 1},
                        {"latent", d.config.latent},
                        {"hidden", d.config.hidden},
                        {"layers", d.config.layers},
                        {"time_dim", d.config.time_dim},
                        {"schedule", d.schedule_name},
                        {"timesteps", d.schedule.steps()},
                        {"latent_mean", d.mean},
                        {"latent_std", d.stddev}};
    write_file_atomically((fs::path(dir) / "diffusion_config.json").string(),
                          [&](OutputFile& f) { f.write(j.dump(2) + "\n"); });
    save_safetensors((fs::path(dir) / "denoiser.safetensors").string(), d.net->state_dict(),
                     metadata);
}

std::shared_ptr<LatentDiffusion> load_diffusion(const std::string& dir, int64_t expect_latent) {
    const fs::path p = fs::path(dir) / "diffusion_config.json";
    check(fs::exists(p),
          "--diffusion {}: not a latent diffusion folder (no diffusion_config.json); make one "
          "with gradstack vae diffusion-train",
          dir);
    std::ifstream in(p);
    DenoiserConfig c;
    std::string name;
    int64_t T = 0;
    std::vector<double> mean, stddev;
    try {
        nlohmann::json j = nlohmann::json::parse(in);
        c.latent = j.at("latent").get<int64_t>();
        c.hidden = j.at("hidden").get<int64_t>();
        c.layers = j.at("layers").get<int64_t>();
        c.time_dim = j.at("time_dim").get<int64_t>();
        name = j.at("schedule").get<std::string>();
        T = j.at("timesteps").get<int64_t>();
        mean = j.at("latent_mean").get<std::vector<double>>();
        stddev = j.at("latent_std").get<std::vector<double>>();
    } catch (const nlohmann::json::exception& e) {
        fail("{}: not a diffusion config ({})", p.string(), e.what());
    }
    check(expect_latent < 0 || c.latent == expect_latent,
          "--diffusion {}: trained for latent size {}, but the VAE has latent size {}", dir,
          c.latent, expect_latent);
    check(static_cast<int64_t>(mean.size()) == c.latent &&
              static_cast<int64_t>(stddev.size()) == c.latent,
          "{}: latent_mean / latent_std must have {} values", p.string(), c.latent);
    auto d = std::make_shared<LatentDiffusion>(c, name, T);
    d->mean = mean;
    d->stddev = stddev;
    const std::string w = (fs::path(dir) / "denoiser.safetensors").string();
    check(fs::exists(w), "--diffusion {}: denoiser.safetensors is missing", dir);
    d->net->load_state_dict(load_safetensors(w).tensors(), true, w);
    d->net->eval();
    return d;
}

}  // namespace gradstack::vae
