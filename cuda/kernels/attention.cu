// Fused causal attention on the GPU, the formulas of tensor/kernels/nn.h with the numerics of
// tensor/cpu/attention.cpp. Keys (or queries) stream through shared memory 32 at a time, one per
// lane of a warp; the (B, nh, T, S) scores never exist. Forward: flash attention, a warp per
// query row with a running max and sum. Backward, deterministic (no atomics): a warp per query
// row finds the row's max, D = sum_j P_ij dP_ij and dq; then a warp per key row sums dk and dv
// over the query rows that read it. Read next: ../attention.cpp (the checks and registration).
#include <limits>

#include "cuda/kernels/attention.h"
#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/philox.cuh"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

// A tile holds one key (forward, dq) or one query row (dk, dv) per lane.
constexpr int kLanes = 32;
// Warps per block: each owns one row (a query row, or a key row for dk and dv), and the block
// shares the tiles it streams. Fewer when the shared memory of 8 does not fit the device.
constexpr int kMaxWarps = 8;
constexpr int kMaxThreads = kMaxWarps * kLanes;

// --- small device helpers

template <class T>
__device__ inline T* shared_buffer() {
    extern __shared__ __align__(16) unsigned char shared_bytes[];
    return reinterpret_cast<T*>(shared_bytes);
}

__host__ __device__ inline int64_t min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}
__host__ __device__ inline int64_t max64(int64_t a, int64_t b) {
    return a > b ? a : b;
}

template <class T>
__device__ inline T infinity_of() {
    return std::numeric_limits<T>::infinity();
}

__device__ inline float exp_of(float x) {
    return expf(x);
}
__device__ inline double exp_of(double x) {
    return exp(x);
}

// The max over the warp, NaN skipped (the CPU's row_max: NaN reaches the row through the sum of
// exps instead). Callers pass -inf for a lane with no score or a NaN one.
template <class T>
__device__ inline T warp_max_number(T v) {
    for (int o = 16; o > 0; o >>= 1) {
        const T w = __shfl_xor_sync(0xffffffffu, v, o);
        v = w > v ? w : v;
    }
    return v;
}

// Row (b, h, i) of a 4-d operand; element d of it is at [d * x.strides[3]].
template <class T>
__device__ inline const T* row_of(const Operand& x, int64_t b, int64_t h, int64_t i) {
    return static_cast<const T*>(x.data) + b * x.strides[0] + h * x.strides[1] + i * x.strides[2];
}

// dst[r * ld + d] = x[b, h, first + r, d] for r < rows, d < hs, by the whole block: consecutive
// threads read consecutive d, coalesced when x's rows are contiguous.
template <class T>
__device__ inline void load_tile(T* dst, int ld, const Operand& x, int64_t b, int64_t h,
                                 int64_t first, int rows, int hs) {
    const T* base = row_of<T>(x, b, h, first);
    const int64_t step = x.strides[2], dstep = x.strides[3];
    for (int e = static_cast<int>(threadIdx.x); e < rows * hs; e += static_cast<int>(blockDim.x)) {
        const int r = e / hs, d = e % hs;
        dst[r * ld + d] = base[r * step + d * dstep];
    }
}

// dst[d] = x[b, h, i, d], by one warp.
template <class T>
__device__ inline void load_row(T* dst, const Operand& x, int64_t b, int64_t h, int64_t i, int hs,
                                int lane) {
    const T* src = row_of<T>(x, b, h, i);
    for (int d = lane; d < hs; d += kLanes) dst[d] = src[d * x.strides[3]];
}

// a . x over hs dims, summed in T in order d = 0, 1, ... as the CPU's tiles do.
template <class T>
__device__ inline T dot(const T* a, const T* x, int hs) {
    T s = 0;
    for (int d = 0; d < hs; ++d) s += a[d] * x[d];
    return s;
}

// Query row i sits at position S - T + i and sees keys j < visible_of(i).
__device__ inline int64_t visible_of(const AttentionProblem& pr, int64_t i) {
    return pr.S - pr.T + i + 1;
}
// The keys row i reads (cpu/attention.cpp's Problem::columns): every key with a mask (lowest +
// mask can still matter), else only the visible ones (the others' exp(lowest - max) is 0).
__device__ inline int64_t columns_of(const AttentionProblem& pr, int64_t i) {
    return pr.masked ? pr.S : visible_of(pr, i);
}

