// Initialisation helpers: fill a parameter in place from the seeded generator (no autograd
// history). GPT-2 initialises weights with normal(0, 0.02), biases with zeros, LayerNorm with ones.
#pragma once

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace gradstack::nn::init {

void normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);

// A new weight drawn from normal(0, std): randn(shape) * std, the layers' initialisation. While
// a SkipInitGuard lives on this thread it is zeros instead, with nothing drawn: for a model whose
// every parameter a checkpoint is about to overwrite (gpt::load_pretrained), where drawing GPT-2
// 124M's normals took 80% of the loading time (perf). The generator is then not advanced.
Tensor normal_weight(const Shape& shape, DType dtype, double std, Generator* gen);

class SkipInitGuard {
public:
    SkipInitGuard();
    ~SkipInitGuard();
    SkipInitGuard(const SkipInitGuard&) = delete;
    SkipInitGuard& operator=(const SkipInitGuard&) = delete;

private:
    bool previous_;
};
void uniform_(Tensor& t, double low, double high, Generator* gen = nullptr);
void zeros_(Tensor& t);
void ones_(Tensor& t);

}  // namespace gradstack::nn::init
