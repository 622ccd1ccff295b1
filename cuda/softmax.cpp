// softmax and log_softmax, forward and backward, on CUDA tensors (the kernels are in
// kernels/softmax.cu). The checks are those of tensor/cpu/softmax.cpp; the rows along `dim` come
// from launch.h's row_iteration, so any layout runs in place, with no transposed copies.
// Read next: kernels/softmax.cu, then layer_norm.cpp (the other row kernel family).
#include "cuda/kernels/softmax.h"

#include "cuda/launch.h"
#include "tensor/kernels/nn.h"
#include "tensor/view.h"

namespace gradstack::cuda {

namespace {

void check_same(const Tensor& a, const Tensor& b, const char* op) {
    check(a.dtype() == b.dtype() && a.shape() == b.shape(), "[{}] {} {} does not match {} {}", op,
          a.dtype(), shape_str(a.shape()), b.dtype(), shape_str(b.shape()));
}

// A 0-d tensor as the one-element row (1,): autograd/ops/nn.cpp lets dim 0 name it.
Tensor as_row(const Tensor& t) {
    return t.dim() == 0 ? views::unsqueeze(t, 0) : t;
}

void check_dim(const Tensor& x, int64_t dim, const char* op) {
    check(dim >= 0 && dim < x.dim(), "[{}] dim {} is out of range for x of shape {}", op, dim,
          shape_str(x.shape()));
}

void forward(const Tensor& out_t, const Tensor& x_t, int64_t dim, bool log, const char* op) {
    check_same(out_t, x_t, op);
    check(is_floating(x_t.dtype()), "[{}] expects a float32 or float64 tensor, got {}", op,
          x_t.dtype());
    const Tensor out = as_row(out_t), x = as_row(x_t);
    check_dim(x, dim, op);
    Launch launch(op, {out, x});
    const Iteration it = row_iteration(x.shape(), dim, {out, x});
    launch_softmax(it.shape, it.operands[0], it.operands[1], x.shape()[dim], log, launch.stream());
    launch.check("softmax_kernel");
}

void backward(const Tensor& gx_t, const Tensor& gy_t, const Tensor& y_t, int64_t dim, bool log,
              const char* op) {
    check_same(gx_t, gy_t, op);
    check_same(gx_t, y_t, op);
    check(is_floating(y_t.dtype()), "[{}] expects a float32 or float64 tensor, got {}", op,
          y_t.dtype());
    const Tensor gx = as_row(gx_t), gy = as_row(gy_t), y = as_row(y_t);
    check_dim(y, dim, op);
    Launch launch(op, {gx, gy, y});
    const Iteration it = row_iteration(y.shape(), dim, {gx, gy, y});
    launch_softmax_backward(it.shape, it.operands[0], it.operands[1], it.operands[2],
                            y.shape()[dim], log, launch.stream());
    launch.check("softmax_backward_kernel");
}

void softmax_cuda(const Tensor& out, const Tensor& x, int64_t dim) {
    forward(out, x, dim, false, "softmax");
}
void log_softmax_cuda(const Tensor& out, const Tensor& x, int64_t dim) {
    forward(out, x, dim, true, "log_softmax");
}
void softmax_backward_cuda(const Tensor& gx, const Tensor& gy, const Tensor& y, int64_t dim) {
    backward(gx, gy, y, dim, false, "softmax_backward");
}
void log_softmax_backward_cuda(const Tensor& gx, const Tensor& gy, const Tensor& y, int64_t dim) {
    backward(gx, gy, y, dim, true, "log_softmax_backward");
}

[[maybe_unused]] const bool softmax_on_cuda = kernels::softmax.set(DeviceType::cuda, &softmax_cuda);
[[maybe_unused]] const bool log_softmax_on_cuda =
    kernels::log_softmax.set(DeviceType::cuda, &log_softmax_cuda);
[[maybe_unused]] const bool softmax_backward_on_cuda =
    kernels::softmax_backward.set(DeviceType::cuda, &softmax_backward_cuda);
[[maybe_unused]] const bool log_softmax_backward_on_cuda =
    kernels::log_softmax_backward.set(DeviceType::cuda, &log_softmax_backward_cuda);

}  // namespace

}  // namespace gradstack::cuda
