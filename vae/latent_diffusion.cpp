// The latent diffusion folder (see latent_diffusion.h).
#include "vae/latent_diffusion.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "nn/safetensors.h"
#include "tensor/io.h"
#include "tensor/json.h"

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
    // A regular file of at most 16 MiB (the latent statistics are two short lists), nested at
    // most 64 deep; each key named when it is missing or of the wrong type (tensor/json.h).
    const std::string source = p.string();
    const nlohmann::json j =
        read_json_file(source, 16 * kMiB, "a latent diffusion config (diffusion_config.json)");
    DenoiserConfig c;
    c.latent = json_get<int64_t>(j, "latent", source, "an integer");
    c.hidden = json_get<int64_t>(j, "hidden", source, "an integer");
    c.layers = json_get<int64_t>(j, "layers", source, "an integer");
    c.time_dim = json_get<int64_t>(j, "time_dim", source, "an integer");
    const auto name = json_get<std::string>(j, "schedule", source, "a string");
    const auto T = json_get<int64_t>(j, "timesteps", source, "an integer");
    const auto mean = json_get<std::vector<double>>(j, "latent_mean", source, "a list of numbers");
    const auto stddev = json_get<std::vector<double>>(j, "latent_std", source, "a list of numbers");
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
    const SafetensorsFile file = load_safetensors(w);
    check_finite(file);
    d->net->load_state_dict(file.tensors(), true, w);
    d->net->eval();
    return d;
}

}  // namespace gradstack::vae
