// Elementwise kernels: one grid-stride kernel per arity (unary, binary, ternary), each thread
// taking one element of the output's iteration, finding every operand's element from the linear
// index, and applying a small functor with the scalar formula of tensor/cpu/elementwise.cpp (the
// same expression, in the same float or double type). triu / tril and one_hot are here too: they
// are elementwise in shape and only need the linear index to know their row and column.
// Read next: ../elementwise.cpp (dtype checks and registration), then the next family.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels/dtype.cuh"
#include "cuda/kernels/elementwise.h"
#include "cuda/kernels/strided.cuh"

namespace gradstack::cuda {

namespace {

// --- operands and their offsets

// The operands of one kernel (out first), passed by value in the kernel's parameters.
template <int N>
struct Operands {
    Operand op[N];
};

// Adds to off[k] the offset of the element with C-order index `linear` in operand k: the index is
// split into its multi-index once, innermost dim first, and each operand takes the dot product
// with its strides. `Index` is the type the split is done in (below).
template <class Index, int N>
__device__ inline void add_offsets(const IterShape& it, const Operands<N>& ops, Index linear,
                                   int64_t (&off)[N]) {
    // Unrolled over every possible dim so that sizes and strides are read by constant index
    // (a runtime index would copy the parameters to local memory first).
#pragma unroll
    for (int d = kMaxDims - 1; d >= 0; --d) {
        if (d >= it.ndim) continue;
        const Index size = static_cast<Index>(it.sizes[d]);
        const Index i = linear % size;
        linear /= size;
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(i) * ops.op[k].strides[d];
    }
}

// Offsets (in elements) of the element with C-order index `linear` in each operand. One dim (a
// contiguous or evenly strided tensor, after merging) needs no division at all. Otherwise the
// split uses 32-bit division whenever the iteration is small enough (it nearly always is): a
// 64-bit division is a long software sequence on the GPU, and with two or three of them per
// element a broadcast add would be bound by arithmetic instead of memory.
template <int N>
__device__ inline void element_offsets(const IterShape& it, const Operands<N>& ops, int64_t linear,
                                       int64_t (&off)[N]) {
    if (it.ndim <= 1) {  // 0 dims: one element, and every stride is 0
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] = linear * ops.op[k].strides[0];
        return;
    }
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    if (it.numel <= int64_t{UINT32_MAX})
        add_offsets(it, ops, static_cast<uint32_t>(linear), off);
    else
        add_offsets(it, ops, linear, off);
}

template <class T>
__device__ inline T& element(const Operand& op, int64_t offset) {
    return static_cast<T*>(op.data)[offset];
}

// --- the three kernels: out[i] = f(x[i]), f(a[i], b[i]), f(c[i], a[i], b[i])

template <class Out, class In, class F>
__global__ void unary_kernel(IterShape it, Operands<2> ops, F f) {
    for (int64_t i = thread_index(); i < it.numel; i += thread_count()) {
        int64_t off[2];
        element_offsets(it, ops, i, off);
        element<Out>(ops.op[0], off[0]) = f(element<In>(ops.op[1], off[1]));
    }
}

template <class Out, class A, class B, class F>
__global__ void binary_kernel(IterShape it, Operands<3> ops, F f) {
    for (int64_t i = thread_index(); i < it.numel; i += thread_count()) {
        int64_t off[3];
        element_offsets(it, ops, i, off);
        element<Out>(ops.op[0], off[0]) =
            f(element<A>(ops.op[1], off[1]), element<B>(ops.op[2], off[2]));
    }
}

template <class Out, class C, class A, class B, class F>
__global__ void ternary_kernel(IterShape it, Operands<4> ops, F f) {
    for (int64_t i = thread_index(); i < it.numel; i += thread_count()) {
        int64_t off[4];
        element_offsets(it, ops, i, off);
        element<Out>(ops.op[0], off[0]) =
            f(element<C>(ops.op[1], off[1]), element<A>(ops.op[2], off[2]),
              element<B>(ops.op[3], off[3]));
    }
}

// --- libm on the device: the float overloads call the float functions (expf, ...), as
// std::exp(float) does on the CPU. None of them is the fast intrinsic (__expf): these are CUDA's
// accurate versions (a few ulp at most; sqrt and division are correctly rounded).

__device__ inline float exp_of(float x) {
    return expf(x);
}
__device__ inline double exp_of(double x) {
    return ::exp(x);
}
__device__ inline float log_of(float x) {
    return logf(x);
}
__device__ inline double log_of(double x) {
    return ::log(x);
}
__device__ inline float sqrt_of(float x) {
    return sqrtf(x);
}
__device__ inline double sqrt_of(double x) {
    return ::sqrt(x);
}
__device__ inline float tanh_of(float x) {
    return tanhf(x);
}
__device__ inline double tanh_of(double x) {
    return ::tanh(x);
}
__device__ inline float pow_of(float x, float y) {
    return powf(x, y);
}
__device__ inline double pow_of(double x, double y) {
    return ::pow(x, y);
}

// --- unary formulas (tensor/cpu/elementwise.cpp, expression for expression)

struct Neg {
    template <class T>
    __device__ T operator()(T v) const {
        return -v;
    }
};
struct Abs {  // -0.0 stays -0.0 and NaN stays NaN, as on the CPU
    template <class T>
    __device__ T operator()(T v) const {
        return v < T(0) ? -v : v;
    }
};
struct Sign {  // sign(NaN) = 0: both comparisons are false
    template <class T>
    __device__ T operator()(T v) const {
        return static_cast<T>((v > T(0)) - (v < T(0)));
    }
};
struct Relu {  // relu(NaN) = 0
    template <class T>
    __device__ T operator()(T v) const {
        return v > T(0) ? v : T(0);
    }
};
struct Exp {
    template <class T>
    __device__ T operator()(T v) const {
        return exp_of(v);
    }
};
struct Log {
    template <class T>
    __device__ T operator()(T v) const {
        return log_of(v);
    }
};
struct Sqrt {
    template <class T>
    __device__ T operator()(T v) const {
        return sqrt_of(v);
    }
};
struct Rsqrt {  // 1 / sqrt(v), both correctly rounded (not the approximate rsqrtf)
    template <class T>
    __device__ T operator()(T v) const {
        return T(1) / sqrt_of(v);
    }
};
struct Tanh {
    template <class T>
    __device__ T operator()(T v) const {
        return tanh_of(v);
    }
};
struct Sigmoid {
    template <class T>
    __device__ T operator()(T v) const {
        // Two branches so that exp never overflows.
        if (v >= T(0)) return T(1) / (T(1) + exp_of(-v));
        const T e = exp_of(v);
        return e / (T(1) + e);
    }
};

// gelu_new(x) = 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3), c = sqrt(2/pi). The CPU evaluates
// float32 as x sigmoid(2u) = x / (1 + exp(-2u)) (the same function, since 0.5 (1 + tanh u) =
// sigmoid(2u)) and float64 with tanh; so do we, with expf standing in for the CPU's exp_f32.
constexpr double kGeluC = 0.7978845608028654;
constexpr double kGeluA = 0.044715;

__device__ inline float gelu_sigmoid(float v) {  // sigmoid(2u) for x = v
    const float u = static_cast<float>(kGeluC) * (v + static_cast<float>(kGeluA) * v * v * v);
    return 1.0f / (1.0f + expf(-2.0f * u));
}

struct Gelu {
    __device__ float operator()(float v) const { return v * gelu_sigmoid(v); }
    __device__ double operator()(double v) const {
        const double u = kGeluC * (v + kGeluA * v * v * v);
        return 0.5 * v * (1.0 + ::tanh(u));
    }
};

// out = clamp(x, lo, hi), compared in double so that infinite bounds work for every dtype (an
// infinite bound is never crossed, so it is never cast). NaN stays NaN, like torch.clamp.
struct Clamp {
    double lo, hi;
    template <class T>
    __device__ T operator()(T v) const {
        if (static_cast<double>(v) < lo) return static_cast<T>(lo);
        if (static_cast<double>(v) > hi) return static_cast<T>(hi);
        return v;
    }
};

// --- binary formulas. The result is cast back to T: for bool, add is "or" (1 + 1 = 2 -> true)
// and mul is "and".

struct Add {
    template <class T>
    __device__ T operator()(T x, T y) const {
        return static_cast<T>(x + y);
    }
};
struct Sub {
    template <class T>
    __device__ T operator()(T x, T y) const {
        return static_cast<T>(x - y);
    }
};
struct Mul {
    template <class T>
    __device__ T operator()(T x, T y) const {
        return static_cast<T>(x * y);
    }
};
struct Div {
    template <class T>
    __device__ T operator()(T x, T y) const {
        return x / y;
    }
};
struct Pow {  // y = 2 is an exact square, as on the CPU
    template <class T>
    __device__ T operator()(T x, T y) const {
        return y == T(2) ? x * x : pow_of(x, y);
    }
};
// NaN in either input propagates: x is NaN -> x; y is NaN -> x > y is false -> y.
struct Maximum {
    template <class T>
    __device__ T operator()(T x, T y) const {
        return x != x ? x : (x > y ? x : y);
    }
};
struct Minimum {
    template <class T>
    __device__ T operator()(T x, T y) const {
        return x != x ? x : (x < y ? x : y);
    }
};

// out = gy gelu'(x). gelu'(x) = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du, du = c (1 + 3 a x^2).
// In float32, with s = sigmoid(2u): 1 + tanh u = 2s and 1 - tanh^2 u = 4 s (1 - s), so it is
// s + 2 x s (1 - s) du (the CPU's float32 form); float64 keeps tanh.
struct GeluBackward {
    __device__ float operator()(float g, float v) const {
        const float s = gelu_sigmoid(v);
        const float du =
            static_cast<float>(kGeluC) * (1.0f + static_cast<float>(3 * kGeluA) * v * v);
        return g * (s + 2.0f * v * s * (1.0f - s) * du);
    }
    __device__ double operator()(double g, double v) const {
        const double t = ::tanh(kGeluC * (v + kGeluA * v * v * v));
        const double du = kGeluC * (1.0 + (3 * kGeluA) * v * v);
        return g * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * du);
    }
};

