// The differentiable API in one include: everything a model is written with.
#pragma once

#include "autograd/grad_mode.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/linalg.h"
#include "autograd/ops/nn.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/view.h"
#include "tensor/print.h"
#include "tensor/random.h"
#include "tensor/tensor.h"
