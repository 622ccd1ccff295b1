// The schedules' formulas (written out in schedule.h) and their argument checks.
// Read next: clip.cpp.
#include "nn/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tensor/error.h"

namespace gradstack::nn {

namespace {
void check_args(const char* name, double max_lr, int64_t warmup, int64_t total, double min_lr) {
    check(std::isfinite(max_lr) && std::isfinite(min_lr) && min_lr >= 0 && min_lr <= max_lr,
          "[{}] needs 0 <= min_lr <= max_lr, got min_lr {} and max_lr {}", name, min_lr, max_lr);
    check(warmup >= 0 && warmup <= total,
          "[{}] needs 0 <= warmup <= total, got warmup {} and total {}", name, warmup, total);
}

void check_step(const char* name, int64_t step) {
    check(step >= 0, "[{}] step {} is negative; steps count from 0", name, step);
}

// Fraction of the decay phase done at `step` (>= warmup), clamped to 1 after `total`.
double progress(int64_t step, int64_t warmup, int64_t total) {
    const double p = double(step - warmup) / double(std::max<int64_t>(1, total - warmup));
    return std::min(1.0, p);
}
}  // namespace

ConstantLr::ConstantLr(double lr) : lr_(lr) {
    check(std::isfinite(lr) && lr >= 0, "[ConstantLr] lr {} must be >= 0", lr);
}

double ConstantLr::operator()(int64_t step) const {
    check_step("ConstantLr", step);
    return lr_;
}

WarmupCosineLr::WarmupCosineLr(double max_lr, int64_t warmup, int64_t total, double min_lr)
    : max_lr_(max_lr), min_lr_(min_lr), warmup_(warmup), total_(total) {
    check_args("WarmupCosineLr", max_lr, warmup, total, min_lr);
}

double WarmupCosineLr::operator()(int64_t step) const {
    check_step("WarmupCosineLr", step);
    if (step < warmup_) return max_lr_ * double(step) / double(warmup_);
    const double cosine = 0.5 * (1 + std::cos(std::numbers::pi * progress(step, warmup_, total_)));
    return min_lr_ + (max_lr_ - min_lr_) * cosine;
}

WarmupLinearLr::WarmupLinearLr(double max_lr, int64_t warmup, int64_t total, double min_lr)
    : max_lr_(max_lr), min_lr_(min_lr), warmup_(warmup), total_(total) {
    check_args("WarmupLinearLr", max_lr, warmup, total, min_lr);
}

double WarmupLinearLr::operator()(int64_t step) const {
    check_step("WarmupLinearLr", step);
    if (step < warmup_) return max_lr_ * double(step) / double(warmup_);
    return min_lr_ + (max_lr_ - min_lr_) * (1 - progress(step, warmup_, total_));
}

}  // namespace gradstack::nn