// s_ij for a key j < columns_of(i), from q_i and k_j:
//   visible: q_i . k_j / sqrt(hs) (+ mask_ij)
//   else:    lowest + mask_ij   (Hugging Face's where(causal, score, lowest) + mask; lowest +
//                                lowest is -inf, so a key both in the future and padded drops out)
template <class T>
__device__ inline T score_of(const AttentionProblem& pr, const T* qi, const T* kj, int64_t b,
                             int64_t h, int64_t i, int64_t j) {
    const int hs = static_cast<int>(pr.hs);
    const T root = static_cast<T>(pr.root);
    if (!pr.masked) return dot(qi, kj, hs) / root;
    const T mask = row_of<T>(pr.mask, b, h, i)[j * pr.mask.strides[3]];
    return j < visible_of(pr, i) ? dot(qi, kj, hs) / root + mask : lowest_of<T>() + mask;
}

// keep_ij / (1 - p): dropout's mask for element row * S + j of the (B, nh, T, S) probabilities
// (row = (b nh + h) T + i), word e % 4 of Philox block counter + e / 4.
template <class T>
__device__ inline T keep_factor(const AttentionProblem& pr, int64_t row, int64_t j) {
    const uint64_t e =
        static_cast<uint64_t>(row) * static_cast<uint64_t>(pr.S) + static_cast<uint64_t>(j);
    return philox_keep(philox_word(pr.seed, pr.counter, e), pr.threshold)
               ? static_cast<T>(pr.keep_scale)
               : T(0);
}

// What the backward recomputes for one (query i, key j), given the row's max m and
// inv = exp(-lse_i) (the CPU's order: P = exp(s - m), then times inv, so both passes agree):
//   P  = exp(s_ij - m_i - lse_i)     f = keep_ij / (1 - p)
//   dP = f (gout_i . v_j)            (the gradient of P' = P f, from out_i = sum_j P'_ij v_j)
template <class T>
struct Recomputed {
    T P, f, dP;
    bool visible;
};

template <class T>
__device__ inline Recomputed<T> recompute(const AttentionProblem& pr, const T* qi, const T* gi,
                                          const T* kj, const T* vj, int64_t b, int64_t h, int64_t i,
                                          int64_t j, T m, T inv) {
    const int64_t row = (b * pr.H + h) * pr.T + i;
    Recomputed<T> r;
    r.P = exp_of(score_of(pr, qi, kj, b, h, i, j) - m) * inv;
    r.f = pr.dropout ? keep_factor<T>(pr, row, j) : T(1);
    const T dp = dot(gi, vj, static_cast<int>(pr.hs));
    r.dP = pr.dropout ? dp * r.f : dp;
    r.visible = j < visible_of(pr, i);
    return r;
}

// --- forward

// Shared memory of the forward and the backward's row pass, in elements: the key and value tiles
// (32 rows of hs + 1: the padding puts lane l's row l in its own bank), then per warp its query
// row (and output-gradient row), and 32 weights.
__host__ __device__ inline int64_t tile_elements(int64_t hs) {
    return 2 * kLanes * (hs + 1);
}
__host__ __device__ inline int64_t forward_elements(int64_t hs, int warps) {
    return tile_elements(hs) + warps * (hs + kLanes);
}
__host__ __device__ inline int64_t rows_elements(int64_t hs, int warps) {
    return tile_elements(hs) + warps * (2 * hs + kLanes);
}
// The key pass: the query and output-gradient tiles, the 32 rows' m, exp(-lse) and D, then per
// warp its key and value rows and two sets of 32 weights (dS and P').
__host__ __device__ inline int64_t keys_elements(int64_t hs, int warps) {
    return tile_elements(hs) + 3 * kLanes + warps * (2 * hs + 2 * kLanes);
}

