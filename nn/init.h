// Initialisation helpers: fill a parameter in place from the seeded generator (no autograd
// history). GPT-2 initialises weights with normal(0, 0.02), biases with zeros, LayerNorm with ones.
#pragma once

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace gradstack::nn::init {

void normal_(Tensor& t, double mean, double std, Generator* gen = nullptr);
void uniform_(Tensor& t, double low, double high, Generator* gen = nullptr);
void zeros_(Tensor& t);
void ones_(Tensor& t);

}  // namespace gradstack::nn::init