// Comparisons write bool.
struct Eq {
    template <class T>
    __device__ bool operator()(T x, T y) const {
        return x == y;
    }
};
struct Ne {
    template <class T>
    __device__ bool operator()(T x, T y) const {
        return x != y;
    }
};
struct Lt {
    template <class T>
    __device__ bool operator()(T x, T y) const {
        return x < y;
    }
};
struct Le {
    template <class T>
    __device__ bool operator()(T x, T y) const {
        return x <= y;
    }
};
struct Gt {
    template <class T>
    __device__ bool operator()(T x, T y) const {
        return x > y;
    }
};
struct Ge {
    template <class T>
    __device__ bool operator()(T x, T y) const {
        return x >= y;
    }
};

struct Select {  // where
    template <class T>
    __device__ T operator()(bool k, T x, T y) const {
        return k ? x : y;
    }
};

// --- dtype dispatch: visit_types (dtype.cuh) instantiates only the dtypes an op accepts.

template <Types kTypes, class F>
void unary(const IterShape& it, const Operand& out, const Operand& x, F f, cudaStream_t stream) {
    visit_types<kTypes>(x.type, [&]<class T>() {
        unary_kernel<T, T>
            <<<blocks_for(it.numel), kThreads, 0, stream>>>(it, Operands<2>{{out, x}}, f);
    });
}