// One block per (b, h, tile of `warps` query rows), a warp per row; lane l scores key j0 + l of
// each tile. Online softmax: with m the running max, l the running sum of exp(s - m) and acc
// the running sum of exp(s - m) f v, a tile with scores s_j moves the max to m' and
//   alpha = exp(m - m'),  l = alpha l + sum_j exp(s_j - m'),  acc = alpha acc + sum_j e_j f_j v_j
// At the end lse = log l and out = acc exp(-lse): the CPU's P_j = exp(s_j - max) exp(-lse),
// dropped out and weighted, up to rounding. Lane l accumulates output dims l, l + 32, ...
template <class T, int DPL>
__global__ void __launch_bounds__(kMaxThreads)
    attention_forward_kernel(AttentionProblem pr, T* out, T* lse) {
    const int hs = static_cast<int>(pr.hs), ld = hs + 1;
    const int warps = blockDim.x / kLanes, warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
    T* ks = shared_buffer<T>();                             // (32, ld): the tile's keys
    T* vs = ks + kLanes * ld;                               // (32, ld): its values
    T* qs = vs + kLanes * ld + warp * hs;                   // this warp's query row
    T* ws = vs + kLanes * ld + warps * hs + warp * kLanes;  // its 32 weights exp(s - m') f
    const T inf = infinity_of<T>();
    const int64_t tiles = (pr.T + warps - 1) / warps, items = pr.B * pr.H * tiles;
    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        // The last tiles of rows read the most keys: they go first.
        const int64_t bh = item / tiles, i0 = (tiles - 1 - item % tiles) * warps;
        const int64_t b = bh / pr.H, h = bh % pr.H, i = i0 + warp, row = bh * pr.T + i;
        const bool active = i < pr.T;  // warp-uniform
        const int64_t n_block = columns_of(pr, min64(i0 + warps, pr.T) - 1);
        const int64_t n = active ? columns_of(pr, i) : 0;
        if (active) load_row(qs, pr.q, b, h, i, hs, lane);
        T m = -inf;
        double l = 0;  // a double sum, as the CPU's row_sum
        T acc[DPL];
        for (int k = 0; k < DPL; ++k) acc[k] = 0;
        for (int64_t j0 = 0; j0 < n_block; j0 += kLanes) {
            const int keys = static_cast<int>(min64(kLanes, n_block - j0));
            __syncthreads();  // every warp is done with the previous tile
            load_tile(ks, ld, pr.k, b, h, j0, keys, hs);
            load_tile(vs, ld, pr.v, b, h, j0, keys, hs);
            __syncthreads();
            if (j0 >= n) continue;  // this row reads none of the tile's keys
            const int64_t j = j0 + lane;
            const bool valid = j < n;
            const T s = valid ? score_of(pr, qs, ks + lane * ld, b, h, i, j) : -inf;
            const T tile_max = warp_max_number(s == s ? s : -inf);
            const T m_new = tile_max > m ? tile_max : m;
            // While every score so far is -inf, shift by 0: exp(-inf - -inf) would be NaN.
            const T shift = m_new == -inf ? T(0) : m_new;
            const double alpha_l = exp(static_cast<double>(m) - static_cast<double>(shift));
            const T alpha = static_cast<T>(alpha_l);
            const T e = valid ? exp_of(s - shift) : T(0);
            l = l * alpha_l + warp_sum(static_cast<double>(e));
            // A product, not a select: like dropout, a dropped NaN stays NaN.
            ws[lane] = valid && pr.dropout ? e * keep_factor<T>(pr, row, j) : e;
            __syncwarp();
            for (int k = 0; k < DPL; ++k) acc[k] *= alpha;
            const int cols = static_cast<int>(min64(kLanes, n - j0));
            for (int r = 0; r < cols; ++r) {
                const T w = ws[r];
                const T* vr = vs + r * ld;
                for (int k = 0; k < DPL; ++k) {
                    const int d = lane + k * kLanes;
                    if (d < hs) acc[k] += w * vr[d];
                }
            }
            __syncwarp();  // ws is rewritten by the next tile
            m = m_new;
        }
        if (!active) continue;
        // A row whose scores are all -inf (or NaN) is NaN on the CPU (exp(-inf - -inf)): the
        // same here, through lse.
        const T ls = m == -inf ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(log(l));
        const T inv = static_cast<T>(exp(-static_cast<double>(ls)));
        for (int k = 0; k < DPL; ++k) {
            const int d = lane + k * kLanes;
            if (d < hs) out[row * hs + d] = acc[k] * inv;
        }
        if (lane == 0) lse[row] = ls;
    }
}

// --- backward, pass 1: per query row

