// fill and copy on CUDA tensors (the kernels are in kernels/copy.cu): the pattern every kernel
// family of this folder follows. The .cpp side checks devices and builds the iteration from the
// Tensors; the .cu side only sees plain structs; one line registers each kernel in the table.
#include "cuda/kernels/copy.h"

#include "cuda/launch.h"
#include "tensor/kernels/copy.h"

namespace gradstack::cuda {

namespace {

void fill_cuda(const Tensor& dst, double value) {
    Launch launch("fill_", {dst});
    const Iteration it = iteration(dst.shape(), {dst});
    launch_fill(it.shape, it.operands[0], value, launch.stream());
    launch.check("fill_kernel");
}

void copy_cuda(const Tensor& dst, const Tensor& src) {
    Launch launch("copy_", {dst, src});
    const Iteration it = iteration(dst.shape(), {dst, src});
    launch_copy(it.shape, it.operands[0], it.operands[1], launch.stream());
    launch.check("copy_kernel");
}

[[maybe_unused]] const bool fill_on_cuda = kernels::fill.set(DeviceType::cuda, &fill_cuda);
[[maybe_unused]] const bool copy_on_cuda = kernels::copy.set(DeviceType::cuda, &copy_cuda);

}  // namespace

}  // namespace gradstack::cuda
