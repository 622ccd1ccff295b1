// topk, argsort and multinomial on CUDA tensors (the kernels are in kernels/sort.cu). topk and
// argsort run on x as it lies (rows along dim, any strides) and write indices only, as the CPU's
// do. multinomial reserves the same Philox blocks from the Generator as tensor/cpu/sort.cpp and
// reads the same words from each, so one seed draws the same ids on either device.
// Read next: kernels/sort.cu.
#include "cuda/kernels/sort.h"

#include <limits>

#include "cuda/launch.h"
#include "tensor/kernels/index.h"

namespace gradstack::cuda {

namespace {

// The CPU's error for a bool tensor ("[topk] is not defined for bool tensors").
void require_numeric(DType dtype, std::string_view op) {
    visit_numeric(dtype, op, []<class T>() {});
}

// indices = the positions of the k best values of every row of x along dim (launch_topk).
void sort_rows(const Launch& launch, const Tensor& indices, const Tensor& x, int64_t k, int64_t dim,
               bool largest, std::string_view op) {
    const int64_t n = x.shape()[dim];
    check(n < std::numeric_limits<int32_t>::max(),
          "[{}] rows of {} values are too long for the CUDA sort (at most {})", op, n,
          std::numeric_limits<int32_t>::max() - 1);
    if (indices.numel() == 0) return;
    const Iteration x_rows = row_iteration(x.shape(), dim, {x});
    const Iteration out_rows = row_iteration(indices.shape(), dim, {indices});
    const Tensor scratch =
        empty({topk_scratch_words(x_rows.shape.numel, n, k)}, DType::i64, x.device());
    launch_topk(x_rows.shape, x_rows.operands[0], out_rows.shape, out_rows.operands[0], n, k,
                largest, scratch.raw_data(), launch.stream());
    launch.check("topk kernels (sort_rows / sort_tiles / merge_runs)");
}

void topk_cuda(const Tensor& indices, const Tensor& x, int64_t k, int64_t dim, bool largest) {
    kernels::check_topk(indices, x, k, dim);
    require_numeric(x.dtype(), "topk");
    Launch launch("topk", {indices, x});
    sort_rows(launch, indices, x, k, dim, largest, "topk");
}

// A stable argsort is topk with k = n: the order of (value, position) pairs is the CPU's.
void argsort_cuda(const Tensor& indices, const Tensor& x, int64_t dim, bool descending) {
    kernels::check_argsort(indices, x);
    require_numeric(x.dtype(), "argsort");
    Launch launch("argsort", {indices, x});
    sort_rows(launch, indices, x, x.shape()[dim], dim, descending, "argsort");
}

// Copies `bytes` from the device to the host, waiting for the stream.
void copy_back(const Launch& launch, void* host, const void* device, size_t bytes) {
    check_cuda(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, launch.stream()),
               "cudaMemcpyAsync", "multinomial");
    check_cuda(cudaStreamSynchronize(launch.stream()), "cudaStreamSynchronize", "multinomial");
}

// Throws the CPU's error for row r, the first row that fails a check (stats: its first pass).
[[noreturn]] void fail_row(const Launch& launch, const Tensor& probs, const Tensor& stats,
                           int64_t r, int64_t S) {
    MultinomialRow row;
    copy_back(launch, &row, static_cast<const MultinomialRow*>(stats.raw_data()) + r, sizeof row);
    if (row.bad_column >= 0) {
        // The offending value itself, converted on the host as the CPU converts it.
        const double value = visit_floating(probs.dtype(), "multinomial", [&]<class T>() {
            T v;
            const int64_t at = r * probs.strides()[0] + row.bad_column * probs.strides()[1];
            copy_back(launch, &v, static_cast<const T*>(probs.raw_data()) + at, sizeof v);
            return static_cast<double>(v);
        });
        fail(
            "[multinomial] row {} has probability {} at column {}; probabilities must be "
            "finite and non-negative",
            r, value, row.bad_column);
    }
    check(row.nonzero > 0, "[multinomial] row {} sums to 0; it needs a positive entry", r);
    fail(
        "[multinomial] cannot draw {} samples without replacement from row {}, which has only "
        "{} non-zero entries",
        S, r, row.nonzero);
}

// The CPU's two paths (tensor/cpu/sort.cpp), with its random numbers: it reserves N * per_row
// Philox blocks with gen.advance after the checks pass, and draw j of row r reads words 0 and 1
// of block base + r * per_row + j as uniform_double. With replacement (or one draw), per_row = S
// and draw s inverts the row's cumulative sum; without, per_row = C and column c's block gives
// its exponential key. The kernels read exactly those blocks and round exactly as the CPU does
// (the cumulative sums are added in column order), so the ids are the CPU's; the one exception
// is two keys of the path without replacement within a rounding of CUDA's log1p of each other.
void multinomial_cuda(const Tensor& out, const Tensor& probs, bool replacement, Generator& gen) {
    check(probs.dim() == 2, "[multinomial] kernel expects probs of shape (N, C), got {}",
          shape_str(probs.shape()));
    check(out.dtype() == DType::i64 && out.dim() == 2 && out.shape()[0] == probs.shape()[0] &&
              out.is_contiguous(),
          "[multinomial] output is {} {}, expected contiguous int64 ({}, S)", out.dtype(),
          shape_str(out.shape()), probs.shape()[0]);
    visit_floating(probs.dtype(), "multinomial", []<class T>() {});  // the CPU's dtype error
    Launch launch("multinomial", {out, probs});
    const int64_t N = probs.shape()[0], C = probs.shape()[1], S = out.shape()[1];
    if (N == 0) return;  // the CPU reserves N * per_row = 0 blocks
    const bool inverse_cdf = replacement || S == 1;
    const Device device = probs.device();

    // Pass 1: per-row checks (and the cumulative sums the inverse-cdf draws search).
    const Tensor work = empty({N, C}, DType::f64, device);  // cumulative sums, or the keys
    const Tensor stats = empty({N, 4}, DType::i64, device);
    static_assert(sizeof(MultinomialRow) == 4 * sizeof(int64_t));
    const Tensor first_bad = empty({1}, DType::i64, device);
    check_cuda(cudaMemsetAsync(first_bad.raw_data(), 0xFF, sizeof(int64_t), launch.stream()),
               "cudaMemsetAsync", "multinomial");  // -1: no bad row yet
    const Iteration rows = row_iteration(probs.shape(), 1, {probs});
    double* w = static_cast<double*>(work.raw_data());
    launch_multinomial_check(rows.shape, rows.operands[0], C, S, replacement, inverse_cdf, w,
                             static_cast<MultinomialRow*>(stats.raw_data()),
                             static_cast<int64_t*>(first_bad.raw_data()), launch.stream());
    launch.check("multinomial_check_kernel");
    int64_t bad_row = -1;
    copy_back(launch, &bad_row, first_bad.raw_data(), sizeof bad_row);
    if (bad_row >= 0) fail_row(launch, probs, stats, bad_row, S);

    // Pass 2: the draws, from the CPU's blocks.
    const int64_t per_row = inverse_cdf ? S : C;
    const uint64_t base = gen.advance(static_cast<uint64_t>(N * per_row));
    if (S == 0) return;
    int64_t* po = static_cast<int64_t*>(out.raw_data());
    if (inverse_cdf) {
        launch_multinomial_inverse_cdf(N, C, S, gen.seed(), base, w,
                                       static_cast<const MultinomialRow*>(stats.raw_data()), po,
                                       launch.stream());
        launch.check("multinomial_inverse_cdf_kernel");
        return;
    }
    launch_multinomial_keys(rows.shape, rows.operands[0], C, gen.seed(), base, w, launch.stream());
    launch.check("multinomial_keys_kernel");
    // The S smallest keys, in increasing order (ties to the lower column, as the CPU's pairs).
    sort_rows(launch, out, work, S, 1, false, "multinomial");
}

[[maybe_unused]] const bool topk_on_cuda = kernels::topk.set(DeviceType::cuda, &topk_cuda);
[[maybe_unused]] const bool argsort_on_cuda = kernels::argsort.set(DeviceType::cuda, &argsort_cuda);
[[maybe_unused]] const bool multinomial_on_cuda =
    kernels::multinomial.set(DeviceType::cuda, &multinomial_cuda);

}  // namespace

}  // namespace gradstack::cuda