// One block per (b, h, tile of `warps` query rows), a warp per row, streaming key and value
// tiles three times (the row's max is not saved, and dq needs D before it starts):
//   1. m   = max_j s_ij                           (NaN skipped, as the CPU)
//   2. D   = sum_j P_ij dP_ij                     (in double, as the CPU)
//   3. dS_ij = P_ij (dP_ij - D) / sqrt(hs) for visible keys, 0 for the others (their score is
//            the constant lowest + mask),   dq_i = sum_j dS_ij k_j     (only when dq is wanted)
// m and D go to row_max and row_dot for the key pass.
template <class T, int DPL>
__global__ void __launch_bounds__(kMaxThreads)
    attention_rows_kernel(AttentionProblem pr, const T* lse, T* row_max, T* row_dot, T* dq) {
    const int hs = static_cast<int>(pr.hs), ld = hs + 1;
    const int warps = blockDim.x / kLanes, warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
    T* ks = shared_buffer<T>();                                 // (32, ld): keys
    T* vs = ks + kLanes * ld;                                   // (32, ld): values
    T* qs = vs + kLanes * ld + warp * 2 * hs;                   // this warp's query row
    T* gs = qs + hs;                                            // its output-gradient row
    T* ws = vs + kLanes * ld + warps * 2 * hs + warp * kLanes;  // its 32 dS
    const T inf = infinity_of<T>();
    const T root = static_cast<T>(pr.root);
    const int64_t tiles = (pr.T + warps - 1) / warps, items = pr.B * pr.H * tiles;
    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const int64_t bh = item / tiles, i0 = (tiles - 1 - item % tiles) * warps;
        const int64_t b = bh / pr.H, h = bh % pr.H, i = i0 + warp, row = bh * pr.T + i;
        const bool active = i < pr.T;
        const int64_t n_block = columns_of(pr, min64(i0 + warps, pr.T) - 1);
        const int64_t n = active ? columns_of(pr, i) : 0;
        if (active) {
            load_row(qs, pr.q, b, h, i, hs, lane);
            load_row(gs, pr.gout, b, h, i, hs, lane);
        }
        // 1. The max.
        T m = -inf;
        for (int64_t j0 = 0; j0 < n_block; j0 += kLanes) {
            __syncthreads();
            load_tile(ks, ld, pr.k, b, h, j0, static_cast<int>(min64(kLanes, n_block - j0)), hs);
            __syncthreads();
            const int64_t j = j0 + lane;
            if (j < n) {
                const T s = score_of(pr, qs, ks + lane * ld, b, h, i, j);
                m = s > m ? s : m;
            }
        }
        m = warp_max_number(m);
        const T inv = active ? static_cast<T>(exp(-static_cast<double>(lse[row]))) : T(0);
        // 2. D.
        double dsum = 0;
        for (int64_t j0 = 0; j0 < n_block; j0 += kLanes) {
            const int keys = static_cast<int>(min64(kLanes, n_block - j0));
            __syncthreads();
            load_tile(ks, ld, pr.k, b, h, j0, keys, hs);
            load_tile(vs, ld, pr.v, b, h, j0, keys, hs);
            __syncthreads();
            const int64_t j = j0 + lane;
            if (j < n) {
                const Recomputed<T> r =
                    recompute(pr, qs, gs, ks + lane * ld, vs + lane * ld, b, h, i, j, m, inv);
                dsum += static_cast<double>(r.P * r.dP);
            }
        }
        const T D = static_cast<T>(warp_sum(dsum));
        if (active && lane == 0) {
            row_max[row] = m;
            row_dot[row] = D;
        }
        if (dq == nullptr) continue;
        // 3. dq.
        T acc[DPL];
        for (int k = 0; k < DPL; ++k) acc[k] = 0;
        for (int64_t j0 = 0; j0 < n_block; j0 += kLanes) {
            const int keys = static_cast<int>(min64(kLanes, n_block - j0));
            __syncthreads();
            load_tile(ks, ld, pr.k, b, h, j0, keys, hs);
            load_tile(vs, ld, pr.v, b, h, j0, keys, hs);
            __syncthreads();
            if (j0 >= n) continue;
            const int64_t j = j0 + lane;
            T ds = 0;
            if (j < n) {
                const Recomputed<T> r =
                    recompute(pr, qs, gs, ks + lane * ld, vs + lane * ld, b, h, i, j, m, inv);
                if (r.visible) ds = r.P * (r.dP - D) / root;
            }
            ws[lane] = ds;
            __syncwarp();
            const int cols = static_cast<int>(min64(kLanes, n - j0));
            for (int c = 0; c < cols; ++c) {
                const T w = ws[c];
                const T* kr = ks + c * ld;
                for (int k = 0; k < DPL; ++k) {
                    const int d = lane + k * kLanes;
                    if (d < hs) acc[k] += w * kr[d];
                }
            }
            __syncwarp();
        }
        if (!active) continue;
        for (int k = 0; k < DPL; ++k) {
            const int d = lane + k * kLanes;
            if (d < hs) dq[row * hs + d] = acc[k];
        }
    }
}

