// Optimizers, schedules and clipping against PyTorch: tests/data/optim_reference.json holds what
// torch.optim (1.13) computed for the same inputs (tests/nn/reference/make_optim_reference.py).
// Float32 results must agree to rounding: |ours - torch| <= 1e-7 + 1e-6 * |torch|.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "nn/optim/clip.h"
#include "nn/optim/schedule.h"
#include "optim_reference.h"

using namespace gradstack;
using namespace gradstack::test;

namespace {

bool close(double ours, double torch, double rel = 1e-6, double abs = 1e-7) {
    return std::abs(ours - torch) <= abs + rel * std::abs(torch);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optim_parity)

BOOST_AUTO_TEST_CASE(optimizers_match_torch_step_by_step) {
    const auto& cases = optim_reference()["optimizers"];
    BOOST_TEST_REQUIRE(cases.size() == 7u);
    for (const auto& c : cases) {
        const std::string name = c["name"];
        std::vector<Tensor> params = make_params(c);
        auto opt = make_optimizer(c, params);
        double max_diff = 0;
        int bad = 0;
        for (int s = 0; s < static_cast<int>(c["expected"].size()); ++s) {
            set_grads(c, s, params);
            opt->step();
            for (size_t j = 0; j < params.size(); ++j) {
                const auto ours = to_vector<float>(params[j]);
                const auto torch = c["expected"][s][j].get<std::vector<double>>();
                BOOST_TEST_REQUIRE(ours.size() == torch.size());
                for (size_t k = 0; k < ours.size(); ++k) {
                    max_diff = std::max(max_diff, std::abs(double(ours[k]) - torch[k]));
                    if (!close(ours[k], torch[k]) && bad++ < 5)
                        BOOST_ERROR(name << " step " << s << " param " << j << " [" << k
                                         << "]: " << ours[k] << " vs torch " << torch[k]);
                }
            }
        }
        BOOST_TEST(bad == 0, name << ": " << bad << " elements differ from torch");
        BOOST_TEST_MESSAGE(name << ": max |ours - torch| over 5 steps = " << max_diff);
    }
}

BOOST_AUTO_TEST_CASE(schedules_match_hugging_face) {
    for (const auto& c : optim_reference()["schedules"]) {
        const std::string kind = c["kind"];
        const double max_lr = c["max_lr"], min_lr = c["min_lr"];
        const int64_t warmup = c["warmup"], total = c["total"];
        const nn::WarmupCosineLr cosine(max_lr, warmup, total, min_lr);
        const nn::WarmupLinearLr linear(max_lr, warmup, total, min_lr);
        const auto lrs = c["lrs"].get<std::vector<double>>();
        for (int64_t s = 0; s < static_cast<int64_t>(lrs.size()); ++s) {
            const double ours = kind == "cosine" ? cosine(s) : linear(s);
            BOOST_TEST(close(ours, lrs[s], 1e-12, 1e-18),
                       kind << " step " << s << ": " << ours << " vs " << lrs[s]);
        }
        // Past `total` the floor holds (Hugging Face's cosine would rise again).
        const double after = kind == "cosine" ? cosine(total + 7) : linear(total + 7);
        BOOST_TEST(after == min_lr);
    }
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_matches_torch) {
    for (const auto& c : optim_reference()["clip"]) {
        std::vector<Tensor> params;
        for (const auto& g : c["grads"]) {
            Tensor p = zeros(g["shape"].get<Shape>());
            p.requires_grad_(true);
            p.set_grad(tensor_from_json(g["values"], g["shape"]));
            params.push_back(p);
        }
        params.push_back(zeros({2}).requires_grad_(true));  // no gradient: skipped
        const double norm = nn::clip_grad_norm(params, c["max_norm"]);
        BOOST_TEST(close(norm, c["norm"].get<double>()), norm << " vs torch " << c["norm"]);
        for (size_t j = 0; j < c["clipped"].size(); ++j) {
            const auto ours = to_vector<float>(params[j].grad());
            const auto torch = c["clipped"][j].get<std::vector<double>>();
            for (size_t k = 0; k < ours.size(); ++k)
                BOOST_TEST(close(ours[k], torch[k]), "grad " << j << "[" << k << "]: " << ours[k]
                                                             << " vs torch " << torch[k]);
        }
        BOOST_TEST(!params.back().grad().defined());
    }
}

BOOST_AUTO_TEST_SUITE_END()
