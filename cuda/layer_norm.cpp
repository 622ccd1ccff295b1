// layer_norm and layer_norm_backward on CUDA tensors (kernels in kernels/layer_norm.cu): checks
// shapes, dtypes and devices, describes x's rows and the per-row and per-channel vectors, and
// registers both kernels. The math is tensor/cpu/layer_norm.cpp's.
// Read next: kernels/layer_norm.cu, cross_entropy.cpp.
#include "cuda/kernels/layer_norm.h"

#include "cuda/launch.h"
#include "tensor/kernels/nn.h"

namespace gradstack::cuda {

namespace {

// A 1-d tensor as a kernel operand: element i at data + i * step. Undefined: data nullptr.
Operand vector_operand(const Tensor& t) {
    Operand o;
    if (!t.defined()) return o;
    o.data = t.raw_data();
    o.type = scalar_type(t.dtype());
    o.step = t.strides()[0];
    return o;
}

// x's checks shared by the forward and the backward; returns C.
int64_t check_x(const Tensor& x, const char* op) {
    check(is_floating(x.dtype()), "[{}] expects a float32 or float64 tensor, got {}", op,
          x.dtype());
    check(x.dim() >= 1, "[{}] needs a tensor with at least 1 dim, got a 0-d tensor", op);
    return x.size(-1);
}

// `t` (named `name`) must be x's dtype and shape `shape` (skipped when undefined).
void check_like(const Tensor& t, const char* name, const Tensor& x, const Shape& shape,
                const char* op) {
    if (!t.defined()) return;
    check(t.dtype() == x.dtype() && t.shape() == shape,
          "[{}] {} must be {} of shape {} to match x {}, got {} {}", op, name, x.dtype(),
          shape_str(shape), shape_str(x.shape()), t.dtype(), shape_str(t.shape()));
}

void layer_norm_cuda(const Tensor& y, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                     const Tensor& weight, const Tensor& bias, double eps) {
    const int64_t C = check_x(x, "layer_norm");
    const int64_t rows = C == 0 ? 0 : x.numel() / C;
    check(y.defined() && mean.defined() && rstd.defined(),
          "[layer_norm] y, mean and rstd must be given");
    check_like(y, "y", x, x.shape(), "layer_norm");
    check_like(mean, "mean", x, Shape{rows}, "layer_norm");
    check_like(rstd, "rstd", x, Shape{rows}, "layer_norm");
    check_like(weight, "weight", x, Shape{C}, "layer_norm");
    check_like(bias, "bias", x, Shape{C}, "layer_norm");
    Launch launch("layer_norm", {x, y, mean, rstd, weight, bias});
    if (rows == 0) return;
    const Iteration it = row_iteration(x.shape(), x.dim() - 1, {y, x});
    launch_layer_norm(it.shape, C, it.operands[0], vector_operand(mean), vector_operand(rstd),
                      it.operands[1], vector_operand(weight), vector_operand(bias), eps,
                      launch.stream());
    launch.check("layer_norm_kernel");
}

void layer_norm_backward_cuda(const Tensor& gy, const Tensor& x, const Tensor& weight,
                              const Tensor& mean, const Tensor& rstd, const Tensor& gx,
                              const Tensor& gweight, const Tensor& gbias) {
    const int64_t C = check_x(x, "layer_norm_backward");
    const int64_t rows = C == 0 ? 0 : x.numel() / C;
    check(gy.defined() && mean.defined() && rstd.defined(),
          "[layer_norm_backward] gy, mean and rstd must be given");
    check_like(gy, "gy", x, x.shape(), "layer_norm_backward");
    check_like(gx, "gx", x, x.shape(), "layer_norm_backward");
    check_like(mean, "mean", x, Shape{rows}, "layer_norm_backward");
    check_like(rstd, "rstd", x, Shape{rows}, "layer_norm_backward");
    for (const Tensor* t : {&weight, &gweight, &gbias})
        check_like(*t,
                   t == &weight    ? "weight"
                   : t == &gweight ? "gweight"
                                   : "gbias",
                   x, Shape{C}, "layer_norm_backward");
    Launch launch("layer_norm_backward", {gy, x, weight, mean, rstd, gx, gweight, gbias});
    if (C == 0) return;
    const bool params = gweight.defined() || gbias.defined();
    if (!gx.defined() && !params) return;
    // gx joins the iteration when it is wanted; otherwise x stands in for it (same strides, so
    // the merge is unchanged) and its operand is blanked below.
    const Iteration it = row_iteration(x.shape(), x.dim() - 1, {gy, x, gx.defined() ? gx : x});
    Operand gx_op = it.operands[2];
    if (!gx.defined()) gx_op.data = nullptr;
    // Scratch for the dweight / dbias partial sums: [2, chunks, C] doubles.
    const Tensor partials =
        params ? empty({2, layer_norm_chunks(rows), C}, DType::f64, x.device()) : Tensor();
    launch_layer_norm_backward(
        it.shape, C, it.operands[0], it.operands[1], vector_operand(weight), vector_operand(mean),
        vector_operand(rstd), gx_op, vector_operand(gweight), vector_operand(gbias),
        params ? static_cast<double*>(partials.raw_data()) : nullptr, launch.stream());
    launch.check("layer_norm_backward kernels");
}

[[maybe_unused]] const bool layer_norm_on_cuda =
    kernels::layer_norm.set(DeviceType::cuda, &layer_norm_cuda);
[[maybe_unused]] const bool layer_norm_backward_on_cuda =
    kernels::layer_norm_backward.set(DeviceType::cuda, &layer_norm_backward_cuda);

}  // namespace

}  // namespace gradstack::cuda