// --- backward, pass 2: per key row

// One block per (b, h, tile of `warps` key rows), a warp per key j; lane l recomputes (i, j) for
// query i = i0 + l of each query tile, from the row's saved m, lse and D:
//   dk_j = sum_i dS_ij q_i,   dv_j = sum_i P'_ij gout_i    (P' = P f)
// over the query rows that read key j (all of them with a mask, else i >= j - (S - T)). Each
// sum has one owner, so the result does not depend on scheduling.
template <class T, int DPL>
__global__ void __launch_bounds__(kMaxThreads)
    attention_keys_kernel(AttentionProblem pr, const T* lse, const T* row_max, const T* row_dot,
                          T* dk, T* dv) {
    const int hs = static_cast<int>(pr.hs), ld = hs + 1;
    const int warps = blockDim.x / kLanes, warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
    T* qs = shared_buffer<T>();                          // (32, ld): the tile's query rows
    T* gs = qs + kLanes * ld;                            // (32, ld): their output-gradient rows
    T* ms = gs + kLanes * ld;                            // (32): their max scores
    T* invs = ms + kLanes;                               // (32): exp(-lse)
    T* Ds = invs + kLanes;                               // (32): D
    T* kw = Ds + kLanes + warp * (2 * hs + 2 * kLanes);  // this warp's key row
    T* vw = kw + hs;                                     // its value row
    T* dsw = vw + hs;                                    // its 32 dS
    T* pw = dsw + kLanes;                                // its 32 P'
    const T root = static_cast<T>(pr.root);
    const int64_t tiles = (pr.S + warps - 1) / warps, items = pr.B * pr.H * tiles;
    for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
        // The first keys are read by the most query rows: natural order puts them first.
        const int64_t bh = item / tiles, j0 = (item % tiles) * warps;
        const int64_t b = bh / pr.H, h = bh % pr.H, j = j0 + warp;
        const bool active = j < pr.S;
        if (active) {
            load_row(kw, pr.k, b, h, j, hs, lane);
            load_row(vw, pr.v, b, h, j, hs, lane);
        }
        T gk[DPL], gv[DPL];
        for (int k = 0; k < DPL; ++k) gk[k] = gv[k] = 0;
        const int64_t first = pr.masked ? 0 : max64(0, j0 - (pr.S - pr.T));
        for (int64_t i0 = first; i0 < pr.T; i0 += kLanes) {
            const int rows = static_cast<int>(min64(kLanes, pr.T - i0));
            __syncthreads();
            load_tile(qs, ld, pr.q, b, h, i0, rows, hs);
            load_tile(gs, ld, pr.gout, b, h, i0, rows, hs);
            const int t = static_cast<int>(threadIdx.x);
            if (t < rows) {
                const int64_t row = bh * pr.T + i0 + t;
                ms[t] = row_max[row];
                invs[t] = static_cast<T>(exp(-static_cast<double>(lse[row])));
                Ds[t] = row_dot[row];
            }
            __syncthreads();
            if (!active) continue;
            const int64_t i = i0 + lane;
            T ds = 0, pf = 0;
            if (lane < rows && j < columns_of(pr, i)) {
                const Recomputed<T> r = recompute(pr, qs + lane * ld, gs + lane * ld, kw, vw, b, h,
                                                  i, j, ms[lane], invs[lane]);
                if (r.visible) ds = r.P * (r.dP - Ds[lane]) / root;
                pf = pr.dropout ? r.P * r.f : r.P;
            }
            dsw[lane] = ds;
            pw[lane] = pf;
            __syncwarp();
            for (int r = 0; r < rows; ++r) {
                const T wk = dsw[r], wv = pw[r];
                const T* qr = qs + r * ld;
                const T* gr = gs + r * ld;
                for (int k = 0; k < DPL; ++k) {
                    const int d = lane + k * kLanes;
                    if (d < hs) {
                        gk[k] += wk * qr[d];
                        gv[k] += wv * gr[d];
                    }
                }
            }
            __syncwarp();
        }
        if (!active) continue;
        const int64_t out_row = (bh * pr.S + j) * hs;
        for (int k = 0; k < DPL; ++k) {
            const int d = lane + k * kLanes;
            if (d >= hs) continue;
            if (dk != nullptr) dk[out_row + d] = gk[k];
            if (dv != nullptr) dv[out_row + d] = gv[k];
        }
    }
}