// out of the inputs' dtype.
template <Types kTypes, class F>
void binary(const IterShape& it, const Operand& out, const Operand& a, const Operand& b, F f,
            cudaStream_t stream) {
    visit_types<kTypes>(a.type, [&]<class T>() {
        binary_kernel<T, T, T>
            <<<blocks_for(it.numel), kThreads, 0, stream>>>(it, Operands<3>{{out, a, b}}, f);
    });
}

// out bool, inputs of any one dtype.
template <class F>
void compare(const IterShape& it, const Operand& out, const Operand& a, const Operand& b, F f,
             cudaStream_t stream) {
    visit_types<Types::all>(a.type, [&]<class T>() {
        binary_kernel<bool, T, T>
            <<<blocks_for(it.numel), kThreads, 0, stream>>>(it, Operands<3>{{out, a, b}}, f);
    });
}

// --- triu / tril and one_hot

// The linear index l of the iteration (the output's C order) gives the column j = l % cols and
// the row i = (l / cols) % rows of the element's matrix: merging dims never changes which
// element a linear index names.
template <class T>
__global__ void triangle_kernel(IterShape it, Operands<2> ops, int64_t rows, int64_t cols,
                                int64_t diagonal, bool upper) {
    for (int64_t l = thread_index(); l < it.numel; l += thread_count()) {
        int64_t off[2];
        element_offsets(it, ops, l, off);
        const int64_t j = l % cols, i = (l / cols) % rows;
        const bool keep = upper ? j - i >= diagonal : j - i <= diagonal;
        element<T>(ops.op[0], off[0]) = keep ? element<T>(ops.op[1], off[1]) : T(0);
    }
}

