// Differentiable indexing and joining ops. Picking elements (index_select, embedding, gather) has
// the adjoint "add them back where they came from" (index_add / scatter_add into zeros, so
// repeated ids accumulate); joining (cat) has the adjoint "cut the gradient into the same pieces".
// topk and sort return gather(x, dim, indices), so their values get gather's gradient for free.
#include "autograd/ops/index.h"

#include "autograd/node.h"
#include "autograd/ops/view.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/index.h"
#include "tensor/view.h"

namespace gradstack {

// y = x[..., index, ...] along dim; dL/dx = gy's slices added into zeros at rows index (repeated
// ids accumulate).
const Op op_index_select{"index_select"};
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
    const int64_t d = normalize_dim(dim, x.dim(), "index_select");
    Tensor y = empty(kernels::index_select_shape(x, d, index), x.dtype(), x.device());
    kernels::index_select(y, x, d, index);
    Shape in = x.shape();
    return record(op_index_select, {x, index}, y, [in, d, index](const Tensor& gy) {
        Tensor gx = zeros(in, gy.dtype(), gy.device());
        kernels::index_add(gx, d, index, gy);
        return grads{gx, Tensor()};
    });
}

// y[n, :] = weight[ids[n], :]; dL/dweight[v, :] = sum of gy[n, :] over the n with ids[n] = v.
const Op op_embedding{"embedding"};
Tensor embedding(const Tensor& weight, const Tensor& ids) {
    check(weight.dim() == 2, "[embedding] weight must be (V, C), got shape {}",
          shape_str(weight.shape()));
    kernels::check_index_dtype(ids, "embedding", "ids");
    const int64_t V = weight.shape()[0], C = weight.shape()[1], n = ids.numel();
    Tensor flat = *views::try_view(kernels::contiguous(ids), {n});  // (n,)
    Tensor y = empty({n, C}, weight.dtype(), weight.device());
    try {
        kernels::index_select(y, weight, 0, flat);
    } catch (const Error& e) {
        fail("[embedding] ids must be in [0, {}) for weight {}: {}", V, shape_str(weight.shape()),
             e.what());
    }
    Shape ys = ids.shape();
    ys.push_back(C);
    y = *views::try_view(y, ys);  // ids.shape + (C,)
    return record(op_embedding, {weight, ids}, y, [V, C, n, flat](const Tensor& gy) {
        Tensor gw = zeros({V, C}, gy.dtype(), gy.device());
        kernels::index_add(gw, 0, flat, *views::try_view(kernels::contiguous(gy), {n, C}));
        return grads{gw, Tensor()};
    });
}

// y[i][j] = x[i][index[i][j]] (dim 1); dL/dx = gy added into zeros at the same positions.
const Op op_gather{"gather"};
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
    const int64_t d = normalize_dim(dim, x.dim(), "gather");
    kernels::check_gather(x, d, index, "gather");
    Tensor y = empty(index.shape(), x.dtype(), x.device());
    kernels::gather(y, x, d, index);
    Shape in = x.shape();
    return record(op_gather, {x, index}, y, [in, d, index](const Tensor& gy) {
        Tensor gx = zeros(in, gy.dtype(), gy.device());
        kernels::scatter_add(gx, d, index, gy);
        return grads{gx, Tensor()};
    });
}

// y = x, then y[i][index[i][j]] += src[i][j] (dim 1); dL/dx = gy, dL/dsrc[i][j] =
// gy[i][index[i][j]] = gather(gy) (0 for the src entries past index's shape).
const Op op_scatter_add{"scatter_add"};
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
    const int64_t d = normalize_dim(dim, x.dim(), "scatter_add");
    kernels::check_scatter(x, d, index, src, "scatter_add");
    Tensor y = kernels::clone(x);
    kernels::scatter_add(y, d, index, src);
    const bool need_src = src.requires_grad();
    Shape src_shape = src.shape();
    return record(
        op_scatter_add, {x, index, src}, y, [d, index, need_src, src_shape](const Tensor& gy) {
            Tensor gsrc;
            if (need_src) {
                gsrc = empty(index.shape(), gy.dtype(), gy.device());
                kernels::gather(gsrc, gy, d, index);
                if (gsrc.shape() != src_shape) {  // src is larger than index: pad with zeros
                    Tensor padded = zeros(src_shape, gy.dtype(), gy.device()), part = padded;
                    for (int64_t k = 0; k < part.dim(); ++k)
                        part = views::slice(part, k, 0, index.shape()[k]);
                    kernels::copy(part, gsrc);
                    gsrc = padded;
                }
            }
            return grads{gy, Tensor(), gsrc};
        });
}