// --- launch configuration

// Calls f.template operator()<DPL>() with DPL = hs / 32 rounded up to 1, 2, 4 or 8: the output
// dims each lane holds in registers (the host has checked hs <= kMaxHeadSize).
template <class F>
void with_dims_per_lane(int64_t hs, F&& f) {
    if (hs <= 32)
        f.template operator()<1>();
    else if (hs <= 64)
        f.template operator()<2>();
    else if (hs <= 128)
        f.template operator()<4>();
    else
        f.template operator()<8>();
}

// A block shape for `rows` rows (one per warp): at most 8 warps, no more than the rows need, and
// halved until the shared memory (elements(warps) of `item` bytes) fits the device; opts the
// kernel in to more than the default 48 KiB when it needs it. A failing runtime call here
// surfaces as the launch's error (Launch::check).
struct Config {
    unsigned blocks = 1, threads = kLanes;
    size_t bytes = 0;
};

template <class Kernel, class Elements>
Config configure(Kernel kernel, Elements elements, int64_t heads, int64_t rows, size_t item) {
    int device = 0, optin = 48 * 1024;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
    int warps = kMaxWarps;
    while (warps > 1 && warps / 2 >= rows) warps /= 2;
    while (warps > 1 && static_cast<size_t>(elements(warps)) * item > static_cast<size_t>(optin))
        warps /= 2;
    Config c;
    c.threads = static_cast<unsigned>(warps * kLanes);
    c.bytes = static_cast<size_t>(elements(warps)) * item;
    const int64_t items = heads * ((rows + warps - 1) / warps);
    c.blocks = static_cast<unsigned>(max64(1, min64(items, kMaxBlocks)));
    if (c.bytes > 48 * 1024)
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(c.bytes));
    return c;
}

}  // namespace

void launch_attention_forward(const AttentionProblem& pr, void* out, void* lse,
                              cudaStream_t stream) {
    if (pr.B * pr.H * pr.T == 0) return;
    visit_floating_type(pr.q.type, [&]<class T>() {
        with_dims_per_lane(pr.hs, [&]<int DPL>() {
            auto kernel = attention_forward_kernel<T, DPL>;
            const int64_t hs = pr.hs;
            const Config c = configure(
                kernel, [hs](int w) { return forward_elements(hs, w); }, pr.B * pr.H, pr.T,
                sizeof(T));
            kernel<<<c.blocks, c.threads, c.bytes, stream>>>(pr, static_cast<T*>(out),
                                                             static_cast<T*>(lse));
        });
    });
}

void launch_attention_backward(const AttentionProblem& pr, const void* lse, void* row_max,
                               void* row_dot, void* dq, void* dk, void* dv, cudaStream_t stream) {
    const bool want_rows = dq != nullptr || dk != nullptr || dv != nullptr;
    const bool want_keys = dk != nullptr || dv != nullptr;
    visit_floating_type(pr.q.type, [&]<class T>() {
        with_dims_per_lane(pr.hs, [&]<int DPL>() {
            const int64_t hs = pr.hs;
            if (want_rows && pr.B * pr.H * pr.T > 0) {
                auto kernel = attention_rows_kernel<T, DPL>;
                const Config c = configure(
                    kernel, [hs](int w) { return rows_elements(hs, w); }, pr.B * pr.H, pr.T,
                    sizeof(T));
                kernel<<<c.blocks, c.threads, c.bytes, stream>>>(
                    pr, static_cast<const T*>(lse), static_cast<T*>(row_max),
                    static_cast<T*>(row_dot), static_cast<T*>(dq));
            }
            // With T = 0 this still runs: every dk and dv row is then 0.
            if (want_keys && pr.B * pr.H * pr.S > 0) {
                auto kernel = attention_keys_kernel<T, DPL>;
                const Config c = configure(
                    kernel, [hs](int w) { return keys_elements(hs, w); }, pr.B * pr.H, pr.S,
                    sizeof(T));
                kernel<<<c.blocks, c.threads, c.bytes, stream>>>(
                    pr, static_cast<const T*>(lse), static_cast<const T*>(row_max),
                    static_cast<const T*>(row_dot), static_cast<T*>(dk), static_cast<T*>(dv));
            }
        });
    });
}

}  // namespace gradstack::cuda
