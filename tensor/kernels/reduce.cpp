// Device-independent parts of the reductions (see reduce.h).
#include "tensor/kernels/reduce.h"

#include "tensor/kernels/copy.h"
#include "tensor/view.h"

namespace gradstack::kernels {

Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims) {
    Shape out = shape;
    for (int64_t d : dims) out[d] = 1;
    return out;
}

void check_nonempty(const Shape& shape, const std::vector<int64_t>& dims, std::string_view op) {
    for (int64_t d : dims)
        check(shape[d] != 0,
              "[{}] cannot reduce over dim {} of size 0 in shape {}: there is no element to "
              "take the {} of",
              op, d, shape_str(shape), op);
}

Tensor reduce_keepdim(const ReduceKernel& kernel, const Tensor& x,
                      const std::vector<int64_t>& dims) {
    Tensor out = empty(reduced_shape(x.shape(), dims), x.dtype(), x.device());
    kernel(out, x, dims);
    return out;
}

Tensor sum_keepdim(const Tensor& x, const std::vector<int64_t>& dims) {
    return reduce_keepdim(sum, x, dims);
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
    check(lead >= 0, "[sum_to] gradient {} has fewer dims than its input {}", shape_str(g.shape()),
          shape_str(shape));
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < g.dim(); ++d) {
        if (d < lead) {
            dims.push_back(d);
            continue;
        }
        int64_t want = shape[d - lead];
        check(want == g.shape()[d] || want == 1, "[sum_to] gradient {} does not broadcast from {}",
              shape_str(g.shape()), shape_str(shape));
        if (want == 1 && g.shape()[d] != 1) dims.push_back(d);
    }
    Tensor s = dims.empty() ? g : sum_keepdim(g, dims);
    return *views::try_view(s.is_contiguous() ? s : clone(s), shape);
}

}  // namespace gradstack::kernels
