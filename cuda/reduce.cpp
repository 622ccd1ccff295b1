// Reductions on CUDA tensors (the kernels are in kernels/reduce.cu): sum, max, min, logsumexp,
// all and any over a set of dims; argmax, argmin and cumsum along one dim. The checks are those
// of tensor/cpu/reduce.cpp, so both devices fail alike. A reduction over dims is described as
// (kept dims) x (reduced dims), each side merged where the strides allow, so a contiguous x reduced
// over its trailing dims becomes one kept dim by one run of adjacent elements.
// Read next: kernels/reduce.cu, softmax.cpp.
#include "cuda/kernels/reduce.h"

#include "cuda/launch.h"
#include "tensor/kernels/reduce.h"
#include "tensor/view.h"

namespace gradstack::cuda {

namespace {

// An index space (sizes) that several operands walk (one list of strides each).
struct Space {
    std::vector<int64_t> sizes;
    std::vector<std::vector<int64_t>> strides;
};

// `in` with its size-1 dims dropped and each dim merged into the one before it where every
// operand steps across the pair as across one dim (stride[d - 1] == stride[d] * size[d]), the
// rule launch.cpp merges an iteration by.
Space merged(const Space& in) {
    Space out;
    out.strides.resize(in.strides.size());
    for (size_t d = 0; d < in.sizes.size(); ++d) {
        if (in.sizes[d] == 1) continue;
        bool joins = !out.sizes.empty();
        for (size_t k = 0; k < in.strides.size() && joins; ++k)
            joins = out.strides[k].back() == in.strides[k][d] * in.sizes[d];
        if (joins) {
            out.sizes.back() *= in.sizes[d];
            for (size_t k = 0; k < in.strides.size(); ++k) out.strides[k].back() = in.strides[k][d];
        } else {
            out.sizes.push_back(in.sizes[d]);
            for (size_t k = 0; k < in.strides.size(); ++k)
                out.strides[k].push_back(in.strides[k][d]);
        }
    }
    return out;
}

IterShape iter_shape(const Space& s, std::string_view op, const Tensor& x, std::string_view side) {
    check(static_cast<int>(s.sizes.size()) <= kMaxDims,
          "[{}] x of shape {} leaves {} {} dims after merging; at most {} are supported", op,
          shape_str(x.shape()), s.sizes.size(), side, kMaxDims);
    IterShape it;
    it.ndim = static_cast<int>(s.sizes.size());
    for (int d = 0; d < it.ndim; ++d) {
        it.sizes[d] = s.sizes[d];
        it.numel *= s.sizes[d];
    }
    return it;
}

Operand operand_over(const Tensor& t, const std::vector<int64_t>& strides) {
    Operand o;
    o.data = t.raw_data();
    o.type = scalar_type(t.dtype());
    for (size_t d = 0; d < strides.size(); ++d) o.strides[d] = strides[d];
    return o;
}

// A reduction's kernel arguments (kernels/reduce.h): the ReduceShape, and out and x with their
// strides over the kept dims.
struct Reduction {
    ReduceShape shape;
    Operand out, x;
};

// Checks that `dims` are sorted, distinct and in range, and that out has the keepdim shape, then
// splits x's dims into kept (walked by out and x) and reduced (walked by x only).
Reduction describe(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims,
                   std::string_view op) {
    for (size_t i = 0; i < dims.size(); ++i)
        check(dims[i] >= 0 && dims[i] < x.dim() && (i == 0 || dims[i - 1] < dims[i]),
              "[{}] dims {} must be sorted, distinct and in [0, {}) for x of shape {}", op,
              shape_str(dims), x.dim(), shape_str(x.shape()));
    const Shape want = kernels::reduced_shape(x.shape(), dims);
    check(out.shape() == want,
          "[{}] output of shape {} for x of shape {} over dims {}; expected {}", op,
          shape_str(out.shape()), shape_str(x.shape()), shape_str(dims), shape_str(want));
    std::vector<bool> reduced(static_cast<size_t>(x.dim()), false);
    for (int64_t d : dims) reduced[static_cast<size_t>(d)] = true;
    Space kept{{}, {{}, {}}}, red{{}, {{}}};  // kept: out's strides, then x's
    for (int64_t d = 0; d < x.dim(); ++d) {
        if (reduced[static_cast<size_t>(d)]) {
            red.sizes.push_back(x.shape()[d]);
            red.strides[0].push_back(x.strides()[d]);
        } else {
            kept.sizes.push_back(x.shape()[d]);
            kept.strides[0].push_back(out.strides()[d]);
            kept.strides[1].push_back(x.strides()[d]);
        }
    }
    kept = merged(kept);
    red = merged(red);
    Reduction r;
    r.shape.kept = iter_shape(kept, op, x, "kept");
    r.shape.reduced = iter_shape(red, op, x, "reduced");
    for (size_t d = 0; d < red.sizes.size(); ++d) r.shape.reduced_strides[d] = red.strides[0][d];
    r.out = operand_over(out, kept.strides[0]);
    r.x = operand_over(x, kept.strides[1]);
    return r;
}

using Launcher = void (*)(const ReduceShape&, const Operand&, const Operand&, cudaStream_t);

// The part every reduction over dims shares once its dtypes are checked.
void run(Launcher launcher, const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims,
         std::string_view op, std::string_view kernel) {
    Launch launch(op, {out, x});
    const Reduction r = describe(out, x, dims, op);
    launcher(r.shape, r.out, r.x, launch.stream());
    launch.check(kernel);
}

void sum_cuda(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    check(out.dtype() == x.dtype(), "[sum] output {} for input {}", out.dtype(), x.dtype());
    check(x.dtype() != DType::b8, "[sum] is not defined for bool tensors; convert to int64 first");
    run(&launch_sum, out, x, dims, "sum", "reduce_kernel");
}

void extreme_cuda(Launcher launcher, const Tensor& out, const Tensor& x,
                  const std::vector<int64_t>& dims, std::string_view op) {
    check(out.dtype() == x.dtype(), "[{}] output {} for input {}", op, out.dtype(), x.dtype());
    kernels::check_nonempty(x.shape(), dims, op);
    check(x.dtype() != DType::b8, "[{}] is not defined for {} tensors", op, x.dtype());
    run(launcher, out, x, dims, op, "reduce_kernel");
}
void amax_cuda(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    extreme_cuda(&launch_amax, out, x, dims, "max");
}
void amin_cuda(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    extreme_cuda(&launch_amin, out, x, dims, "min");
}

void logsumexp_cuda(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    check(out.dtype() == x.dtype(), "[logsumexp] output {} for input {}", out.dtype(), x.dtype());
    check(is_floating(x.dtype()), "[logsumexp] expects a float32 or float64 tensor, got {}",
          x.dtype());
    run(&launch_logsumexp, out, x, dims, "logsumexp", "logsumexp_kernel");
}

void bool_reduce_cuda(Launcher launcher, const Tensor& out, const Tensor& x,
                      const std::vector<int64_t>& dims, std::string_view op) {
    check(x.dtype() == DType::b8 && out.dtype() == DType::b8,
          "[{}] expects a bool tensor, got {}; compare first (x != 0)", op, x.dtype());
    run(launcher, out, x, dims, op, "reduce_kernel");
}
void all_cuda(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    bool_reduce_cuda(&launch_all, out, x, dims, "all");
}
void any_cuda(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    bool_reduce_cuda(&launch_any, out, x, dims, "any");
}

// ---- along one dim

// A 0-d tensor as the one-element row (1,), so that dim 0 exists.
Tensor as_row(const Tensor& t) {
    return t.dim() == 0 ? views::unsqueeze(t, 0) : t;
}

void check_dim(const Tensor& x, int64_t dim, std::string_view op) {
    check(dim >= 0 && dim < x.dim(), "[{}] dim {} is out of range for x of shape {}", op, dim,
          shape_str(x.shape()));
}

// argmax / argmin: the rows along dim are the kept side, the dim itself the one reduced dim, so
// the reduced index the kernel folds is the position along dim.
void arg_extreme_cuda(Launcher launcher, const Tensor& out_t, const Tensor& x_t, int64_t dim,
                      std::string_view op) {
    check(out_t.dtype() == DType::i64, "[{}] output must be int64, got {}", op, out_t.dtype());
    const Tensor x = as_row(x_t), out = as_row(out_t);
    check_dim(x, dim, op);
    kernels::check_nonempty(x.shape(), {dim}, op);
    check(x.dtype() != DType::b8, "[{}] is not defined for {} tensors", op, x.dtype());
    const Shape want = kernels::reduced_shape(x.shape(), {dim});
    check(out.shape() == want,
          "[{}] output of shape {} for x of shape {} along dim {}; expected {}", op,
          shape_str(out_t.shape()), shape_str(x_t.shape()), dim, shape_str(want));
    Launch launch(op, {out, x});
    const Iteration it = row_iteration(x.shape(), dim, {out, x});  // out: stride 0 along dim
    ReduceShape s;
    s.kept = it.shape;
    s.reduced.ndim = 1;
    s.reduced.sizes[0] = x.shape()[dim];
    s.reduced.numel = x.shape()[dim];
    s.reduced_strides[0] = it.operands[1].step;
    launcher(s, it.operands[0], it.operands[1], launch.stream());
    launch.check("reduce_kernel");
}
void argmax_cuda(const Tensor& out, const Tensor& x, int64_t dim) {
    arg_extreme_cuda(&launch_argmax, out, x, dim, "argmax");
}
void argmin_cuda(const Tensor& out, const Tensor& x, int64_t dim) {
    arg_extreme_cuda(&launch_argmin, out, x, dim, "argmin");
}

void cumsum_cuda(const Tensor& out_t, const Tensor& x_t, int64_t dim, bool reverse) {
    const DType want = x_t.dtype() == DType::b8 ? DType::i64 : x_t.dtype();
    check(out_t.dtype() == want, "[cumsum] output {} for input {}; expected {}", out_t.dtype(),
          x_t.dtype(), want);
    check(out_t.shape() == x_t.shape(), "[cumsum] output {} for input {}", shape_str(out_t.shape()),
          shape_str(x_t.shape()));
    const Tensor x = as_row(x_t), out = as_row(out_t);
    check_dim(x, dim, "cumsum");
    Launch launch("cumsum", {out, x});
    const Iteration it = row_iteration(x.shape(), dim, {out, x});
    launch_cumsum(it.shape, it.operands[0], it.operands[1], x.shape()[dim], reverse,
                  launch.stream());
    launch.check("cumsum_kernel");
}

[[maybe_unused]] const bool sum_on_cuda = kernels::sum.set(DeviceType::cuda, &sum_cuda);
[[maybe_unused]] const bool amax_on_cuda = kernels::amax.set(DeviceType::cuda, &amax_cuda);
[[maybe_unused]] const bool amin_on_cuda = kernels::amin.set(DeviceType::cuda, &amin_cuda);
[[maybe_unused]] const bool logsumexp_on_cuda =
    kernels::logsumexp.set(DeviceType::cuda, &logsumexp_cuda);
[[maybe_unused]] const bool all_on_cuda = kernels::all.set(DeviceType::cuda, &all_cuda);
[[maybe_unused]] const bool any_on_cuda = kernels::any.set(DeviceType::cuda, &any_cuda);
[[maybe_unused]] const bool argmax_on_cuda = kernels::argmax.set(DeviceType::cuda, &argmax_cuda);
[[maybe_unused]] const bool argmin_on_cuda = kernels::argmin.set(DeviceType::cuda, &argmin_cuda);
[[maybe_unused]] const bool cumsum_on_cuda = kernels::cumsum.set(DeviceType::cuda, &cumsum_cuda);

}  // namespace

}  // namespace gradstack::cuda
