// index_select, index_add, gather, scatter_add and cat on CUDA tensors (the kernels are in
// kernels/index.cu). Each op checks shapes and dtypes with the checks the CPU kernels share
// (tensor/kernels/index.h), range-checks its ids on the device before touching any data, so that
// a bad id throws the CPU's message and leaves `out` as it was, then launches one kernel.
// Read next: sort.cpp (topk, argsort, multinomial).
#include "cuda/kernels/index.h"

#include "cuda/kernels/copy.h"
#include "cuda/launch.h"
#include "tensor/kernels/index.h"
#include "tensor/view.h"

namespace gradstack::cuda {

namespace {

// Product of shape[begin:].
int64_t span_from(const Shape& shape, int64_t begin) {
    int64_t n = 1;
    for (size_t d = static_cast<size_t>(begin); d < shape.size(); ++d) n *= shape[d];
    return n;
}

// Throws "[op] index 7 is out of range for dim 0 of size 5", as the CPU kernels do, for the first
// id of `ids` (in C order) outside [0, size). The kernel leaves that id in a two-word device
// buffer, which is copied back once it has run: the one wait for the host in these ops.
void check_ids(const Launch& launch, const Tensor& ids, int64_t size, int64_t dim,
               std::string_view op) {
    if (ids.numel() == 0) return;
    Tensor err = empty({2}, DType::i64, ids.device());
    check_cuda(cudaMemsetAsync(err.raw_data(), 0xFF, 2 * sizeof(int64_t), launch.stream()),
               "cudaMemsetAsync", op);  // {-1, -1}: no bad id yet
    const Iteration it = iteration(ids.shape(), {ids});
    launch_find_bad_id(it.shape, it.operands[0], size, static_cast<int64_t*>(err.raw_data()),
                       launch.stream());
    launch.check("find_bad_id_kernel");
    int64_t bad[2] = {-1, -1};  // position, id
    check_cuda(
        cudaMemcpyAsync(bad, err.raw_data(), sizeof bad, cudaMemcpyDeviceToHost, launch.stream()),
        "cudaMemcpyAsync", op);
    check_cuda(cudaStreamSynchronize(launch.stream()), "cudaStreamSynchronize", op);
    if (bad[0] >= 0)
        fail("[{}] index {} is out of range for dim {} of size {}", op, bad[1], dim, size);
}

// The CPU's error for a bool tensor in the adds ("[index_add] is not defined for bool tensors").
void require_numeric(DType dtype, std::string_view op) {
    visit_numeric(dtype, op, []<class T>() {});
}

// t's elements with coordinate 0 along dim, laid over `shape` (shape[d] <= t's size for d != dim)
// with stride 0 along dim: the kernels reach the row an id names by adding id * (t's stride along
// dim), which the caller puts in the operand's `step`.
Tensor row_0_over(const Tensor& t, int64_t dim, const Shape& shape) {
    Shape strides = t.strides();
    strides[static_cast<size_t>(dim)] = 0;
    return views::as_strided(t, shape, strides, t.offset());
}

// A 1-d id list as the kernels read it: its data and its stride.
Operand id_list(const Tensor& index) {
    Operand o;
    o.data = index.raw_data();
    o.type = ScalarType::i64;
    o.step = index.strides()[0];
    return o;
}

void index_select_cuda(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
    const Shape s = kernels::index_select_shape(x, dim, index);
    check(out.shape() == s && out.dtype() == x.dtype(),
          "[index_select] output is {} {}, expected {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(s));
    Launch launch("index_select", {out, x, index});
    check_ids(launch, index, x.shape()[dim], dim, "index_select");
    if (out.numel() == 0) return;
    // Over out in C order; x is read at its row 0 plus id * stride along dim.
    Iteration it = iteration(s, {out, row_0_over(x, dim, s)});
    it.operands[1].step = x.strides()[dim];
    launch_index_select(it.shape, it.operands[0], it.operands[1], id_list(index), s[dim],
                        span_from(s, dim + 1), launch.stream());
    launch.check("index_select_kernel");
}

void index_add_cuda(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
    kernels::check_index_dtype(index, "index_add");
    check(src.dtype() == out.dtype(), "[index_add] src is {}, out is {}", src.dtype(), out.dtype());
    const Shape s = kernels::index_select_shape(out, dim, index);
    check(src.shape() == s, "[index_add] src has shape {}, expected {} for out {} and {} ids",
          shape_str(src.shape()), shape_str(s), shape_str(out.shape()), index.numel());
    Launch launch("index_add", {out, index, src});
    check_ids(launch, index, out.shape()[dim], dim, "index_add");
    require_numeric(out.dtype(), "index_add");
    if (src.numel() == 0) return;
    // Over src in C order (coalesced rows for the embedding gradient); out is written at its
    // row 0 plus id * stride along dim.
    Iteration it = iteration(s, {row_0_over(out, dim, s), src});
    it.operands[0].step = out.strides()[dim];
    launch_index_add(it.shape, it.operands[0], it.operands[1], id_list(index), s[dim],
                     span_from(s, dim + 1), launch.stream());
    launch.check("index_add_kernel");
}

void gather_cuda(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
    kernels::check_gather(x, dim, index, "gather");
    check(out.shape() == index.shape() && out.dtype() == x.dtype(),
          "[gather] output is {} {}, expected {} {}", out.dtype(), shape_str(out.shape()),
          x.dtype(), shape_str(index.shape()));
    Launch launch("gather", {out, x, index});
    check_ids(launch, index, x.shape()[dim], dim, "gather");
    if (index.numel() == 0) return;
    const Shape& s = index.shape();
    Iteration it = iteration(s, {out, row_0_over(x, dim, s), index});
    it.operands[1].step = x.strides()[dim];
    launch_gather(it.shape, it.operands[0], it.operands[1], it.operands[2], launch.stream());
    launch.check("gather_kernel");
}

void scatter_add_cuda(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
    kernels::check_scatter(out, dim, index, src, "scatter_add");
    Launch launch("scatter_add", {out, index, src});
    check_ids(launch, index, out.shape()[dim], dim, "scatter_add");
    require_numeric(out.dtype(), "scatter_add");
    if (index.numel() == 0) return;
    // Only index's positions count: src is cut down to index's shape (it may be larger).
    const Shape& s = index.shape();
    const Tensor src_part = views::as_strided(src, s, src.strides(), src.offset());
    Iteration it = iteration(s, {row_0_over(out, dim, s), src_part, index});
    it.operands[0].step = out.strides()[dim];
    launch_scatter_add(it.shape, it.operands[0], it.operands[1], it.operands[2], launch.stream());
    launch.check("scatter_add_kernel");
}

// Each input is copied into its slice of out along dim, whatever the strides of either: one copy
// launch per input (a contiguous pair merges into one dim, a plain coalesced copy).
void cat_cuda(const Tensor& out, const std::vector<Tensor>& xs, int64_t dim) {
    const Shape s = kernels::cat_shape(xs, dim);
    check(out.shape() == s && out.dtype() == xs.front().dtype(),
          "[cat] output is {} {}, expected {} {}", out.dtype(), shape_str(out.shape()),
          xs.front().dtype(), shape_str(s));
    Launch launch("cat", {out, xs.front()});
    int64_t start = 0;
    for (const Tensor& x : xs) {
        const int64_t len = x.shape()[dim];
        if (x.numel() > 0) {
            const Tensor slot = views::slice(out, dim, start, start + len);
            const Iteration it = iteration(slot.shape(), {slot, x});
            launch_copy(it.shape, it.operands[0], it.operands[1], launch.stream());
            launch.check("copy_kernel");
        }
        start += len;
    }
}

[[maybe_unused]] const bool index_select_on_cuda =
    kernels::index_select.set(DeviceType::cuda, &index_select_cuda);
[[maybe_unused]] const bool index_add_on_cuda =
    kernels::index_add.set(DeviceType::cuda, &index_add_cuda);
[[maybe_unused]] const bool gather_on_cuda = kernels::gather.set(DeviceType::cuda, &gather_cuda);
[[maybe_unused]] const bool scatter_add_on_cuda =
    kernels::scatter_add.set(DeviceType::cuda, &scatter_add_cuda);
[[maybe_unused]] const bool cat_on_cuda = kernels::cat.set(DeviceType::cuda, &cat_cuda);

}  // namespace

}  // namespace gradstack::cuda
