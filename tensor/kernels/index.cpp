// Device-independent shape and dtype checks of the index kernels (see kernels/index.h). Index
// *values* are range-checked by each backend, which is the only place that reads them.
#include "tensor/kernels/index.h"

namespace gradstack::kernels {

void check_index_dtype(const Tensor& index, std::string_view op, std::string_view what) {
    check(index.dtype() == DType::i64, "[{}] {} must be int64, got {} of shape {}", op, what,
          index.dtype(), shape_str(index.shape()));
}

Shape index_select_shape(const Tensor& x, int64_t dim, const Tensor& index) {
    check_index_dtype(index, "index_select");
    check(index.dim() == 1, "[index_select] index must be 1-d, got shape {}",
          shape_str(index.shape()));
    check(x.dim() >= 1, "[index_select] needs a tensor with at least 1 dim, got a 0-d tensor");
    check(index.device() == x.device(), "[index_select] index is on {}, x on {}", index.device(),
          x.device());
    Shape s = x.shape();
    s[normalize_dim(dim, x.dim(), "index_select")] = index.numel();
    return s;
}

void check_gather(const Tensor& x, int64_t dim, const Tensor& index, std::string_view op) {
    check_index_dtype(index, op);
    check(x.dim() >= 1, "[{}] needs a tensor with at least 1 dim, got a 0-d tensor", op);
    check(index.dim() == x.dim(), "[{}] index {} must have as many dims as the input {}", op,
          shape_str(index.shape()), shape_str(x.shape()));
    check(index.device() == x.device(), "[{}] index is on {}, input on {}", op, index.device(),
          x.device());
    int64_t d = normalize_dim(dim, x.dim(), op);
    for (int64_t k = 0; k < x.dim(); ++k)
        check(k == d || index.shape()[k] <= x.shape()[k],
              "[{}] index {} is larger than the input {} in dim {} (only dim {} may differ)", op,
              shape_str(index.shape()), shape_str(x.shape()), k, d);
}

void check_scatter(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src,
                   std::string_view op) {
    check_gather(out, dim, index, op);
    check(src.dtype() == out.dtype(), "[{}] src is {}, input is {}", op, src.dtype(), out.dtype());
    check(src.dim() == index.dim(), "[{}] src {} must have as many dims as index {}", op,
          shape_str(src.shape()), shape_str(index.shape()));
    for (int64_t k = 0; k < src.dim(); ++k)
        check(index.shape()[k] <= src.shape()[k], "[{}] index {} is larger than src {} in dim {}",
              op, shape_str(index.shape()), shape_str(src.shape()), k);
}

Shape cat_shape(const std::vector<Tensor>& xs, int64_t dim) {
    check(!xs.empty(), "[cat] needs at least one tensor");
    const Tensor& first = xs.front();
    check(first.dim() >= 1, "[cat] tensor 0 is 0-d; zero-dimensional tensors cannot be joined");
    const int64_t d = normalize_dim(dim, first.dim(), "cat");
    Shape s = first.shape();
    s[d] = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
        const Tensor& x = xs[i];
        check(x.dtype() == first.dtype(), "[cat] tensor {} is {}, tensor 0 is {}", i, x.dtype(),
              first.dtype());
        check(x.device() == first.device(), "[cat] tensor {} is on {}, tensor 0 on {}", i,
              x.device(), first.device());
        bool same = x.dim() == first.dim();
        for (int64_t k = 0; same && k < x.dim(); ++k)
            same = k == d || x.shape()[k] == first.shape()[k];
        check(same,
              "[cat] tensor {} has shape {} but tensor 0 has shape {}: they must match "
              "except in dim {}",
              i, shape_str(x.shape()), shape_str(first.shape()), d);
        s[d] += x.shape()[d];
    }
    return s;
}

Shape check_topk(const Tensor& indices, const Tensor& x, int64_t k, int64_t dim) {
    check(x.dim() >= 1, "[topk] needs a tensor with at least 1 dim, got a 0-d tensor");
    check(k >= 0 && k <= x.size(dim), "[topk] k = {} is out of range for dim {} of size {}", k,
          dim, x.size(dim));
    Shape s = x.shape();
    s[dim] = k;
    check(indices.dtype() == DType::i64 && indices.shape() == s,
          "[topk] indices are {} {}, expected int64 {}", indices.dtype(),
          shape_str(indices.shape()), shape_str(s));
    return s;
}

void check_argsort(const Tensor& indices, const Tensor& x) {
    check(x.dim() >= 1, "[argsort] needs a tensor with at least 1 dim, got a 0-d tensor");
    check(indices.dtype() == DType::i64 && indices.shape() == x.shape(),
          "[argsort] indices are {} {}, expected int64 {}", indices.dtype(),
          shape_str(indices.shape()), shape_str(x.shape()));
}

}  // namespace gradstack::kernels
