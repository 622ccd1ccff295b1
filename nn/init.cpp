// Initialisation helpers (see init.h): draw, then copy into the parameter under no-grad.
#include "nn/init.h"

#include "autograd/ops.h"

namespace gradstack::nn::init {

void normal_(Tensor& t, double mean, double std, Generator* gen) {
    NoGradGuard no_grad;
    Tensor v = randn(t.shape(), t.dtype(), gen);
    copy_(t, v * std + mean);
}

namespace {
thread_local bool skip_init = false;
}

SkipInitGuard::SkipInitGuard() : previous_(skip_init) { skip_init = true; }
SkipInitGuard::~SkipInitGuard() { skip_init = previous_; }

Tensor normal_weight(const Shape& shape, DType dtype, double std, Generator* gen) {
    if (skip_init) return zeros(shape, dtype);
    return randn(shape, dtype, gen) * std;
}

void uniform_(Tensor& t, double low, double high, Generator* gen) {
    NoGradGuard no_grad;
    copy_(t, uniform(t.shape(), low, high, t.dtype(), gen));
}

void zeros_(Tensor& t) {
    NoGradGuard no_grad;
    fill_(t, 0);
}

void ones_(Tensor& t) {
    NoGradGuard no_grad;
    fill_(t, 1);
}

}  // namespace gradstack::nn::init
