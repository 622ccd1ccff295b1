// The VAE and its folder (see model.h).
#include "vae/model.h"

#include <filesystem>

#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "nn/safetensors.h"
#include "tensor/error.h"
#include "tensor/io.h"
#include "tensor/json.h"

namespace gradstack::vae {

namespace fs = std::filesystem;

void VaeConfig::validate() const {
    gpt.validate("[vae] decoder config");
    check(latent >= 1, "--latent must be >= 1, got {}", latent);
    check(encoder_layers >= 0, "--encoder-layers must be >= 0, got {}", encoder_layers);
    check(embedding_conditioning || memory_conditioning,
          "--conditioning: z must reach the decoder through the embeddings, the memory or both");
    check(max_length >= 1, "--max-length must be >= 1, got {}", max_length);
    const int64_t need = max_length + 2 + (memory_conditioning ? 1 : 0);
    check(need <= gpt.n_positions,
          "--max-length {}: bos + sentence + eos{} need {} positions, the model has n_positions {}",
          max_length, memory_conditioning ? " + the memory slot" : "", need, gpt.n_positions);
}

TextBatch make_batch(const std::vector<std::vector<int64_t>>& sentences, int64_t bos, int64_t eos) {
    check(!sentences.empty(), "[vae] a batch needs at least one sentence");
    const int64_t B = static_cast<int64_t>(sentences.size());
    int64_t T = 0;
    for (const auto& s : sentences) {
        check(!s.empty(), "[vae] empty sentence in a batch");
        T = std::max<int64_t>(T, static_cast<int64_t>(s.size()));
    }
    std::vector<int64_t> enc(B * T, eos), mask(B * T, 0), dec(B * (T + 2), eos),
        lab(B * (T + 2), -100);
    TextBatch batch;
    for (int64_t b = 0; b < B; ++b) {
        const auto& s = sentences[b];
        const int64_t n = static_cast<int64_t>(s.size());
        dec[b * (T + 2)] = bos;
        lab[b * (T + 2)] = bos;
        for (int64_t i = 0; i < n; ++i) {
            enc[b * T + i] = s[i];
            mask[b * T + i] = 1;
            dec[b * (T + 2) + 1 + i] = lab[b * (T + 2) + 1 + i] = s[i];
        }
        dec[b * (T + 2) + 1 + n] = lab[b * (T + 2) + 1 + n] = eos;
        batch.tokens += n + 1;
    }
    batch.enc_ids = from_vector<int64_t>(enc, {B, T});
    batch.enc_mask = from_vector<int64_t>(mask, {B, T});
    batch.dec_ids = from_vector<int64_t>(dec, {B, T + 2});
    batch.labels = from_vector<int64_t>(lab, {B, T + 2});
    return batch;
}

namespace {
gpt::GPT2Config encoder_config(const VaeConfig& c) {
    gpt::GPT2Config e = c.gpt;
    e.n_layer = c.encoder_depth();
    return e;
}
}  // namespace

TextVae::TextVae(const VaeConfig& config, Generator* gen) : config_(config) {
    config.validate();
    encoder = register_module("encoder", std::make_shared<TextEncoder>(encoder_config(config), gen));
    head = register_module("head", std::make_shared<GaussianHead>(config.gpt.n_embd, config.latent,
                                                                  config.gpt.dtype, gen));
    decoder = register_module(
        "decoder", std::make_shared<LatentDecoder>(config.gpt, config.latent,
                                                   config.embedding_conditioning,
                                                   config.memory_conditioning, gen));
}

Posterior TextVae::encode(const Tensor& ids, const Tensor& mask) {
    return head->forward(encoder->encode(ids, mask));
}

VaeLoss TextVae::loss(const TextBatch& batch, const Tensor& eps, double beta, double free_bits) {
    VaeLoss out;
    out.q = encode(batch.enc_ids, batch.enc_mask);
    out.z = reparameterize(out.q, eps);
    Tensor logits = decoder->logits(batch.dec_ids, out.z);  // (B, T, V)
    const int64_t B = logits.size(0), T = logits.size(1), V = logits.size(2);
    Tensor pred = reshape(slice(logits, 1, 0, T - 1), {-1, V});   // positions 0..T-2
    Tensor next = reshape(slice(batch.labels, 1, 1, T), {-1});    // tokens 1..T-1
    out.rec = cross_entropy(pred, next, -100, Reduction::sum) / static_cast<double>(B);
    out.kl = kl_loss(out.q, free_bits);
    {
        NoGradGuard ng;
        out.kl_raw = sum(kl_per_dim(out.q)).item() / static_cast<double>(B);
    }
    out.total = out.rec + out.kl * beta;
    return out;
}

Posterior TextVae::encode_all(const std::vector<std::vector<int64_t>>& sentences, int64_t batch) {
    NoGradGuard ng;
    check(!sentences.empty(), "[vae] nothing to encode");
    std::vector<Tensor> mus, logvars;
    for (std::size_t i = 0; i < sentences.size(); i += static_cast<std::size_t>(batch)) {
        std::vector<std::vector<int64_t>> part(
            sentences.begin() + static_cast<std::ptrdiff_t>(i),
            sentences.begin() + static_cast<std::ptrdiff_t>(
                                    std::min(sentences.size(), i + static_cast<std::size_t>(batch))));
        TextBatch b = make_batch(part, bos(), eos());
        Posterior q = encode(b.enc_ids, b.enc_mask);
        mus.push_back(q.mu);
        logvars.push_back(q.logvar);
    }
    return {cat(mus, 0), cat(logvars, 0)};
}

void TextVae::load_from_gpt2(const gpt::GPT2LMHeadModel& gpt2) {
    encoder->load_from_gpt2(gpt2);
    decoder->gpt->copy_from(gpt2);
}

nlohmann::json vae_config_json(const VaeConfig& c, const nlohmann::json& extra) {
    nlohmann::json j = {{"format", "gradstack-vae"},
                        {"version", 1},
                        {"latent", c.latent},
                        {"encoder_layers", c.encoder_depth()},
                        {"embedding_conditioning", c.embedding_conditioning},
                        {"memory_conditioning", c.memory_conditioning},
                        {"max_length", c.max_length}};
    if (extra.is_object())
        for (auto& [k, v] : extra.items()) j[k] = v;
    return j;
}

VaeConfig load_vae_config(const std::string& dir, nlohmann::json* raw) {
    const fs::path d(dir);
    check(fs::is_directory(d), "--vae {}: no such folder", dir);
    const fs::path p = d / "vae_config.json";
    check(fs::exists(p),
          "--vae {}: not a VAE folder (no vae_config.json); make one with gradstack vae train",
          dir);
    VaeConfig c;
    c.gpt = gpt::load_config((d / "config.json").string());
    // A regular file of at most 1 MiB, nested at most 64 deep; each key named when it is
    // missing or of the wrong type (tensor/json.h).
    const std::string source = p.string();
    const nlohmann::json j = read_json_file(source, kMiB, "a VAE config (vae_config.json)");
    check(j.is_object() && j.value("format", nlohmann::json()) == "gradstack-vae",
          "{}: \"format\" is not gradstack-vae", source);
    c.latent = json_get<int64_t>(j, "latent", source, "an integer");
    c.encoder_layers = json_get<int64_t>(j, "encoder_layers", source, "an integer");
    c.embedding_conditioning = json_get<bool>(j, "embedding_conditioning", source, "true or false");
    c.memory_conditioning = json_get<bool>(j, "memory_conditioning", source, "true or false");
    c.max_length = json_get<int64_t>(j, "max_length", source, "an integer");
    if (raw) *raw = j;
    c.validate();
    return c;
}

void save_vae(const TextVae& model, const std::string& dir,
              const std::map<std::string, std::string>& metadata, const nlohmann::json& extra) {
    const fs::path d(dir);
    fs::create_directories(d);
    const VaeConfig& c = model.config();
    write_file_atomically((d / "config.json").string(),
                          [&](OutputFile& f) { f.write(gpt::config_json(c.gpt)); });
    write_file_atomically((d / "vae_config.json").string(),
                          [&](OutputFile& f) { f.write(vae_config_json(c, extra).dump(2) + "\n"); });
    save_safetensors((d / "model.safetensors").string(), model.state_dict(), metadata);
}

std::shared_ptr<TextVae> load_vae(const std::string& dir) {
    VaeConfig c = load_vae_config(dir);
    auto model = std::make_shared<TextVae>(c);
    const std::string path = (fs::path(dir) / "model.safetensors").string();
    check(fs::exists(path), "--vae {}: model.safetensors is missing", dir);
    const SafetensorsFile file = load_safetensors(path);
    check_finite(file);
    model->load_state_dict(file.tensors(), true, path);
    model->eval();
    return model;
}

}  // namespace gradstack::vae
