// Learning-rate schedules: the lr to use for a given optimizer step, as small value classes.
// Apply one before each step with `opt.set_lr(schedule(step))`. Steps count from 0: step s is the
// (s+1)-th call of Optimizer::step(), i.e. opt.step_count() just before that call.
// Read next: clip.h.
#pragma once

#include <cstdint>

namespace gradstack::nn {

// lr(step) = lr.
class ConstantLr {
public:
    explicit ConstantLr(double lr);  // throws gradstack::Error for lr < 0
    double operator()(int64_t step) const;

private:
    double lr_;
};

// Hugging Face's get_cosine_schedule_with_warmup (num_cycles 0.5) with a floor, min_lr, as in
// transformers' cosine_with_min_lr and nanoGPT:
//   step < warmup:  lr = max_lr * step / warmup                        (0 at step 0)
//   otherwise:      progress = min(1, (step - warmup) / max(1, total - warmup))
//                   lr = min_lr + (max_lr - min_lr) * 0.5 * (1 + cos(pi * progress))
// so lr reaches max_lr at step == warmup and min_lr at step == total, and stays there afterwards
// (Hugging Face does not clamp progress, so its lr would climb again past `total`).
class WarmupCosineLr {
public:
    // Throws gradstack::Error unless 0 <= min_lr <= max_lr and 0 <= warmup <= total.
    WarmupCosineLr(double max_lr, int64_t warmup, int64_t total, double min_lr = 0);
    double operator()(int64_t step) const;  // throws for step < 0

private:
    double max_lr_, min_lr_;
    int64_t warmup_, total_;
};

// Hugging Face's get_linear_schedule_with_warmup with the same floor:
//   step < warmup:  lr = max_lr * step / warmup
//   otherwise:      lr = min_lr + (max_lr - min_lr) * (1 - progress), progress as above.
class WarmupLinearLr {
public:
    // Throws gradstack::Error unless 0 <= min_lr <= max_lr and 0 <= warmup <= total.
    WarmupLinearLr(double max_lr, int64_t warmup, int64_t total, double min_lr = 0);
    double operator()(int64_t step) const;  // throws for step < 0

private:
    double max_lr_, min_lr_;
    int64_t warmup_, total_;
};

}  // namespace gradstack::nn
