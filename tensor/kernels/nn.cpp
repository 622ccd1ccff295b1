// Device-independent checks of the attention kernels (see kernels/nn.h): the fast CPU kernel,
// its reference twin and any other backend run the same ones, with the same messages.
#include "tensor/kernels/nn.h"

#include "tensor/shape.h"

namespace gradstack::kernels {

AttentionShape check_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& mask, double p) {
    check(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
          "[attention] q, k, v must be 4-d (B, nh, T, hs), got {}, {}, {}", shape_str(q.shape()),
          shape_str(k.shape()), shape_str(v.shape()));
    const AttentionShape a{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), mask.defined()};
    check(k.shape() == v.shape() && k.size(0) == a.B && k.size(1) == a.H && k.size(3) == a.hs &&
              a.S >= a.T && a.hs > 0,
          "[attention] q {} needs k and v of one shape (B, nh, S, hs) with S >= T and hs > 0, "
          "got k {} and v {}",
          shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
    check(k.dtype() == q.dtype() && v.dtype() == q.dtype(),
          "[attention] q, k, v must share a dtype, got {}, {}, {}", q.dtype(), k.dtype(),
          v.dtype());
    check(p >= 0 && p < 1, "[attention] dropout p must be in [0, 1), got {}", p);
    if (a.masked) {
        const Shape full{a.B, a.H, a.T, a.S};
        check(mask.dtype() == q.dtype() && mask.dim() <= 4 &&
                  broadcast_shapes(mask.shape(), full, "attention") == full,
              "[attention] the mask must be {} and broadcast to {}, got {} {}", q.dtype(),
              shape_str(full), mask.dtype(), shape_str(mask.shape()));
    }
    return a;
}

}  // namespace gradstack::kernels
