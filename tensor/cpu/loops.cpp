// Broadcast strides for the CPU elementwise engine (see loops.h).
#include "tensor/cpu/loops.h"

namespace gradstack::cpu {

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
    const size_t n = shape.size(), m = t.shape().size();
    check(m <= n, "[broadcast] shape {} cannot broadcast to {}", shape_str(t.shape()),
          shape_str(shape));
    Shape strides(n, 0);
    for (size_t i = 0; i < m; ++i) {
        size_t d = n - m + i;
        int64_t size = t.shape()[i];
        check(size == shape[d] || size == 1, "[broadcast] shape {} cannot broadcast to {}",
              shape_str(t.shape()), shape_str(shape));
        strides[d] = size == 1 ? 0 : t.strides()[i];
    }
    return strides;
}

}  // namespace gradstack::cpu