// first_bad = the smallest C-order position of an id outside [0, classes) (it starts as the
// largest unsigned value, every bit set). The smallest position, not just any, so the error names
// the same id as the CPU's serial scan.
__global__ void one_hot_check_kernel(IterShape it, Operands<1> ids, int64_t classes,
                                     unsigned long long* first_bad) {
    for (int64_t l = thread_index(); l < it.numel; l += thread_count()) {
        int64_t off[1];
        element_offsets(it, ids, l, off);
        const int64_t id = element<int64_t>(ids.op[0], off[0]);
        if (id < 0 || id >= classes) atomicMin(first_bad, static_cast<unsigned long long>(l));
    }
}

// One thread: flag[1] = the id at position flag[0], when there is one (flag[0] >= 0).
__global__ void one_hot_bad_value_kernel(IterShape it, Operands<1> ids, int64_t* flag) {
    if (flag[0] < 0) return;
    int64_t off[1];
    element_offsets(it, ids, flag[0], off);
    flag[1] = element<int64_t>(ids.op[0], off[0]);
}

// out[l] = 1 if ids[l / classes] == l % classes: element (..., c) of out belongs to id
// number l / classes of ids (C order) and is its class c.
__global__ void one_hot_kernel(IterShape out_it, Operands<1> out, IterShape ids_it, Operands<1> ids,
                               int64_t classes) {
    for (int64_t l = thread_index(); l < out_it.numel; l += thread_count()) {
        int64_t o[1], k[1];
        element_offsets(out_it, out, l, o);
        element_offsets(ids_it, ids, l / classes, k);
        const bool hot = element<int64_t>(ids.op[0], k[0]) == l % classes;
        element<int64_t>(out.op[0], o[0]) = hot ? 1 : 0;
    }
}

}  // namespace

void launch_unary(UnaryOp op, const IterShape& it, const Operand& out, const Operand& x,
                  cudaStream_t stream) {
    if (it.numel == 0) return;
    switch (op) {
        case UnaryOp::neg:
            return unary<Types::numeric>(it, out, x, Neg{}, stream);
        case UnaryOp::abs:
            return unary<Types::numeric>(it, out, x, Abs{}, stream);
        case UnaryOp::sign:
            return unary<Types::numeric>(it, out, x, Sign{}, stream);
        case UnaryOp::relu:
            return unary<Types::numeric>(it, out, x, Relu{}, stream);
        case UnaryOp::exp:
            return unary<Types::floating>(it, out, x, Exp{}, stream);
        case UnaryOp::log:
            return unary<Types::floating>(it, out, x, Log{}, stream);
        case UnaryOp::sqrt:
            return unary<Types::floating>(it, out, x, Sqrt{}, stream);
        case UnaryOp::rsqrt:
            return unary<Types::floating>(it, out, x, Rsqrt{}, stream);
        case UnaryOp::tanh:
            return unary<Types::floating>(it, out, x, Tanh{}, stream);
        case UnaryOp::sigmoid:
            return unary<Types::floating>(it, out, x, Sigmoid{}, stream);
        case UnaryOp::gelu:
            return unary<Types::floating>(it, out, x, Gelu{}, stream);
    }
}

