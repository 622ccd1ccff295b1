// Fused causal attention on CUDA tensors (kernels::attention_forward / attention_backward,
// tensor/kernels/nn.h; the kernels are in kernels/attention.cu): the same checks and errors as
// tensor/cpu/attention.cpp, each operand described by its four strides, then the launches.
// Read next: kernels/attention.cu (flash attention forward, deterministic backward).
#include "cuda/kernels/attention.h"

#include <cmath>

#include "cuda/launch.h"
#include "tensor/cpu/philox.h"
#include "tensor/kernels/nn.h"

namespace gradstack::cuda {

namespace {

// Checks the inputs as the CPU kernel does and fills the problem; the dropout threshold is the
// CPU's keep_threshold, so both devices keep the same elements.
AttentionProblem make_problem(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                              double p, uint64_t seed, uint64_t counter) {
    const kernels::AttentionShape a = kernels::check_attention(q, k, v, mask, p);
    gradstack::check(a.hs <= kMaxHeadSize,
                     "[attention] head size {} of q {} is above {}, the most the CUDA kernels hold",
                     a.hs, shape_str(q.shape()), kMaxHeadSize);
    AttentionProblem pr;
    pr.B = a.B, pr.H = a.H, pr.T = a.T, pr.S = a.S, pr.hs = a.hs;
    pr.q = operand(q, q.shape());
    pr.k = operand(k, k.shape());
    pr.v = operand(v, v.shape());
    pr.masked = a.masked;
    // (B, nh, T, S) strides, 0 on the dims the mask is broadcast along.
    if (pr.masked) pr.mask = operand(mask, Shape{a.B, a.H, a.T, a.S});
    pr.root = std::sqrt(static_cast<double>(a.hs));
    pr.dropout = p > 0;
    pr.seed = seed, pr.counter = counter;
    pr.threshold = cpu::keep_threshold(p);
    pr.keep_scale = 1.0 / (1.0 - p);
    return pr;
}

// The data of an output that must be a contiguous `shape` of `dtype` (null when undefined).
void* output_data(const Tensor& t, const Shape& shape, DType dtype, const char* name) {
    if (!t.defined()) return nullptr;
    gradstack::check(t.is_contiguous() && t.shape() == shape && t.dtype() == dtype,
                     "[attention] {} must be a contiguous {} {}, got {} {}", name, dtype,
                     shape_str(shape), t.dtype(), shape_str(t.shape()));
    return t.raw_data();
}

void attention_forward_cuda(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                            const Tensor& v, const Tensor& mask, double p, uint64_t seed,
                            uint64_t counter) {
    visit_floating(q.dtype(), "attention", [&]<class T>() {
        const AttentionProblem pr = make_problem(q, k, v, mask, p, seed, counter);
        void* out_data = output_data(out, q.shape(), q.dtype(), "out");
        void* lse_data = output_data(lse, Shape{pr.B, pr.H, pr.T}, q.dtype(), "lse");
        gradstack::check(out_data && lse_data, "[attention] the forward needs out and lse");
        Launch launch("attention_forward", {q, k, v, mask, out, lse});
        launch_attention_forward(pr, out_data, lse_data, launch.stream());
        launch.check("attention_forward_kernel");
    });
}

void attention_backward_cuda(const Tensor& gout, const Tensor& q, const Tensor& k, const Tensor& v,
                             const Tensor& mask, const Tensor& lse, double p, uint64_t seed,
                             uint64_t counter, const Tensor& dq, const Tensor& dk,
                             const Tensor& dv) {
    visit_floating(q.dtype(), "attention", [&]<class T>() {
        AttentionProblem pr = make_problem(q, k, v, mask, p, seed, counter);
        gradstack::check(gout.shape() == q.shape() && gout.dtype() == q.dtype(),
                         "[attention] the output gradient must be {} {}, got {} {}", q.dtype(),
                         shape_str(q.shape()), gout.dtype(), shape_str(gout.shape()));
        pr.gout = operand(gout, gout.shape());
        const Shape rows{pr.B, pr.H, pr.T};
        const void* lse_data = output_data(lse, rows, q.dtype(), "lse");
        gradstack::check(lse_data != nullptr, "[attention] the backward needs the forward's lse");
        void* dq_data = output_data(dq, q.shape(), q.dtype(), "dq");
        void* dk_data = output_data(dk, k.shape(), q.dtype(), "dk");
        void* dv_data = output_data(dv, v.shape(), q.dtype(), "dv");
        Launch launch("attention_backward", {gout, q, k, v, mask, lse, dq, dk, dv});
        // Each query row's max score and D = sum_j P_ij dP_ij, found by the row pass and read
        // by the key pass (dk, dv).
        const Tensor stats = empty(Shape{2, pr.B, pr.H, pr.T}, q.dtype(), q.device());
        char* row_max = static_cast<char*>(stats.raw_data());
        char* row_dot = row_max + pr.B * pr.H * pr.T * static_cast<int64_t>(sizeof(T));
        launch_attention_backward(pr, lse_data, row_max, row_dot, dq_data, dk_data, dv_data,
                                  launch.stream());
        launch.check("attention_rows_kernel / attention_keys_kernel");
    });
}

[[maybe_unused]] const bool attention_forward_on_cuda =
    kernels::attention_forward.set(DeviceType::cuda, &attention_forward_cuda);
[[maybe_unused]] const bool attention_backward_on_cuda =
    kernels::attention_backward.set(DeviceType::cuda, &attention_backward_cuda);

}  // namespace

}  // namespace gradstack::cuda
