// Differentiable neural-net primitives: checks, the fused forward kernel, and the fused backward
// right below it. Saved state is what the backward kernel needs: the output for softmax, mean and
// rstd for layer norm, the per-row log-sum-exp for cross-entropy and attention, and only
// (seed, counter) for dropout masks, which are regenerated.
// Read next: tensor/kernels/nn.h, tensor/cpu/softmax.cpp, tensor/cpu/attention.cpp.
#include "autograd/ops/nn.h"

#include <algorithm>

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/reduce.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/nn.h"
#include "tensor/kernels/reduce.h"

namespace gradstack {

namespace {

// The dim a softmax runs along; a 0-d tensor is one row of one element (dim 0 or -1).
int64_t softmax_dim(const Tensor& x, int64_t dim, const char* op) {
    check(is_floating(x.dtype()), "[{}] expects a float32 or float64 tensor, got {}", op,
          x.dtype());
    return normalize_dim(dim, std::max<int64_t>(x.dim(), 1), op);
}

}  // namespace

// y = softmax(x); gx = y * (gy - sum(gy * y, dim)) (cpu/softmax.cpp derives it).
// The closure may hold y itself: record() hangs the graph off a fresh handle (autograd/README.md).
const Op op_softmax{"softmax"};
Tensor softmax(const Tensor& x, int64_t dim) {
    const int64_t d = softmax_dim(x, dim, "softmax");
    Tensor y = empty(x.shape(), x.dtype(), x.device());
    kernels::softmax(y, x, d);
    return record(op_softmax, {x}, y, [y = y.detach(), d](const Tensor& gy) {
        Tensor gx = empty(y.shape(), y.dtype(), y.device());
        kernels::softmax_backward(gx, gy, y, d);
        return grads{gx};
    });
}

// y = log_softmax(x); gx = gy - exp(y) * sum(gy, dim).
const Op op_log_softmax{"log_softmax"};
Tensor log_softmax(const Tensor& x, int64_t dim) {
    const int64_t d = softmax_dim(x, dim, "log_softmax");
    Tensor y = empty(x.shape(), x.dtype(), x.device());
    kernels::log_softmax(y, x, d);
    return record(op_log_softmax, {x}, y, [y = y.detach(), d](const Tensor& gy) {
        Tensor gx = empty(y.shape(), y.dtype(), y.device());
        kernels::log_softmax_backward(gx, gy, y, d);
        return grads{gx};
    });
}

// y = xhat * w + b with xhat = (x - mean) * rstd per row; the backward kernel returns
// dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = gy w, dw = sum gy xhat, db = sum gy.
const Op op_layer_norm{"layer_norm"};
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
    check(x.dim() >= 1, "[layer_norm] needs a tensor with at least 1 dim, got a 0-d tensor");
    check(is_floating(x.dtype()), "[layer_norm] expects a float32 or float64 tensor, got {}",
          x.dtype());
    const int64_t C = x.size(-1);
    for (const Tensor* p : {&weight, &bias}) {
        if (!p->defined()) continue;
        const char* name = p == &weight ? "weight" : "bias";
        check(p->shape() == Shape{C} && p->dtype() == x.dtype(),
              "[layer_norm] {} must be {} of shape ({}) to match x {}, got {} {}", name, x.dtype(),
              C, shape_str(x.shape()), p->dtype(), shape_str(p->shape()));
        check(p->device() == x.device(), "[layer_norm] {} is on {}, x on {}", name, p->device(),
              x.device());
    }
    const int64_t rows = C == 0 ? 0 : x.numel() / C;
    Tensor y = empty(x.shape(), x.dtype(), x.device());
    Tensor mean = empty({rows}, x.dtype(), x.device());
    Tensor rstd = empty({rows}, x.dtype(), x.device());
    kernels::layer_norm(y, mean, rstd, x, weight, bias, eps);
    const bool need_x = x.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    return record(op_layer_norm, {x, weight, bias}, y,
                  [x, weight, mean, rstd, need_x, need_w, need_b](const Tensor& gy) {
                      const Shape c{x.size(-1)};
                      Tensor gx = need_x ? empty(x.shape(), x.dtype(), x.device()) : Tensor();
                      Tensor gw = need_w ? empty(c, x.dtype(), x.device()) : Tensor();
                      Tensor gb = need_b ? empty(c, x.dtype(), x.device()) : Tensor();
                      kernels::layer_norm_backward(gy, x, weight, mean, rstd, gx, gw, gb);
                      return grads{gx, gw, gb};
                  });
}

