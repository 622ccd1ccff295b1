// cross_entropy and cross_entropy_backward on CUDA tensors (kernels in kernels/cross_entropy.cu):
// checks dtypes, shapes and devices, describes the logits' rows and the per-row tensors, registers
// both kernels. A target out of range is found on the device: the kernel writes the first bad row
// into a one-element buffer, which comes back here to throw the CPU kernel's message.
// Read next: kernels/cross_entropy.cu, dropout.cpp.
#include "cuda/kernels/cross_entropy.h"

#include <climits>

#include "cuda/launch.h"
#include "tensor/kernels/nn.h"

namespace gradstack::cuda {

namespace {

// The multi-index of flat C-order position `flat` in `shape` ((1, 2) once printed).
Shape position_of(const Shape& shape, int64_t flat) {
    Shape index(shape.size());
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
        index[d] = flat % shape[d];
        flat /= shape[d];
    }
    return index;
}

// Checks shared by the forward and the backward; returns C. The per-row tensors (`per_row`:
// loss or gloss, and lse) must have target's shape, which is logits' without the class dim.
int64_t check_inputs(const char* op, const Tensor& logits, const Tensor& target, const Tensor& lse,
                     const Tensor& per_row, const char* per_row_name) {
    check(is_floating(logits.dtype()), "[{}] expects a float32 or float64 tensor, got {}", op,
          logits.dtype());
    check(logits.dim() >= 1, "[{}] logits need a class dim, got a 0-d tensor", op);
    check(target.dtype() == DType::i64, "[cross_entropy] target must be int64, got {}",
          target.dtype());
    check(lse.dtype() == DType::f64, "[cross_entropy] lse must be float64, got {}", lse.dtype());
    const Shape rows_shape(logits.shape().begin(), logits.shape().end() - 1);
    check(target.shape() == rows_shape,
          "[{}] target {} must have the shape of logits {} without the class dim: {}", op,
          shape_str(target.shape()), shape_str(logits.shape()), shape_str(rows_shape));
    check(lse.shape() == rows_shape, "[{}] lse {} must have target's shape {}", op,
          shape_str(lse.shape()), shape_str(rows_shape));
    check(per_row.dtype() == logits.dtype() && per_row.shape() == rows_shape,
          "[{}] {} must be {} of target's shape {}, got {} {}", op, per_row_name, logits.dtype(),
          shape_str(rows_shape), per_row.dtype(), shape_str(per_row.shape()));
    return logits.size(-1);
}

void cross_entropy_cuda(const Tensor& loss, const Tensor& lse, const Tensor& logits,
                        const Tensor& target, int64_t ignore_index, double label_smoothing) {
    const int64_t C = check_inputs("cross_entropy", logits, target, lse, loss, "loss");
    Launch launch("cross_entropy", {logits, target, loss, lse});
    const int64_t N = target.numel();
    if (N == 0) return;
    const Iteration rows = row_iteration(logits.shape(), logits.dim() - 1, {logits});
    const Iteration items = iteration(target.shape(), {target, loss, lse});

    // first_bad = UINT64_MAX (all bits set) until a kernel block lowers it to its row.
    const Tensor bad = empty({1}, DType::i64, logits.device());
    check_cuda(cudaMemsetAsync(bad.raw_data(), 0xff, sizeof(unsigned long long), launch.stream()),
               "cudaMemsetAsync", "[cross_entropy] target check");
    launch_cross_entropy(rows.shape, C, rows.operands[0], items.shape, items.operands[1],
                         items.operands[2], items.operands[0], ignore_index, label_smoothing,
                         static_cast<unsigned long long*>(bad.raw_data()), launch.stream());
    launch.check("cross_entropy_kernel");

    unsigned long long first_bad = 0;
    check_cuda(cudaMemcpyAsync(&first_bad, bad.raw_data(), sizeof first_bad, cudaMemcpyDeviceToHost,
                               launch.stream()),
               "cudaMemcpyAsync", "[cross_entropy] target check");
    check_cuda(cudaStreamSynchronize(launch.stream()), "cudaStreamSynchronize",
               "[cross_entropy] target check");
    if (first_bad == ULLONG_MAX) return;

    // Fetch the offending target itself, from its place in target's layout.
    const Shape index = position_of(target.shape(), static_cast<int64_t>(first_bad));
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d) offset += index[d] * target.strides()[d];
    int64_t value = 0;
    check_cuda(cudaMemcpyAsync(&value, static_cast<const int64_t*>(target.raw_data()) + offset,
                               sizeof value, cudaMemcpyDeviceToHost, launch.stream()),
               "cudaMemcpyAsync", "[cross_entropy] target check");
    check_cuda(cudaStreamSynchronize(launch.stream()), "cudaStreamSynchronize",
               "[cross_entropy] target check");
    fail(
        "[cross_entropy] target {} at position {} is out of range for {} classes "
        "(ignore_index is {})",
        value, shape_str(index), C, ignore_index);
}

void cross_entropy_backward_cuda(const Tensor& gx, const Tensor& gloss, const Tensor& logits,
                                 const Tensor& lse, const Tensor& target, int64_t ignore_index,
                                 double label_smoothing) {
    const int64_t C = check_inputs("cross_entropy_backward", logits, target, lse, gloss, "gloss");
    check(gx.dtype() == logits.dtype() && gx.shape() == logits.shape(),
          "[cross_entropy_backward] gx {} {} must match logits {} {}", gx.dtype(),
          shape_str(gx.shape()), logits.dtype(), shape_str(logits.shape()));
    Launch launch("cross_entropy_backward", {gx, gloss, logits, lse, target});
    if (gx.numel() == 0) return;
    const Iteration rows = row_iteration(logits.shape(), logits.dim() - 1, {gx, logits});
    const Iteration items = iteration(target.shape(), {target, gloss, lse});
    launch_cross_entropy_backward(rows.shape, C, rows.operands[0], rows.operands[1], items.shape,
                                  items.operands[1], items.operands[2], items.operands[0],
                                  ignore_index, label_smoothing, launch.stream());
    launch.check("cross_entropy_backward_kernel");
}

[[maybe_unused]] const bool cross_entropy_on_cuda =
    kernels::cross_entropy.set(DeviceType::cuda, &cross_entropy_cuda);
[[maybe_unused]] const bool cross_entropy_backward_on_cuda =
    kernels::cross_entropy_backward.set(DeviceType::cuda, &cross_entropy_backward_cuda);

}  // namespace

}  // namespace gradstack::cuda
