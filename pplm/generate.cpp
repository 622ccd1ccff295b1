// The PPLM loop (see generate.h). The reference is uber-research/PPLM's run_pplm.py
// (perturb_past, generate_text_pplm); where this file differs in how it computes, it computes the
// same numbers:
//   - uber reruns the whole sequence unperturbed for every token (O(T^2) per sample); here the
//     unperturbed model keeps its own key/value cache U and a running sum S of its last hidden
//     states, so each token costs one unperturbed step;
//   - uber generates samples one after another; here they are the rows of one batch, and
//     everything uber computes over "the" sample (gradient norms, sums) is computed per row.
// The quirks of the reference that change which token is chosen are kept, and named "uber:".
#include "pplm/generate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "pplm/loss.h"
#include "tensor/error.h"

namespace gradstack::pplm {

using gpt::ForwardOptions;
using gpt::ForwardOutput;
using gpt::GPT2LMHeadModel;
using gpt::KVCache;

// uber's BIG_CONST: the unperturbed run's top-k filter sets removed logits to -1e10.
constexpr double kBig = 1e10;

void PplmConfig::validate(const gpt::GPT2Config& model, int64_t prompt_length,
                          bool discrim) const {
    auto finite = [](double v) { return std::isfinite(v); };
    check(length >= 1, "--length must be >= 1, got {}", length);
    check(finite(stepsize) && stepsize >= 0, "--stepsize must be >= 0, got {}", stepsize);
    check(num_iterations >= 0 && num_iterations <= 1000,
          "--num-iterations must be in [0, 1000], got {}", num_iterations);
    check(window_length >= 0 && window_length <= model.n_positions,
          "--window-length must be in [0, n_positions = {}] (0: the whole past), got {}",
          model.n_positions, window_length);
    check(!decay || window_length > 0,
          "--decay needs --window-length > 0 (the ramp runs over the window; uber's code divides "
          "by zero there)");
    check(finite(gamma) && gamma >= 0, "--gamma must be >= 0, got {}", gamma);
    check(finite(kl_scale) && kl_scale >= 0, "--kl-scale must be >= 0, got {}", kl_scale);
    check(finite(gm_scale) && gm_scale >= 0 && gm_scale <= 1, "--gm-scale must be in [0, 1], got {}",
          gm_scale);
    check(grad_length >= 0, "--grad-length must be >= 0, got {}", grad_length);
    check(horizon_length >= 1 && horizon_length <= model.n_positions,
          "--horizon-length must be in [1, n_positions = {}], got {}", model.n_positions,
          horizon_length);
    check(finite(temperature) && temperature > 0, "--temperature must be > 0, got {}", temperature);
    check(top_k >= 0 && top_k <= model.vocab_size,
          "--top-k must be in [0, vocab_size = {}] (0: no filter), got {}", model.vocab_size, top_k);
    check(num_samples >= 1 && num_samples <= 4096, "--num-samples must be in [1, 4096], got {}",
          num_samples);
    check(prompt_length >= 1, "the prompt is empty; PPLM needs at least one token (--uncond "
          "starts from <|endoftext|>)");
    // The unperturbed model reads prompt + length - 1 tokens, and the discriminator looks
    // horizon_length expected tokens beyond them.
    const int64_t needed = prompt_length + length + (discrim ? horizon_length - 1 : 0);
    check(needed <= model.n_positions,
          "the prompt ({} tokens) plus --length {}{} needs {} positions, more than the model's "
          "n_positions = {}; shorten the prompt or --length",
          prompt_length, length,
          discrim ? fmt::format(" plus --horizon-length {} - 1", horizon_length) : "", needed,
          model.n_positions);
}

namespace {

// Freezes the model's parameters (PPLM differentiates with respect to activations only, never
// the weights) and puts it in eval mode; both restored at the end of the scope.
class FrozenModel {
public:
    explicit FrozenModel(GPT2LMHeadModel& model) : model_(model), training_(model.is_training()) {
        for (const Tensor& p : model.parameters()) flags_.push_back(p.requires_grad());
        model.requires_grad_(false);
        model.eval();
    }
    ~FrozenModel() {
        auto params = model_.parameters();
        for (size_t i = 0; i < params.size() && i < flags_.size(); ++i)
            params[i].requires_grad_(flags_[i]);
        model_.train(training_);
    }

private:
    GPT2LMHeadModel& model_;
    bool training_;
    std::vector<bool> flags_;
};

// RAII: records a graph in its scope whatever the caller's mode (PPLM may be called under a
// NoGradGuard, e.g. from an evaluation loop).
class GradScope {
public:
    GradScope() : previous_(is_grad_enabled()) { set_grad_enabled(true); }
    ~GradScope() { set_grad_enabled(previous_); }

private:
    bool previous_;
};

Tensor repeat_rows(const std::vector<int64_t>& ids, int64_t rows) {
    std::vector<int64_t> flat;
    flat.reserve(ids.size() * rows);
    for (int64_t r = 0; r < rows; ++r) flat.insert(flat.end(), ids.begin(), ids.end());
    return from_vector<int64_t>(flat, {rows, static_cast<int64_t>(ids.size())});
}

Tensor column(const std::vector<int64_t>& tokens) {
    return from_vector<int64_t>(tokens, {static_cast<int64_t>(tokens.size()), 1});
}

// The last position of (R, T, X) as a contiguous (R, X).
Tensor last_position(const Tensor& x) { return contiguous(select(x, 1, x.size(1) - 1)); }

// The unperturbed (or perturbed) logits of the tied head: h (R, C) @ wte^T -> (R, V).
Tensor lm_head(GPT2LMHeadModel& model, const Tensor& h) {
    return matmul(h, transpose(model.transformer->wte->weight, 0, 1));
}

// Per-row argmax (the first maximum, as torch.topk(k=1) returns on ties) or a sample. A row that
// is not a distribution (NaN or Inf, or nothing left) is an error: a diverged perturbation or a
// broken checkpoint must not turn into text silently.
std::vector<int64_t> choose(const Tensor& probs, bool sample, Generator* gen, int64_t token) {
    const int64_t R = probs.size(0), V = probs.size(1);
    {
        Tensor p = contiguous(probs);
        const float* d = p.data<float>();
        for (int64_t r = 0; r < R; ++r) {
            double total = 0;
            bool finite = true;
            for (int64_t v = 0; v < V; ++v) {
                finite = finite && std::isfinite(d[r * V + v]);
                total += d[r * V + v];
            }
            check(finite && total > 0,
                  "[pplm] token {} of sample {}: the next-token probabilities are {}; the "
                  "perturbation diverged (lower --stepsize or raise --gamma) or the model's "
                  "weights are not finite",
                  token, r, finite ? "all zero" : "not finite");
        }
    }
    std::vector<int64_t> out(R);
    if (sample) {
        std::vector<int64_t> drawn = to_vector<int64_t>(multinomial(probs, 1, false, gen));
        for (int64_t r = 0; r < R; ++r) out[r] = drawn[r];
        return out;
    }
    Tensor p = contiguous(probs);
    const float* d = p.data<float>();
    for (int64_t r = 0; r < R; ++r) {
        const float* row = d + r * V;
        out[r] = std::max_element(row, row + V) - row;
    }
    return out;
}

// Each row's k-th largest value, (R, 1).
Tensor kth_largest(const Tensor& x, int64_t k) {
    Tensor values = topk(x, k, -1).first;  // (R, k), descending
    return slice(values, 1, k - 1, k);
}

// uber's window mask over the P past positions, (1, 1, P, 1), or undefined for "all ones".
// uber: the ones are the FIRST window_length positions (cat(ones, zeros) along the position
// axis), not the most recent ones its help text suggests; with decay they ramp up as
// 1/w, 2/w, ..., 1 over those positions. It applies only when 0 < window_length < P.
Tensor window_mask(int64_t P, int64_t window, bool decay) {
    if (!(window > 0 && P > window)) return Tensor();
    std::vector<float> m(P, 0.0f);
    for (int64_t j = 0; j < window; ++j)
        m[j] = decay ? static_cast<float>(static_cast<double>(j + 1) / static_cast<double>(window))
                     : 1.0f;
    return from_vector<float>(m, {1, 1, P, 1});
}

// The norm n that one gradient step divides by, per row, for one layer's stacked key/value
// gradients (or the hidden state's): the step is  -stepsize * g / n^gamma,  n the norm of g over
// everything but the row (the window mask already applied to g). uber: in BoW-only mode `norm`
// keeps the running maximum of the norms across iterations and tokens (and no 1e-15 after the
// first); otherwise n = ||g|| + 1e-15.
Tensor update_norm(const std::vector<Tensor>& grads, Tensor& norm, bool running_max) {
    const int64_t R = grads[0].size(0);
    Tensor sq = zeros({R}, grads[0].dtype());
    for (const Tensor& g : grads) {
        Dims rest;
        for (int64_t d = 1; d < g.dim(); ++d) rest.push_back(d);
        sq = sq + sum(g * g, rest);
    }
    Tensor n = sqrt(sq);
    norm = running_max && norm.defined() ? maximum(norm, n) : n + kSmall;
    return norm;
}

// Scale (R,) broadcast against a tensor whose first dim is R.
Tensor per_row(const Tensor& v, int64_t dims) {
    Shape s(dims, 1);
    s[0] = v.size(0);
    return reshape(v, s);
}

}  // namespace

std::vector<PplmSample> generate_unperturbed(GPT2LMHeadModel& model,
                                             const std::vector<int64_t>& prompt, int64_t length,
                                             int64_t rows, bool sample, int64_t top_k,
                                             double temperature, Generator* gen,
                                             const TokenCallback& on_token) {
    check(!prompt.empty(), "[pplm] the prompt is empty");
    check(rows >= 1 && length >= 0, "[pplm] rows {} and length {} must be >= 1 and >= 0", rows,
          length);
    NoGradGuard no_grad;
    std::vector<PplmSample> out(rows);
    ForwardOutput step = model.forward(repeat_rows(prompt, rows));
    for (int64_t t = 0; t < length; ++t) {
        Tensor logits = last_position(step.logits) / temperature;  // (R, V)
        if (top_k > 0) {
            // uber's top_k_filter: logits below the k-th largest become -1e10.
            Tensor kth = kth_largest(logits, top_k);
            logits = where(lt(logits, kth), full_like(logits, -kBig), logits);
        }
        std::vector<int64_t> tokens = choose(softmax(logits, -1), sample, gen, t);
        for (int64_t r = 0; r < rows; ++r) out[r].new_ids.push_back(tokens[r]);
        if (on_token) on_token(t, tokens);
        if (t + 1 < length) {
            ForwardOptions o;
            o.past = step.presents;
            step = model.forward(column(tokens), o);
        }
    }
    return out;
}

std::vector<PplmSample> generate_pplm(GPT2LMHeadModel& model, const std::vector<int64_t>& prompt,
                                      const AttributeModel& attribute, const PplmConfig& config,
                                      Generator* gen, const TokenCallback& on_token) {
    const PplmConfig& c = config;
    c.validate(model.config(), static_cast<int64_t>(prompt.size()), attribute.has_discrim());
    check(attribute.has_bow() || attribute.has_discrim(),
          "[pplm] give a bag of words (--bow) or a discriminator (--discrim)");
    if (attribute.has_discrim()) {
        check_compatible(*attribute.discrim, model.config(), "(discriminator)");
        check(attribute.class_label >= 0 && attribute.class_label < attribute.discrim->meta.class_size,
              "[pplm] class label {} is not in [0, {})", attribute.class_label,
              attribute.discrim->meta.class_size);
    }
    FrozenModel frozen(model);
    const int64_t R = c.num_samples, n = static_cast<int64_t>(prompt.size());
    const int64_t C = model.config().n_embd;
    const bool bow_only = attribute.has_bow() && !attribute.has_discrim();
    const bool perturb_past = c.perturb == PerturbTarget::past;

    std::vector<PplmSample> out(R);
    // U: the unperturbed cache of every token but `last`, S: the sum of their unperturbed last
    // hidden states, P: the perturbed past carried from token to token (uber's `past`), which
    // starts as the unperturbed one.
    std::vector<KVCache> U, P;
    Tensor S = zeros({R, C});
    if (n > 1) {
        NoGradGuard no_grad;
        ForwardOptions o;
        o.output_hidden_states = true;
        ForwardOutput pre = model.forward(repeat_rows({prompt.begin(), prompt.end() - 1}, R), o);
        U = pre.presents;
        S = sum(pre.hidden_states.back(), {1});  // (R, C)
    }
    P = U;
    std::vector<int64_t> last(R, prompt.back());
    std::vector<Tensor> norms;  // per layer (or one, hidden mode): (R,), undefined until set
    const Tensor labels = from_vector<int64_t>(std::vector<int64_t>(R, attribute.class_label));

    for (int64_t i = 0; i < c.length; ++i) {
        // 1. The unperturbed step: p_unpert, the last token's hidden state, and the cache of
        //    every token (what uber's model(output_so_far) recomputes from scratch).
        ForwardOutput unpert;
        {
            NoGradGuard no_grad;
            ForwardOptions o;
            o.past = U;
            o.output_hidden_states = true;
            unpert = model.forward(column(last), o);
        }
        const Tensor unpert_logits = last_position(unpert.logits);                  // (R, V)
        const Tensor h_last = last_position(unpert.hidden_states.back());           // (R, C)
        const double stepsize = i >= c.grad_length ? 0.0 : c.stepsize;

        LossContext s;
        s.model = &model;
        s.attribute = &attribute;
        s.config = &c;
        s.hidden_sum = S;
        s.unpert_past = unpert.presents;
        s.past_length = U.empty() ? 0 : U[0].length();
        s.labels = labels;
        {
            NoGradGuard no_grad;
            s.unpert_probs_floored = floored(softmax(unpert_logits, -1));
        }
        std::vector<std::vector<double>> trace(R);
        auto record = [&](const Tensor& loss) {
            std::vector<float> v = to_vector<float>(loss);
            for (int64_t r = 0; r < R; ++r) trace[r].push_back(v[r]);
        };
        // With a zero step nothing moves: every iteration sees the loss of the unmoved
        // activations, so compute it once (uber runs the iterations; their steps are 0).
        auto constant_trace = [&](const Tensor& loss) {
            for (int64_t it = 0; it < c.num_iterations; ++it) record(loss);
        };

        Tensor pert_logits;
        std::vector<KVCache> next_P;
        if (perturb_past) {
            // 2. Perturb the past (uber's perturb_past). Nothing to perturb before the first
            //    token of a one-token prompt: uber has no past there.
            std::vector<KVCache> pert = P;
            const bool active = !P.empty() && c.num_iterations > 0;
            if (active && stepsize == 0.0) {
                NoGradGuard no_grad;
                std::vector<Tensor> zk, zv;
                for (const KVCache& kv : P) zk.push_back(zeros_like(kv.key)), zv.push_back(zeros_like(kv.value));
                constant_trace(past_perturbation_loss(s, column(last), P, zk, zv));
            } else if (active) {
                const int64_t L = static_cast<int64_t>(P.size()), Plen = P[0].length();
                const Tensor mask = window_mask(Plen, c.window_length, c.decay);
                if (norms.size() != static_cast<size_t>(L)) norms.assign(L, Tensor());
                std::vector<Tensor> acc_k(L), acc_v(L);  // the accumulated perturbation
                for (int64_t l = 0; l < L; ++l) {
                    acc_k[l] = zeros_like(P[l].key);
                    acc_v[l] = zeros_like(P[l].value);
                }
                for (int64_t it = 0; it < c.num_iterations; ++it) {
                    GradScope grad;
                    std::vector<Tensor> dk(L), dv(L);
                    for (int64_t l = 0; l < L; ++l) {
                        dk[l] = acc_k[l].detach().requires_grad_();
                        dv[l] = acc_v[l].detach().requires_grad_();
                    }
                    Tensor loss = past_perturbation_loss(s, column(last), P, dk, dv);
                    record(loss);
                    sum(loss).backward();
                    NoGradGuard no_grad;
                    for (int64_t l = 0; l < L; ++l) {
                        Tensor gk = dk[l].grad().defined() ? dk[l].grad() : zeros_like(dk[l]);
                        Tensor gv = dv[l].grad().defined() ? dv[l].grad() : zeros_like(dv[l]);
                        if (mask.defined()) gk = gk * mask, gv = gv * mask;
                        Tensor nrm = update_norm({gk, gv}, norms[l], bow_only);
                        // acc += -stepsize * g / n^gamma, one coefficient per row, in place
                        // (the full-size temporaries of the plain expression cost ~10% of a
                        // token at context 256).
                        Tensor coef = per_row(pow(nrm, -c.gamma) * (-stepsize), 4);
                        add_(acc_k[l], gk * coef);
                        add_(acc_v[l], gv * coef);
                    }
                }
                pert.clear();
                NoGradGuard no_grad;
                for (int64_t l = 0; l < L; ++l)
                    pert.emplace_back(P[l].key + acc_k[l], P[l].value + acc_v[l]);
            }
            // 3. The perturbed step; its cache (perturbation included) is carried on.
            NoGradGuard no_grad;
            ForwardOptions o;
            o.past = pert;
            ForwardOutput f = model.forward(column(last), o);
            pert_logits = last_position(f.logits);
            next_P = f.presents;
            if (active) {
                for (int64_t r = 0; r < R; ++r) out[r].loss_trace.push_back(trace[r]);
            } else {
                for (int64_t r = 0; r < R; ++r) out[r].loss_trace.emplace_back();
            }
        } else {
            // 2'. Perturb the last token's final hidden state h (after ln_f): logits = (h + d) wte^T.
            Tensor delta = zeros({R, C});
            if (c.num_iterations > 0 && stepsize == 0.0) {
                NoGradGuard no_grad;
                constant_trace(hidden_perturbation_loss(s, h_last, delta));
            } else if (c.num_iterations > 0) {
                if (norms.size() != 1) norms.assign(1, Tensor());
                for (int64_t it = 0; it < c.num_iterations; ++it) {
                    GradScope grad;
                    Tensor d = delta.detach().requires_grad_();
                    Tensor loss = hidden_perturbation_loss(s, h_last, d);
                    record(loss);
                    sum(loss).backward();
                    NoGradGuard no_grad;
                    Tensor g = d.grad().defined() ? d.grad() : zeros_like(d);
                    Tensor nrm = update_norm({g}, norms[0], bow_only);
                    delta = delta + (g / per_row(pow(nrm, c.gamma), 2)) * (-stepsize);
                }
            }
            NoGradGuard no_grad;
            pert_logits = lm_head(model, h_last + delta);
            next_P = unpert.presents;  // nothing is carried: the past is the unperturbed one
            for (int64_t r = 0; r < R; ++r)
                out[r].loss_trace.push_back(c.num_iterations > 0 ? trace[r] : std::vector<double>{});
        }

        // 4. Fuse, filter, choose (uber's generate_text_pplm with perturb=True).
        std::vector<int64_t> tokens;
        {
            NoGradGuard no_grad;
            Tensor p_pert = softmax(pert_logits / c.temperature, -1);
            Tensor p_unpert = softmax(unpert_logits, -1);
            Tensor p = pow(p_pert, c.gm_scale) * pow(p_unpert, 1.0 - c.gm_scale);  // (R, V)
            if (c.top_k > 0) {
                // uber's top_k_filter(probs=True): values below the k-th largest become 0.
                Tensor kth = kth_largest(p, c.top_k);
                p = where(lt(p, kth), zeros_like(p), p);
            }
            // uber: renormalised only when the total is <= 1 (sampling normalises anyway).
            Tensor total = sum(p, {1}, true);  // (R, 1)
            Tensor scale = where(le(total, scalar_like(total, 1.0)), total, ones_like(total));
            p = p / scale;
            tokens = choose(p, c.sample, gen, i);
        }
        for (int64_t r = 0; r < R; ++r) out[r].new_ids.push_back(tokens[r]);
        if (on_token) on_token(i, tokens);
        if (attribute.has_bow()) {
            // attribute_losses' bag term, from the distribution this token was drawn from.
            NoGradGuard no_grad;
            std::vector<float> l = to_vector<float>(bow_loss(softmax(unpert_logits, -1), attribute.bags));
            for (int64_t r = 0; r < R; ++r) out[r].attribute_loss += l[r] / static_cast<double>(c.length);
        }

        // The token becomes `last`; the old `last` joins the unperturbed cache and the sum.
        S = S + h_last;
        U = unpert.presents;
        P = next_P;
        last = tokens;
    }

    if (attribute.has_discrim()) {
        // attribute_losses' discriminator term without rerunning the text: S holds every token
        // but the newest, whose hidden state is one more unperturbed step.
        NoGradGuard no_grad;
        ForwardOptions o;
        o.past = U;
        o.output_hidden_states = true;
        o.logits = false;
        Tensor h = last_position(model.forward(column(last), o).hidden_states.back());  // (R, C)
        Tensor mean = (S + h) / static_cast<double>(n + c.length);
        std::vector<float> ce = to_vector<float>(
            cross_entropy(attribute.discrim->head->forward(mean), labels, -100, Reduction::none));
        for (int64_t r = 0; r < R; ++r) out[r].attribute_loss += ce[r];
    }
    return out;
}

namespace {

// prompt + each row's new tokens, right-padded with 0 into (R, T), and each row's length.
std::pair<Tensor, std::vector<int64_t>> pack(const std::vector<int64_t>& prompt,
                                             const std::vector<std::vector<int64_t>>& new_ids) {
    const int64_t R = static_cast<int64_t>(new_ids.size());
    std::vector<int64_t> lengths(R);
    int64_t T = 0;
    for (int64_t r = 0; r < R; ++r) {
        lengths[r] = static_cast<int64_t>(prompt.size() + new_ids[r].size());
        T = std::max(T, lengths[r]);
    }
    std::vector<int64_t> flat(R * T, 0);
    for (int64_t r = 0; r < R; ++r) {
        std::copy(prompt.begin(), prompt.end(), flat.begin() + r * T);
        std::copy(new_ids[r].begin(), new_ids[r].end(), flat.begin() + r * T + prompt.size());
    }
    return {from_vector<int64_t>(flat, {R, T}), lengths};
}

}  // namespace

std::vector<double> attribute_losses(GPT2LMHeadModel& model, const std::vector<int64_t>& prompt,
                                     const std::vector<std::vector<int64_t>>& new_ids,
                                     const AttributeModel& attribute) {
    NoGradGuard no_grad;
    const int64_t R = static_cast<int64_t>(new_ids.size());
    std::vector<double> total(R, 0.0);
    if (R == 0) return total;
    auto [ids, lengths] = pack(prompt, new_ids);
    if (attribute.has_discrim()) {
        Tensor logits = attribute.discrim->head->forward(mean_hidden(model, ids, lengths));
        Tensor labels = from_vector<int64_t>(std::vector<int64_t>(R, attribute.class_label));
        std::vector<float> ce = to_vector<float>(cross_entropy(logits, labels, -100, Reduction::none));
        for (int64_t r = 0; r < R; ++r) total[r] += ce[r];
    }
    if (attribute.has_bow()) {
        const int64_t n = static_cast<int64_t>(prompt.size());
        ForwardOptions o;
        o.use_cache = false;
        Tensor logits = model.forward(ids, o).logits;  // (R, T, V)
        for (int64_t r = 0; r < R; ++r) {
            const int64_t L = lengths[r] - n;
            if (L <= 0) continue;
            // Positions n-1 .. n+L-2 predict the new tokens 0 .. L-1.
            Tensor rows = slice(select(logits, 0, r), 0, n - 1, n - 1 + L);  // (L, V)
            std::vector<float> l = to_vector<float>(bow_loss(softmax(rows, -1), attribute.bags));
            double mean = 0;
            for (float v : l) mean += v;
            total[r] += mean / static_cast<double>(L);
        }
    }
    return total;
}

std::vector<double> class_probabilities(GPT2LMHeadModel& model, const std::vector<int64_t>& prompt,
                                        const std::vector<std::vector<int64_t>>& new_ids,
                                        const Discriminator& discrim, int64_t class_label) {
    NoGradGuard no_grad;
    const int64_t R = static_cast<int64_t>(new_ids.size());
    if (R == 0) return {};
    auto [ids, lengths] = pack(prompt, new_ids);
    Tensor p = softmax(discrim.head->forward(mean_hidden(model, ids, lengths)), -1);  // (R, K)
    std::vector<float> v = to_vector<float>(select(p, 1, class_label));
    return {v.begin(), v.end()};
}

std::vector<int64_t> predicted_classes(GPT2LMHeadModel& model, const std::vector<int64_t>& prompt,
                                       const std::vector<std::vector<int64_t>>& new_ids,
                                       const Discriminator& discrim) {
    NoGradGuard no_grad;
    if (new_ids.empty()) return {};
    auto [ids, lengths] = pack(prompt, new_ids);
    return to_vector<int64_t>(argmax(discrim.head->forward(mean_hidden(model, ids, lengths)), 1));
}

}  // namespace gradstack::pplm
