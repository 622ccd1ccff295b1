// Launchers of the fused causal attention kernels (attention.cu), called from ../attention.cpp:
// the forward (out and the log-sum-exp of each query row) and the backward (dq, dk, dv), with the
// formulas of tensor/kernels/nn.h. Read next: attention.cu.
#pragma once

#include <cstdint>

#include "cuda/kernels/strided.h"

namespace gradstack::cuda {

// The head sizes the kernels hold in registers: each lane of a warp owns hs / 32 of an output
// row's dims, at most 8.
constexpr int64_t kMaxHeadSize = 256;

// One attention call. q and gout are (B, nh, T, hs), k and v (B, nh, S, hs), the mask is read as
// (B, nh, T, S): each operand's strides[0..3] are its strides over those four dims (0 on a
// broadcast dim), `data` its element (0, 0, 0, 0). All of q's dtype (q.type).
struct AttentionProblem {
    int64_t B = 0, H = 0, T = 0, S = 0, hs = 0;
    Operand q, k, v, gout, mask;  // gout: backward only; mask: when `masked`
    bool masked = false;
    double root = 1;       // sqrt(hs), the scores' divisor
    bool dropout = false;  // p > 0
    uint64_t seed = 0, counter = 0;
    uint32_t threshold = 0;  // keep an element when (Philox word >> 8) >= threshold
    double keep_scale = 1;   // 1 / (1 - p)
};

// out (B, nh, T, hs) and lse (B, nh, T), contiguous, of q's dtype:
//   lse_i = log sum_j exp(s_ij - max_j s_ij),   out_i = sum_j P'_ij v_j.
void launch_attention_forward(const AttentionProblem& pr, void* out, void* lse,
                              cudaStream_t stream);

// dq (B, nh, T, hs), dk and dv (B, nh, S, hs), contiguous, from pr.gout and the forward's lse;
// a null output is not computed. row_max and row_dot are scratch of B nh T elements of q's
// dtype (each query row's max score m_i and D_i = sum_j P_ij dP_ij).
void launch_attention_backward(const AttentionProblem& pr, const void* lse, void* row_max,
                               void* row_dot, void* dq, void* dk, void* dv, cudaStream_t stream);

}  // namespace gradstack::cuda
