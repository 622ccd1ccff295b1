// `gradstack vae eval`: how good the VAE and its latent diffusion are, with LD4LG's measures.
// Reconstruction: corpus BLEU of greedy decodes from mu against held-out sentences. Generation:
// -n texts from the prior z ~ N(0, I) and -n from the diffusion model, each with perplexity
// under a GPT-2 scorer (--scorer), diversity, memorisation against the VAE's training text,
// Self-BLEU, distinct-1/2 and mean ||z||. Also active units of the held-out posterior means.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/cli_common.h"
#include "apps/vae_commands.h"
#include "autograd/ops.h"
#include "gpt/checkpoint.h"
#include "gpt/score.h"
#include "tensor/error.h"
#include <optional>
#include "vae/data.h"
#include "vae/text_metrics.h"

namespace gradstack::apps {

namespace {

using nlohmann::json;

struct Scorer {
    std::shared_ptr<gpt::GPT2LMHeadModel> model;
    gpt::Tokenizer tokenizer;
};

// exp(- mean log p) over the tokens of all texts, each scored after <|endoftext|>.
double perplexity(Scorer& s, const std::vector<std::string>& texts) {
    double logp = 0;
    int64_t count = 0;
    const int64_t W = s.model->config().n_positions;
    const int64_t eot = s.tokenizer.eot_id() >= 0 ? s.tokenizer.eot_id() : 0;
    for (const std::string& t : texts) {
        std::vector<int64_t> ids{eot};
        for (int64_t id : s.tokenizer.encode(t)) ids.push_back(id);
        if (ids.size() < 2) continue;
        std::vector<double> lp = gpt::token_logprobs(*s.model, ids, W - 1);
        for (std::size_t i = 1; i < lp.size(); ++i) logp += lp[i];
        count += static_cast<int64_t>(lp.size()) - 1;
    }
    return count == 0 ? std::nan("") : std::exp(-logp / static_cast<double>(count));
}

json text_measures(const std::vector<std::string>& texts, const Tensor& z,
                   const std::vector<vae::Words>& training, Scorer* scorer) {
    std::vector<vae::Words> w;
    for (auto& t : texts) w.push_back(vae::split_words(t));
    double norms = 0;
    for (int64_t i = 0; i < z.size(0); ++i) {
        Tensor r = select(z, 0, i);
        norms += std::sqrt(sum(r * r).item());
    }
    json j = {{"perplexity", scorer ? json(perplexity(*scorer, texts)) : json(nullptr)},
              {"diversity", vae::diversity(w)},
              {"memorisation", vae::memorisation(w, training)},
              {"self_bleu", w.size() >= 2 ? json(vae::self_bleu(w)) : json(nullptr)},
              {"distinct_1", vae::distinct_n(w, 1)},
              {"distinct_2", vae::distinct_n(w, 2)},
              {"mean_z_norm", norms / static_cast<double>(z.size(0))},
              {"samples", texts}};
    return j;
}

std::string fmt_or_dash(const json& v) {
    return v.is_number() ? fmt::format("{:.4g}", v.get<double>()) : "-";
}

}  // namespace

int run_vae_eval(const VaeEvalFlags& f) {
    check(f.n >= 2, "-n must be >= 2 (Self-BLEU compares samples), got {}", f.n);
    check(f.max_sentences >= 2, "--max-sentences must be >= 2, got {}", f.max_sentences);
    check(f.ddim_steps >= 0, "--ddim-steps must be >= 0, got {}", f.ddim_steps);
    check(f.eta >= 0 && f.eta <= 1, "--eta must be in [0, 1], got {}", f.eta);
    nlohmann::json raw;
    vae::load_vae_config(f.vae, &raw);
    LoadedVae v = load_vae_dir(f.vae);
    const int64_t D = v.model->config().latent;
    std::shared_ptr<vae::LatentDiffusion> diff;
    check(f.clip_x0 >= 0, "--clip-x0 must be >= 0, got {}", f.clip_x0);
    if (!f.diffusion.empty()) diff = load_diffusion_dir(f.diffusion, D);
    if (diff) diff->schedule.x0_clip = f.clip_x0;
    std::optional<Scorer> scorer;
    if (!f.scorer.empty()) scorer = Scorer{gpt::load_pretrained(f.scorer), require_tokenizer("", f.scorer)};

    // Held-out sentences, as the VAE reads them.
    vae::SentenceSet held = vae::tokenize_records(vae::read_records({f.data}), v.tokenizer,
                                                  v.model->config().max_length, 0.0, f.seed);
    if (static_cast<int64_t>(held.train.size()) > f.max_sentences) held.train.resize(f.max_sentences);
    check(held.train.size() >= 2, "--data {}: needs >= 2 sentences that fit --max-length",
          f.data);
    vae::Posterior q = v.model->encode_all(held.train);
    vae::DecodeConfig greedy;
    greedy.max_tokens = v.model->config().max_length;
    Generator gen(f.seed);
    std::vector<std::string> recon = decode_texts(v, q.mu, greedy, &gen);
    std::vector<vae::Words> hyps;
    std::vector<std::vector<vae::Words>> refs;
    int64_t exact = 0;
    for (std::size_t i = 0; i < recon.size(); ++i) {
        const std::string ref = v.tokenizer.decode_text(held.train[i]);
        hyps.push_back(vae::split_words(recon[i]));
        refs.push_back({vae::split_words(ref)});
        exact += recon[i] == ref ? 1 : 0;
    }

    // The training text, for memorisation.
    std::vector<vae::Words> training;
    if (raw.contains("train_data"))
        for (auto& r : vae::read_records(raw.at("train_data").get<std::vector<std::string>>()))
            training.push_back(vae::split_words(r));

    Tensor z_prior = randn({f.n, D}, DType::f32, &gen);
    json out = {{"reconstruction_bleu", vae::corpus_bleu(hyps, refs)},
                {"reconstruction_exact", static_cast<double>(exact) / static_cast<double>(recon.size())},
                {"sentences", recon.size()},
                {"active_units", vae::active_units(q.mu)},
                {"latent", D},
                {"mean_z_norm", 0.0}};
    {
        double norms = 0;
        for (int64_t i = 0; i < q.mu.size(0); ++i) norms += std::sqrt(sum(select(q.mu, 0, i) * select(q.mu, 0, i)).item());
        out["mean_z_norm"] = norms / static_cast<double>(q.mu.size(0));
    }
    out["prior"] = text_measures(decode_texts(v, z_prior, greedy, &gen), z_prior, training,
                                 scorer ? &*scorer : nullptr);
    if (diff) {
        Tensor z = diff->sample(f.n, f.ddim_steps, f.eta, &gen);
        out["diffusion"] = text_measures(decode_texts(v, z, greedy, &gen), z, training,
                                         scorer ? &*scorer : nullptr);
    } else {
        out["diffusion"] = nullptr;
    }
    if (f.json) {
        const std::string s = out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
        std::fwrite(s.data(), 1, s.size(), stdout);
        return 0;
    }
    fmt::print("reconstruction: corpus BLEU {:.2f}, exact {:.1f}% of {} held-out sentences; "
               "active units {}/{}, mean |mu| {:.3f}\n\n",
               out["reconstruction_bleu"].get<double>(),
               100 * out["reconstruction_exact"].get<double>(), recon.size(),
               out["active_units"].get<int64_t>(), D, out["mean_z_norm"].get<double>());
    fmt::print("{:<14} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10} {:>8}\n", "source", "perplexity",
               "diversity", "memorisation", "self-BLEU", "distinct-1", "distinct-2", "|z|");
    for (const char* src : {"prior", "diffusion"}) {
        if (out[src].is_null()) continue;
        const json& m = out[src];
        fmt::print("{:<14} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10} {:>8}\n", src,
                   fmt_or_dash(m["perplexity"]), fmt_or_dash(m["diversity"]),
                   fmt_or_dash(m["memorisation"]), fmt_or_dash(m["self_bleu"]),
                   fmt_or_dash(m["distinct_1"]), fmt_or_dash(m["distinct_2"]),
                   fmt_or_dash(m["mean_z_norm"]));
    }
    for (const char* src : {"prior", "diffusion"}) {
        if (out[src].is_null()) continue;
        fmt::print("\n{} samples:\n", src);
        int k = 0;
        for (auto& s : out[src]["samples"])
            if (k++ < 5) fmt::print("  {}\n", s.get<std::string>());
    }
    return 0;
}

}  // namespace gradstack::apps