// loss_r = (1 - ls) (lse_r - x_{r,t}) + ls (lse_r - mean_c x_{r,c}) per row (cpu/cross_entropy);
// gx_{r,c} = gy_r (softmax_{r,c} - (1 - ls) [c == t] - ls / C). The op records the per-row
// losses; sum and mean are ordinary differentiable reductions on top.
const Op op_cross_entropy{"cross_entropy"};
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                     Reduction reduction, double label_smoothing) {
    check(logits.dim() >= 1, "[cross_entropy] logits need a class dim, got a 0-d tensor");
    check(is_floating(logits.dtype()), "[cross_entropy] logits must be float32 or float64, got {}",
          logits.dtype());
    check(target.dtype() == DType::i64,
          "[cross_entropy] target must be int64 class indices, got {}", target.dtype());
    const Shape rows_shape(logits.shape().begin(), logits.shape().end() - 1);
    check(target.shape() == rows_shape,
          "[cross_entropy] target {} must have the shape of logits {} without the class dim: {}",
          shape_str(target.shape()), shape_str(logits.shape()), shape_str(rows_shape));
    check(target.device() == logits.device(), "[cross_entropy] target is on {}, logits on {}",
          target.device(), logits.device());
    check(label_smoothing >= 0 && label_smoothing <= 1,
          "[cross_entropy] label_smoothing must be in [0, 1], got {}", label_smoothing);
    Tensor loss = empty(rows_shape, logits.dtype(), logits.device());
    Tensor lse = empty(rows_shape, DType::f64, logits.device());
    kernels::cross_entropy(loss, lse, logits, target, ignore_index, label_smoothing);
    loss = record(op_cross_entropy, {logits, target}, loss,
                  [logits, target, lse, ignore_index, label_smoothing](const Tensor& gy) {
                      Tensor gx = empty(logits.shape(), logits.dtype(), logits.device());
                      kernels::cross_entropy_backward(gx, gy, logits, lse, target, ignore_index,
                                                      label_smoothing);
                      return grads{gx, Tensor()};  // no gradient for integer targets
                  });
    switch (reduction) {
        case Reduction::none:
            return loss;
        case Reduction::sum:
            return sum(loss);
        case Reduction::mean:
            break;
    }
    // PyTorch's mean: divide by the number of targets that are not ignore_index.
    Tensor ignore = scalar_tensor(static_cast<double>(ignore_index), DType::i64, target.device());
    Tensor kept = kernels::comparison_output(target, ignore, "cross_entropy");
    kernels::ne(kept, target, ignore);
    std::vector<int64_t> all(target.dim());
    for (int64_t d = 0; d < target.dim(); ++d) all[d] = d;
    const int64_t count =
        kernels::sum_keepdim(kernels::to_dtype(kept, DType::i64), all).item<int64_t>();
    return sum(loss) / static_cast<double>(count);
}

// y = x * mask(seed, counter) / (1 - p); gx = gy * the same mask, which is the same kernel with
// the same (seed, counter) applied to gy.
const Op op_dropout{"dropout"};

namespace {

Tensor dropout_with(const Tensor& x, double p, uint64_t seed, uint64_t counter) {
    Tensor y = empty(x.shape(), x.dtype(), x.device());
    kernels::dropout(y, x, p, seed, counter);
    return record(op_dropout, {x}, y, [p, seed, counter](const Tensor& gy) {
        return grads{dropout_with(gy, p, seed, counter)};
    });
}

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
    check(p >= 0 && p < 1, "[dropout] p must be in [0, 1), got {}", p);
    check(is_floating(x.dtype()), "[dropout] expects a float32 or float64 tensor, got {}",
          x.dtype());
    if (!training || p == 0) return x;
    Generator& g = gen ? *gen : default_generator();
    const uint64_t counter = g.advance(kernels::dropout_blocks(x.numel()));
    return dropout_with(x, p, g.seed(), counter);
}

// out = dropout(softmax(q k^T / sqrt(hs) + masks)) v, fused (tensor/cpu/attention.cpp). The
// backward recomputes each row's probabilities from q, k and the saved per-row log-sum-exp, and
// the dropout mask from (seed, counter), so nothing of size (B, nh, T, S) is kept.
const Op op_attention{"scaled_dot_product_attention"};
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& additive_mask, double dropout_p,
                                    Generator* gen) {
    check(q.dim() == 4, "[scaled_dot_product_attention] q must be (B, nh, T, hs), got {}",
          shape_str(q.shape()));
    check(is_floating(q.dtype()),
          "[scaled_dot_product_attention] expects float32 or float64 tensors, got {}", q.dtype());
    for (const Tensor* t : {&k, &v, &additive_mask}) {
        if (!t->defined()) continue;
        check(t->device() == q.device(), "[scaled_dot_product_attention] inputs on {} and {}",
              t->device(), q.device());
    }
    check(dropout_p >= 0 && dropout_p < 1,
          "[scaled_dot_product_attention] dropout_p must be in [0, 1), got {}", dropout_p);
    const bool drop = dropout_p > 0 && gen != nullptr;
    const double p = drop ? dropout_p : 0;
    // The mask's counters are taken from the generator only once the kernel has accepted the
    // inputs, so a call that throws leaves the generator as it was.
    const uint64_t seed = drop ? gen->seed() : 0, counter = drop ? gen->counter() : 0;
    Tensor out = empty(q.shape(), q.dtype(), q.device());
    Tensor lse = empty({q.size(0), q.size(1), q.size(2)}, q.dtype(), q.device());
    kernels::attention_forward(out, lse, q, k, v, additive_mask, p, seed, counter);
    if (drop) {
        const int64_t scores = q.size(0) * q.size(1) * q.size(2) * k.size(2);  // B nh T S
        gen->advance(kernels::dropout_blocks(scores));
    }
    const bool need_q = q.requires_grad(), need_k = k.requires_grad(), need_v = v.requires_grad();
    return record(op_attention, {q, k, v, additive_mask}, out,
                  [q, k, v, additive_mask, lse, p, seed, counter, need_q, need_k,
                   need_v](const Tensor& gy) {
                      auto grad_of = [](bool need, const Tensor& t) {
                          return need ? empty(t.shape(), t.dtype(), t.device()) : Tensor();
                      };
                      Tensor gq = grad_of(need_q, q), gk = grad_of(need_k, k),
                             gv = grad_of(need_v, v);
                      kernels::attention_backward(gy, q, k, v, additive_mask, lse, p, seed,
                                                  counter, gq, gk, gv);
                      return grads{gq, gk, gv, Tensor()};  // the mask gets no gradient
                  });
}

}  // namespace gradstack