void launch_clamp(const IterShape& it, const Operand& out, const Operand& x, double lo, double hi,
                  cudaStream_t stream) {
    if (it.numel == 0) return;
    unary<Types::numeric>(it, out, x, Clamp{lo, hi}, stream);
}

void launch_binary(BinaryOp op, const IterShape& it, const Operand& out, const Operand& a,
                   const Operand& b, cudaStream_t stream) {
    if (it.numel == 0) return;
    switch (op) {
        case BinaryOp::add:
            return binary<Types::all>(it, out, a, b, Add{}, stream);
        case BinaryOp::sub:
            return binary<Types::numeric>(it, out, a, b, Sub{}, stream);
        case BinaryOp::mul:
            return binary<Types::all>(it, out, a, b, Mul{}, stream);
        case BinaryOp::div:
            return binary<Types::floating>(it, out, a, b, Div{}, stream);
        case BinaryOp::pow:
            return binary<Types::floating>(it, out, a, b, Pow{}, stream);
        case BinaryOp::maximum:
            return binary<Types::numeric>(it, out, a, b, Maximum{}, stream);
        case BinaryOp::minimum:
            return binary<Types::numeric>(it, out, a, b, Minimum{}, stream);
        case BinaryOp::gelu_backward:
            return binary<Types::floating>(it, out, a, b, GeluBackward{}, stream);
        case BinaryOp::eq:
            return compare(it, out, a, b, Eq{}, stream);
        case BinaryOp::ne:
            return compare(it, out, a, b, Ne{}, stream);
        case BinaryOp::lt:
            return compare(it, out, a, b, Lt{}, stream);
        case BinaryOp::le:
            return compare(it, out, a, b, Le{}, stream);
        case BinaryOp::gt:
            return compare(it, out, a, b, Gt{}, stream);
        case BinaryOp::ge:
            return compare(it, out, a, b, Ge{}, stream);
    }
}

void launch_where(const IterShape& it, const Operand& out, const Operand& condition,
                  const Operand& a, const Operand& b, cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_types<Types::all>(a.type, [&]<class T>() {
        ternary_kernel<T, bool, T, T><<<blocks_for(it.numel), kThreads, 0, stream>>>(
            it, Operands<4>{{out, condition, a, b}}, Select{});
    });
}

void launch_triangle(const IterShape& it, const Operand& out, const Operand& x, int64_t rows,
                     int64_t cols, int64_t diagonal, bool upper, cudaStream_t stream) {
    if (it.numel == 0) return;
    visit_types<Types::all>(x.type, [&]<class T>() {
        triangle_kernel<T><<<blocks_for(it.numel), kThreads, 0, stream>>>(
            it, Operands<2>{{out, x}}, rows, cols, diagonal, upper);
    });
}

void launch_one_hot_check(const IterShape& it, const Operand& ids, int64_t classes, int64_t* flag,
                          cudaStream_t stream) {
    // Every byte 0xff: flag[0] reads as -1 (no bad id) and, unsigned, as the largest position.
    // A failure here is the runtime's last error, which the caller's Launch::check reports.
    (void)cudaMemsetAsync(flag, 0xff, 2 * sizeof(int64_t), stream);
    if (it.numel == 0) return;
    one_hot_check_kernel<<<blocks_for(it.numel), kThreads, 0, stream>>>(
        it, Operands<1>{{ids}}, classes, reinterpret_cast<unsigned long long*>(flag));
    one_hot_bad_value_kernel<<<1, 1, 0, stream>>>(it, Operands<1>{{ids}}, flag);
}

void launch_one_hot(const IterShape& out_it, const Operand& out, const IterShape& ids_it,
                    const Operand& ids, int64_t classes, cudaStream_t stream) {
    if (out_it.numel == 0) return;
    one_hot_kernel<<<blocks_for(out_it.numel), kThreads, 0, stream>>>(
        out_it, Operands<1>{{out}}, ids_it, Operands<1>{{ids}}, classes);
}

}  // namespace gradstack::cuda