// y = [x0, x1, ...] along dim; dL/dx_i = gy's slice at x_i's place.
const Op op_cat{"cat"};
Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
    check(!xs.empty(), "[cat] needs at least one tensor");
    const int64_t d = normalize_dim(dim, xs.front().dim(), "cat");
    Tensor y = empty(kernels::cat_shape(xs, d), xs.front().dtype(), xs.front().device());
    kernels::cat(y, xs, d);
    std::vector<int64_t> sizes;
    std::vector<bool> need;
    for (const Tensor& x : xs) {
        sizes.push_back(x.shape()[d]);
        need.push_back(x.requires_grad());
    }
    return record(op_cat, xs, y, [d, sizes, need](const Tensor& gy) {
        grads g;
        for (size_t i = 0, start = 0; i < sizes.size(); start += sizes[i], ++i)
            g.push_back(need[i] ? views::slice(gy, d, start, start + sizes[i]) : Tensor());
        return g;
    });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
    check(!xs.empty(), "[stack] needs at least one tensor");
    for (size_t i = 1; i < xs.size(); ++i)
        check(xs[i].shape() == xs[0].shape(),
              "[stack] tensor {} has shape {} but tensor 0 has shape {}: all must be equal", i,
              shape_str(xs[i].shape()), shape_str(xs[0].shape()));
    const int64_t d = normalize_dim(dim, xs[0].dim() + 1, "stack");
    std::vector<Tensor> parts;
    for (const Tensor& x : xs) parts.push_back(unsqueeze(x, d));
    return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
    check(x.dim() >= 1, "[split] needs a tensor with at least 1 dim, got a 0-d tensor");
    const int64_t d = normalize_dim(dim, x.dim(), "split");
    int64_t total = 0;
    for (int64_t s : sizes) {
        check(s >= 0, "[split] sizes ({}) must be >= 0", fmt::join(sizes, ", "));
        total += s;
    }
    check(total == x.shape()[d], "[split] sizes ({}) add up to {}, but dim {} of {} has size {}",
          fmt::join(sizes, ", "), total, d, shape_str(x.shape()), x.shape()[d]);
    std::vector<Tensor> pieces;
    int64_t start = 0;
    for (int64_t s : sizes) {
        pieces.push_back(slice(x, d, start, start + s));
        start += s;
    }
    return pieces;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
    check(x.dim() >= 1, "[split] needs a tensor with at least 1 dim, got a 0-d tensor");
    const int64_t d = normalize_dim(dim, x.dim(), "split");
    const int64_t n = x.shape()[d];
    check(split_size > 0 || (split_size == 0 && n == 0),
          "[split] split_size must be positive, got {} for dim {} of size {}", split_size, d, n);
    std::vector<int64_t> sizes;
    for (int64_t start = 0; start < n; start += split_size)
        sizes.push_back(std::min(split_size, n - start));
    if (sizes.empty()) sizes.push_back(0);
    return split(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
    check(chunks > 0, "[chunk] chunks must be positive, got {}", chunks);
    check(x.dim() >= 1, "[chunk] needs a tensor with at least 1 dim, got a 0-d tensor");
    const int64_t d = normalize_dim(dim, x.dim(), "chunk");
    const int64_t n = x.shape()[d];
    if (n == 0) return split(x, std::vector<int64_t>(chunks, 0), d);
    return split(x, (n + chunks - 1) / chunks, d);
}

// y = x where j - i >= diagonal, else 0; dL/dx = gy masked the same way.
const Op op_triu{"triu"};
Tensor triu(const Tensor& x, int64_t diagonal) {
    Tensor y = empty(x.shape(), x.dtype(), x.device());
    kernels::triu(y, x, diagonal);
    return record(op_triu, {x}, y,
                  [diagonal](const Tensor& gy) { return grads{triu(gy, diagonal)}; });
}

// y = x where j - i <= diagonal, else 0; dL/dx = gy masked the same way.
const Op op_tril{"tril"};
Tensor tril(const Tensor& x, int64_t diagonal) {
    Tensor y = empty(x.shape(), x.dtype(), x.device());
    kernels::tril(y, x, diagonal);
    return record(op_tril, {x}, y,
                  [diagonal](const Tensor& gy) { return grads{tril(gy, diagonal)}; });
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
    check(x.dim() >= 1, "[topk] needs a tensor with at least 1 dim, got a 0-d tensor");
    const int64_t d = normalize_dim(dim, x.dim(), "topk");
    check(k >= 0 && k <= x.shape()[d], "[topk] k = {} is out of range for dim {} of size {} in {}",
          k, d, x.shape()[d], shape_str(x.shape()));
    Shape s = x.shape();
    s[d] = k;
    Tensor indices = empty(s, DType::i64, x.device());
    kernels::topk(indices, x, k, d, largest);  // always best first, which also serves !sorted
    (void)sorted;
    return {gather(x, d, indices), indices};
}

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending) {
    Tensor indices = argsort(x, dim, descending);
    return {gather(x, normalize_dim(dim, x.dim(), "sort"), indices), indices};
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending) {
    check(x.dim() >= 1, "[argsort] needs a tensor with at least 1 dim, got a 0-d tensor");
    const int64_t d = normalize_dim(dim, x.dim(), "argsort");
    Tensor indices = empty(x.shape(), DType::i64, x.device());
    kernels::argsort(indices, x, d, descending);
    return indices;
}

Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement, Generator* gen) {
    check(probs.dim() == 1 || probs.dim() == 2,
          "[multinomial] probs must be (C,) or (N, C), got {}", shape_str(probs.shape()));
    check(is_floating(probs.dtype()), "[multinomial] probs must be float, got {}", probs.dtype());
    const int64_t C = probs.shape().back();
    check(C > 0, "[multinomial] probs {} has no categories", shape_str(probs.shape()));
    check(num_samples > 0, "[multinomial] num_samples must be positive, got {}", num_samples);
    check(replacement || num_samples <= C,
          "[multinomial] cannot draw {} samples without replacement from {} categories",
          num_samples, C);
    Tensor p = probs.dim() == 1 ? views::unsqueeze(probs, 0) : probs;  // (N, C)
    Tensor out = empty({p.shape()[0], num_samples}, DType::i64, probs.device());
    kernels::multinomial(out, p, replacement, gen ? *gen : default_generator());
    return probs.dim() == 1 ? views::squeeze(out, 0) : out;
}

Tensor one_hot(const Tensor& ids, int64_t num_classes) {
    kernels::check_index_dtype(ids, "one_hot", "ids");
    check(num_classes >= 1, "[one_hot] num_classes must be >= 1, got {}", num_classes);
    Shape s = ids.shape();
    s.push_back(num_classes);
    Tensor out = empty(s, DType::i64, ids.device());
    kernels::one_hot(out, ids);
    return out;
}

}  // namespace gradstack
