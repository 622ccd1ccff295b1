// CPU reductions. The input is viewed with the kept dims first and the reduced dims last, so every
// output element is the reduction of one (possibly strided) block; blocks run in parallel.
// When only leading dims are reduced (a bias gradient: sum over rows), whole rows are added
// instead, which walks memory in order.
#include <algorithm>

#include "tensor/cpu/loops.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/reduce.h"
#include "tensor/view.h"

namespace gradstack::cpu {

std::pair<Tensor, int64_t> kept_then_reduced(const Tensor& x, const std::vector<int64_t>& dims) {
    std::vector<int64_t> order;
    std::vector<bool> reduced(x.dim(), false);
    for (int64_t d : dims) reduced[d] = true;
    for (int64_t d = 0; d < x.dim(); ++d)
        if (!reduced[d]) order.push_back(d);
    int64_t kept = static_cast<int64_t>(order.size());
    for (int64_t d : dims) order.push_back(d);
    return {views::permute(x, order), kept};
}

namespace {

template <class T, class Acc>
void sum_blocks(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    auto [xp, kept] = kept_then_reduced(x, dims);
    const int64_t n_out = out.numel();
    const int64_t n_red = n_out == 0 ? 0 : x.numel() / std::max<int64_t>(n_out, 1);
    // Kept part and reduced part of the permuted view, each merged into as few dims as possible.
    Shape kshape(xp.shape().begin(), xp.shape().begin() + kept);
    Shape kstride(xp.strides().begin(), xp.strides().begin() + kept);
    Shape rshape(xp.shape().begin() + kept, xp.shape().end());
    Shape rstride(xp.strides().begin() + kept, xp.strides().end());
    LoopNest<1> red = merge_dims<1>(rshape, {rstride});
    Tensor oc = out.is_contiguous() ? out : empty(out.shape(), out.dtype());
    T* po = oc.data<T>();
    const T* px = x.data<T>();
    const Shape kc = contiguous_strides(kshape);
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelGrain && n_out > 1)
    for (int64_t o = 0; o < n_out; ++o) {
        int64_t base = 0;
        for (size_t d = 0; d < kshape.size(); ++d) base += (o / kc[d]) % kshape[d] * kstride[d];
        Acc acc = 0;
        const int64_t inner = red.shape.back(), inner_stride = red.strides[0].back();
        const int64_t rows = n_red / std::max<int64_t>(inner, 1);
        for (int64_t r = 0; r < rows; ++r) {
            int64_t off = base;
            for (int64_t d = static_cast<int64_t>(red.shape.size()) - 2, rem = r; d >= 0; --d) {
                off += rem % red.shape[d] * red.strides[0][d];
                rem /= red.shape[d];
            }
            const T* p = px + off;
            if (inner_stride == 1) {
                for (int64_t i = 0; i < inner; ++i) acc += static_cast<Acc>(p[i]);
            } else {
                for (int64_t i = 0; i < inner; ++i) acc += static_cast<Acc>(p[i * inner_stride]);
            }
        }
        po[o] = static_cast<T>(acc);
    }
    if (!oc.is_same(out)) kernels::copy(out, oc);
}

// Reducing only leading dims of a contiguous x: out[j] = sum_i x[i, j], added row by row.
template <class T, class Acc>
bool sum_leading_rows(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    if (!x.is_contiguous() || !out.is_contiguous()) return false;
    for (size_t i = 0; i < dims.size(); ++i)
        if (dims[i] != static_cast<int64_t>(i)) return false;
    const int64_t cols = out.numel();
    const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
    if (cols < 16 || rows < 2) return false;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    constexpr int64_t kTile = 1024;
#pragma omp parallel for schedule(static) if (x.numel() >= kParallelGrain)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
        int64_t c1 = std::min(cols, c0 + kTile);
        Acc acc[kTile] = {};
        for (int64_t r = 0; r < rows; ++r) {
            const T* row = px + r * cols;
            for (int64_t c = c0; c < c1; ++c) acc[c - c0] += static_cast<Acc>(row[c]);
        }
        for (int64_t c = c0; c < c1; ++c) po[c] = static_cast<T>(acc[c - c0]);
    }
    return true;
}

void sum_cpu(const Tensor& out, const Tensor& x, const std::vector<int64_t>& dims) {
    check(out.dtype() == x.dtype(), "[sum] output {} for input {}", out.dtype(), x.dtype());
    visit_dtype(x.dtype(), [&]<class T>() {
        using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
        if constexpr (std::is_same_v<T, bool>) {
            fail("[sum] is not defined for bool tensors; convert to int64 first");
        } else {
            if (!sum_leading_rows<T, Acc>(out, x, dims)) sum_blocks<T, Acc>(out, x, dims);
        }
    });
}

}  // namespace

const bool sum_on_cpu = kernels::sum.set(DeviceType::cpu, &sum_cpu);

}  // namespace gradstack::cpu
