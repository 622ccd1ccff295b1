// Differential tests: every fast CPU kernel (tensor/cpu/) against its plain float64 twin
// (tensor/reference/), on random inputs of odd sizes and sizes around the fast kernels' tile and
// vector widths (attention: 4-row x 16-key tiles, 4 head dims at a time; reductions: 16 lanes;
// softmax / cross-entropy: 256-element exp blocks; Philox: 16 blocks = 64 elements), permuted and
// sliced (non-contiguous) inputs and outputs, masks, S > T caches and dropout, in float32 and
// float64. Each kernel's tolerance is stated where it is checked: float64 agrees to rounding
// (1e-12 or tighter); float32 to a few float32 ulps of the values, scaled by the length of the
// sums (matmul K, layer norm and cross-entropy rows). Plus the switch itself: GRADSTACK_KERNELS'
// parsing, the scoped guard, and which kernels have a reference.
#include <omp.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>

#include "autograd/ops.h"
#include "tensor/dispatch.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/index.h"
#include "tensor/kernels/linalg.h"
#include "tensor/kernels/nn.h"
#include "tensor/kernels/reduce.h"
#include "tensor/view.h"
#include "tests/tensor/differential.h"
#include "tests/test_util.h"

using namespace gradstack;
using namespace gradstack::test;

namespace {

std::string describe(DType dtype, Layout layout, const Shape& shape) {
    std::ostringstream s;
    s << dtype_name(dtype) << " " << name(layout) << " " << shape_str(shape);
    return s.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(reference_kernels)

BOOST_AUTO_TEST_CASE(the_switch_parses_guards_and_names_its_kernels) {
    BOOST_TEST((parse_kernel_set("reference", "GRADSTACK_KERNELS") == KernelSet::reference));
    BOOST_TEST((parse_kernel_set("fast", "GRADSTACK_KERNELS") == KernelSet::fast));
    const std::string e =
        testing::error_of([] { parse_kernel_set("plain", "GRADSTACK_KERNELS"); });
    BOOST_TEST(testing::contains(e, "GRADSTACK_KERNELS: 'plain' is not a kernel set"));
    BOOST_TEST(testing::contains(e, "use reference"));
    BOOST_TEST(testing::contains(e, "or fast"));
    const KernelSet before = kernel_set();
    {
        KernelSetGuard g(KernelSet::reference);
        BOOST_TEST((kernel_set() == KernelSet::reference));
        {
            KernelSetGuard inner(KernelSet::fast);
            BOOST_TEST((kernel_set() == KernelSet::fast));
        }
        BOOST_TEST((kernel_set() == KernelSet::reference));
    }
    BOOST_TEST((kernel_set() == before));
    // The switch really switches: OpenBLAS's float32 sums and the float64 loops round
    // differently somewhere in a 64 x 64 product (while agreeing to tolerance, below).
    Generator gen(0);
    const Tensor a = randn({64, 64}, DType::f32, &gen), b = randn({64, 64}, DType::f32, &gen);
    Tensor fast = empty({64, 64}), ref = empty({64, 64});
    {
        KernelSetGuard g(KernelSet::fast);
        kernels::matmul(fast, a, b, false);
    }
    {
        KernelSetGuard g(KernelSet::reference);
        kernels::matmul(ref, a, b, false);
    }
    BOOST_TEST(excess(fast, ref, {0, 0}) > 0);
    BOOST_TEST(excess(fast, ref, {1e-5, 1e-5}) <= 0);
    // Every fused, tiled, vectorised or BLAS kernel has a plain twin ...
    const std::vector<std::pair<const char*, bool>> optimised = {
        {"softmax", kernels::softmax.has_reference()},
        {"log_softmax", kernels::log_softmax.has_reference()},
        {"softmax_backward", kernels::softmax_backward.has_reference()},
        {"log_softmax_backward", kernels::log_softmax_backward.has_reference()},
        {"layer_norm", kernels::layer_norm.has_reference()},
        {"layer_norm_backward", kernels::layer_norm_backward.has_reference()},
        {"cross_entropy", kernels::cross_entropy.has_reference()},
        {"cross_entropy_backward", kernels::cross_entropy_backward.has_reference()},
        {"dropout", kernels::dropout.has_reference()},
        {"attention_forward", kernels::attention_forward.has_reference()},
        {"attention_backward", kernels::attention_backward.has_reference()},
        {"matmul", kernels::matmul.has_reference()},
        {"gelu", kernels::gelu.has_reference()},
        {"gelu_backward", kernels::gelu_backward.has_reference()},
        {"index_select", kernels::index_select.has_reference()},
        {"index_add", kernels::index_add.has_reference()},
        {"gather", kernels::gather.has_reference()},
        {"scatter_add", kernels::scatter_add.has_reference()},
        {"sum", kernels::sum.has_reference()},
        {"max", kernels::amax.has_reference()},
        {"min", kernels::amin.has_reference()},
        {"logsumexp", kernels::logsumexp.has_reference()},
        {"argmax", kernels::argmax.has_reference()},
        {"argmin", kernels::argmin.has_reference()},
        {"cumsum", kernels::cumsum.has_reference()},
        {"topk", kernels::topk.has_reference()},
        {"argsort", kernels::argsort.has_reference()},
        {"multinomial", kernels::multinomial.has_reference()},
    };
    for (const auto& [op, has] : optimised) BOOST_CHECK_MESSAGE(has, op << " has no reference");
    // ... and the plain loops (one `map` of a scalar formula) run as they are on both sets.
    BOOST_TEST(!kernels::add.has_reference());
    BOOST_TEST(!kernels::exp.has_reference());
    BOOST_TEST(!kernels::copy.has_reference());
}

// softmax / log_softmax forward and backward over the last dim and over dim 0.
// Tolerance, float32: 2e-7 absolute + 1e-5 relative (probabilities in [0, 1], log-probabilities
// of a few units; the fast exp is within ~1 ulp and sums are double in both).
BOOST_AUTO_TEST_CASE(softmax_and_log_softmax) {
    Generator gen(1);
    for (DType dt : kDtypes)
        for (int64_t C : kSizes)
            for (Layout layout : kLayouts)
                for (int64_t dim : {1, 0}) {
                    const Shape shape{dim == 1 ? 5 : C, dim == 1 ? C : 3};
                    const Tensor x = make(shape, dt, layout, gen, 3);
                    const Tensor gy = make(shape, dt, layout, gen);
                    const Tol tol = pick(dt, {2e-7, 1e-5});
                    for (bool log : {false, true}) {
                        const auto& fwd = log ? kernels::log_softmax : kernels::softmax;
                        const auto& bwd =
                            log ? kernels::log_softmax_backward : kernels::softmax_backward;
                        Tensor y = make_out(shape, dt, Layout::contiguous);
                        fwd(y, x, dim);  // one y for both backwards
                        differential(
                            std::string(log ? "log_softmax " : "softmax ") +
                                describe(dt, layout, shape) + " dim " + std::to_string(dim),
                            [&] {
                                Tensor out = make_out(shape, dt, layout);
                                Tensor gx = make_out(shape, dt, layout);
                                fwd(out, x, dim);
                                bwd(gx, gy, y, dim);
                                return Outputs{out, gx};
                            },
                            {tol, tol});
                    }
                }
}

// layer_norm forward (y, mean, rstd) and backward (dx, dweight, dbias), with and without the
// affine parameters. Tolerance, float32: y and dx 1e-5 + 1e-5 relative (unit-scale values);
// dweight / dbias, sums over rows: 1e-5 + 1e-4 relative.
BOOST_AUTO_TEST_CASE(layer_norm_forward_and_backward) {
    Generator gen(2);
    for (DType dt : kDtypes)
        for (int64_t C : kSizes)
            for (Layout layout : kLayouts)
                for (bool affine : {true, false}) {
                    const int64_t rows = C % 2 == 0 ? 3 : 70;  // 70 rows: more than the 64 chunks
                    const Shape shape{rows, C};
                    const Tensor x = make(shape, dt, layout, gen, 2, 0.5);
                    const Tensor gy = make(shape, dt, layout, gen);
                    const Tensor w = affine ? make({C}, dt, layout, gen) : Tensor();
                    const Tensor b = affine ? make({C}, dt, layout, gen) : Tensor();
                    Tensor mean = empty({rows}, dt), rstd = empty({rows}, dt);
                    Tensor y0 = empty(shape, dt);
                    kernels::layer_norm(y0, mean, rstd, x, w, b, 1e-5);  // saved for both
                    const Tol v = pick(dt, {1e-5, 1e-5}), sums = pick(dt, {1e-5, 1e-4});
                    differential(
                        "layer_norm " + describe(dt, layout, shape) + (affine ? " affine" : ""),
                        [&] {
                            Tensor y = make_out(shape, dt, layout);
                            Tensor m = empty({rows}, dt), r = empty({rows}, dt);
                            kernels::layer_norm(y, m, r, x, w, b, 1e-5);
                            Tensor gx = make_out(shape, dt, layout);
                            Tensor gw = affine ? empty({C}, dt) : Tensor();
                            Tensor gb = affine ? empty({C}, dt) : Tensor();
                            kernels::layer_norm_backward(gy, x, w, mean, rstd, gx, gw, gb);
                            return Outputs{y, m, r, gx, gw, gb};
                        },
                        {v, v, v, v, sums, sums});
                }
}

// cross_entropy forward (loss, lse) and backward, with ignored rows, label smoothing, logits
// shifted by 40 (the lse then needs its digits) and rows longer than the 256-element exp block.
// Tolerance, float32: loss 1e-5 + 1e-5 relative; lse (float64, from float32 exps in the fast
// kernel) 1e-6;
// gradient 1e-7 + 1e-5 relative (softmax values).
BOOST_AUTO_TEST_CASE(cross_entropy_forward_and_backward) {
    Generator gen(3);
    std::vector<int64_t> classes = kSizes;
    classes.push_back(300);
    classes.push_back(1031);
    for (DType dt : kDtypes)
        for (int64_t C : classes)
            for (Layout layout : kLayouts)
                for (double ls : {0.0, 0.1}) {
                    const int64_t N = 6;
                    const Tensor logits = make({N, C}, dt, layout, gen, 4, 40);
                    std::vector<int64_t> t(N);
                    for (int64_t r = 0; r < N; ++r) t[r] = r == 2 ? -100 : (r * 7 + C / 2) % C;
                    const Tensor target = from_vector<int64_t>(t, {N});
                    const Tensor gloss = make({N}, dt, Layout::contiguous, gen);
                    Tensor loss0 = empty({N}, dt), lse = empty({N}, DType::f64);
                    kernels::cross_entropy(loss0, lse, logits, target, -100, ls);
                    differential(
                        "cross_entropy " + describe(dt, layout, {N, C}) +
                            " ls " + std::to_string(ls),
                        [&] {
                            Tensor loss = empty({N}, dt), l = empty({N}, DType::f64);
                            kernels::cross_entropy(loss, l, logits, target, -100, ls);
                            Tensor gx = make_out({N, C}, dt, layout);
                            kernels::cross_entropy_backward(gx, gloss, logits, lse, target, -100,
                                                            ls);
                            return Outputs{loss, l, gx};
                        },
                        {pick(dt, {1e-5, 1e-5}), pick(dt, {1e-6, 0}), pick(dt, {1e-7, 1e-5})});
                }
}

// dropout: the same elements are dropped (the vectorised Philox of cpu/philox.h against the
// scalar Generator::block), over lengths around the 64-element Philox group, counters that do
// not start a group, and strided inputs. Kept values: 3e-7 relative, 2 float32 ulps (the factor
// 1 / (1 - p) is rounded to float32 before the product in the fast kernel); float64 1e-15.
BOOST_AUTO_TEST_CASE(dropout_masks_agree) {
    Generator gen(4);
    for (DType dt : kDtypes)
        for (int64_t n : {1, 3, 63, 64, 65, 129, 1000})
            for (Layout layout : kLayouts)
                for (double p : {0.1, 0.5})
                    for (uint64_t counter : {0, 5}) {
                        const Tensor x = make({n, 3}, dt, layout, gen, 1, 3);  // no zeros
                        differential(
                            "dropout " + describe(dt, layout, {n, 3}) + " p " +
                                std::to_string(p) + " counter " + std::to_string(counter),
                            [&] {
                                Tensor out = make_out({n, 3}, dt, layout);
                                kernels::dropout(out, x, p, 77, counter);
                                return Outputs{out};
                            },
                            {pick(dt, {0, 3e-7}, {0, 1e-15})});
                    }
}

// Fused causal attention forward (out, lse) and backward (dq, dk, dv) with: T around the 4-row
// tile, S = T or a cache S > T crossing 16-key tiles, head sizes around the 4-dim groups, no mask
// / a padding mask (B, 1, 1, S) with padded keys / a full random additive mask, dropout off and
// on, q a permuted view (c_attn's (B, T, nh, hs) output) and k, v slices of a longer cache.
// Tolerance, float32: out 1e-6 + 1e-5 relative, lse 1e-6 + 1e-5; gradients 1e-6 + 1e-4
// relative (sums over S keys).
BOOST_AUTO_TEST_CASE(attention_forward_and_backward) {
    Generator gen(5);
    struct Case {
        int64_t B, H, T, S, hs;
    };
    const std::vector<Case> cases = {{1, 1, 1, 1, 1},  {2, 2, 3, 3, 7},   {1, 2, 4, 4, 8},
                                     {2, 1, 5, 5, 9},  {1, 3, 7, 20, 16}, {2, 2, 9, 17, 17},
                                     {1, 1, 16, 16, 33}, {1, 2, 17, 33, 4}, {1, 1, 1, 65, 64},
                                     {1, 2, 33, 33, 5}};
    for (DType dt : kDtypes)
        for (const Case& c : cases)
            for (int mask_kind : {0, 1, 2})
                for (double p : {0.0, 0.3}) {
                    const Shape qs{c.B, c.H, c.T, c.hs}, ks{c.B, c.H, c.S, c.hs};
                    // q: (B, T, nh, hs) contiguous, viewed as (B, nh, T, hs).
                    const Tensor q = views::permute(
                        make({c.B, c.T, c.H, c.hs}, dt, Layout::contiguous, gen), {0, 2, 1, 3});
                    // k, v: the first S rows of a cache of S + 5.
                    const Tensor k = views::slice(
                        make({c.B, c.H, c.S + 5, c.hs}, dt, Layout::contiguous, gen), 2, 0, c.S);
                    const Tensor v = make(ks, dt, Layout::sliced, gen);
                    Tensor mask;
                    const double lowest = dt == DType::f32
                                              ? static_cast<double>(std::numeric_limits<float>::lowest())
                                              : std::numeric_limits<double>::lowest();
                    if (mask_kind == 1) {  // padding: key j of batch b padded when (j + b) % 3 == 0
                        std::vector<double> m(c.B * c.S);
                        for (int64_t b = 0; b < c.B; ++b)
                            for (int64_t j = 0; j < c.S; ++j)
                                m[b * c.S + j] = (j + b) % 3 == 0 ? lowest : 0.0;
                        mask = to_dtype(from_vector<double>(m, {c.B, 1, 1, c.S}), dt);
                    } else if (mask_kind == 2) {
                        mask = make({c.B, c.H, c.T, c.S}, dt, Layout::permuted, gen);
                    }
                    const Tensor gout = make(qs, dt, Layout::permuted, gen);
                    Tensor out0 = empty(qs, dt), lse = empty({c.B, c.H, c.T}, dt);
                    kernels::attention_forward(out0, lse, q, k, v, mask, p, 11, 3);
                    std::ostringstream what;
                    what << "attention " << dtype_name(dt) << " B " << c.B << " nh " << c.H
                         << " T " << c.T << " S " << c.S << " hs " << c.hs << " mask "
                         << mask_kind << " p " << p;
                    const Tol v_tol = pick(dt, {1e-6, 1e-5}), g_tol = pick(dt, {1e-6, 1e-4});
                    differential(
                        what.str(),
                        [&] {
                            Tensor out = empty(qs, dt), l = empty({c.B, c.H, c.T}, dt);
                            kernels::attention_forward(out, l, q, k, v, mask, p, 11, 3);
                            Tensor dq = empty(qs, dt), dk = empty(ks, dt), dv = empty(ks, dt);
                            kernels::attention_backward(gout, q, k, v, mask, lse, p, 11, 3, dq,
                                                        dk, dv);
                            return Outputs{out, l, dq, dk, dv};
                        },
                        {v_tol, v_tol, g_tol, g_tol, g_tol});
                }
}

// matmul: square and odd shapes around the tile sizes; the batched forms the fast kernel treats
// specially (b shared by the batch: folded into one gemm; broadcast batch dims; M = 1 and N = 1:
// gemv), transposed operands (read by BLAS in place), strided ones (copied first), a transposed
// output, and accumulate. Tolerance, float32: 1e-6 sqrt(K) + 1e-5 relative.
BOOST_AUTO_TEST_CASE(matmul_forms) {
    Generator gen(6);
    struct Case {
        Shape a, b;
    };
    std::vector<Case> cases;
    for (int64_t n : kSizes) cases.push_back({{n, n}, {n, n}});
    for (int64_t n : {7, 16, 33, 65}) {
        cases.push_back({{2, 3, n, 9}, {9, 17}});       // b shared: one folded gemm
        cases.push_back({{n, 8}, {2, 8, 15}});          // a broadcast over b's batch
        cases.push_back({{2, 1, 1, n}, {1, 3, n, 31}}); // M = 1 (gemv), broadcast batch
        cases.push_back({{3, 17, n}, {3, n, 1}});       // N = 1 (gemv)
        cases.push_back({{4, n, 64}, {4, 64, 9}});      // a batch of products
    }
    for (DType dt : kDtypes)
        for (const Case& c : cases)
            for (Layout la : kLayouts)
                for (Layout lb : kLayouts)
                    for (bool acc : {false, true}) {
                        const Tensor a = make(c.a, dt, la, gen), b = make(c.b, dt, lb, gen);
                        const Shape os = kernels::matmul_shape(a, b);
                        const Tensor base = make(os, dt, Layout::contiguous, gen);
                        const double K = static_cast<double>(c.a.back());
                        std::ostringstream what;
                        what << "matmul " << dtype_name(dt) << " a " << shape_str(c.a) << " "
                             << name(la) << " b " << shape_str(c.b) << " " << name(lb)
                             << (acc ? " accumulate" : "");
                        differential(
                            what.str(),
                            [&] {
                                Tensor out = make_out(os, dt, la);  // sometimes transposed
                                kernels::copy(out, base);
                                kernels::matmul(out, a, b, acc);
                                return Outputs{out};
                            },
                            {pick(dt, {1e-6 * std::sqrt(K), 1e-5})});
                    }
}

// gelu (GPT-2's gelu_new) and its backward over [-12, 12]: the float32 fast kernel's sigmoid
// form with its own exp against tanh in float64. Tolerance, float32: 1e-6 + 1e-5 relative.
BOOST_AUTO_TEST_CASE(gelu_forward_and_backward) {
    Generator gen(7);
    for (DType dt : kDtypes)
        for (int64_t n : kSizes)
            for (Layout layout : kLayouts) {
                const Tensor x = make({n, 5}, dt, layout, gen, 4);
                const Tensor gy = make({n, 5}, dt, layout, gen);
                differential(
                    "gelu " + describe(dt, layout, {n, 5}),
                    [&] {
                        Tensor y = make_out({n, 5}, dt, layout), gx = make_out({n, 5}, dt, layout);
                        kernels::gelu(y, x);
                        kernels::gelu_backward(gx, gy, x);
                        return Outputs{y, gx};
                    },
                    {pick(dt, {1e-6, 1e-5}), pick(dt, {1e-6, 1e-5})});
            }
}

// index_select / index_add (the embedding lookup and its backward, with repeated ids) along
// dims 0 and 1, gather / scatter_add along each dim, float and int64. Tolerance, float32:
// 1e-6 + 1e-6 relative (index_add sums repeated ids in float32 in the fast kernel).
BOOST_AUTO_TEST_CASE(index_kernels) {
    Generator gen(8);
    for (DType dt : {DType::f32, DType::f64, DType::i64})
        for (int64_t C : {1, 15, 64, 65, 200})
            for (Layout layout : kLayouts)
                for (int64_t dim : {0, 1}) {
                    const Shape xs{7, C};
                    const Tensor x = dt == DType::i64 ? randint(-50, 50, xs, &gen)
                                                      : make(xs, dt, layout, gen);
                    const int64_t size = xs[dim];
                    const Tensor ids = randint(0, size, {11}, &gen);  // repeats
                    Shape ss = xs;
                    ss[dim] = 11;
                    const Tensor src = dt == DType::i64 ? randint(-50, 50, ss, &gen)
                                                        : make(ss, dt, layout, gen);
                    // gather / scatter_add: 5 ids per line along dim, one line fewer than x
                    // in the other dim.
                    Shape is = xs;
                    is[dim] = 5;
                    is[1 - dim] = std::max<int64_t>(1, xs[1 - dim] - 1);
                    const Tensor gidx = randint(0, size, is, &gen);
                    const Tol tol = pick(dt, {1e-6, 1e-6}, {1e-12, 1e-12});
                    differential(
                        "index " + describe(dt, layout, xs) + " dim " + std::to_string(dim),
                        [&] {
                            Tensor sel =
                                dt == DType::i64 ? empty(ss, dt) : make_out(ss, dt, layout);
                            kernels::index_select(sel, x, dim, ids);
                            Tensor added = kernels::clone(x);
                            kernels::index_add(added, dim, ids, src);
                            Tensor gathered = empty(is, dt);
                            kernels::gather(gathered, x, dim, gidx);
                            Tensor scattered = kernels::clone(x);
                            kernels::scatter_add(scattered, dim, gidx, src);
                            return Outputs{sel, added, gathered, scattered};
                        },
                        {tol, tol, tol, tol});
                }
}

// Reductions over every dim set of a 3-d tensor (sum, max, min, logsumexp) and along each dim
// (argmax, argmin, cumsum forward and reverse), with NaN in one case. Tolerance, float32:
// 1e-6 + 1e-6 relative (sums in double in both); indices exact.
BOOST_AUTO_TEST_CASE(reductions) {
    Generator gen(9);
    const std::vector<std::vector<int64_t>> dim_sets = {{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2},
                                                        {0, 1, 2}};
    for (DType dt : {DType::f32, DType::f64, DType::i64})
        for (const Shape& shape : {Shape{3, 17, 5}, Shape{2, 65, 33}, Shape{16, 1, 31}})
            for (Layout layout : kLayouts)
                for (bool nan : {false, true}) {
                    if (nan && dt == DType::i64) continue;
                    Tensor x = dt == DType::i64 ? randint(-9, 9, shape, &gen)
                                                : make(shape, dt, layout, gen);
                    if (nan) {
                        x = kernels::clone(x);
                        if (dt == DType::f32)
                            x.data<float>()[5] = NAN;
                        else
                            x.data<double>()[5] = NAN;
                    }
                    const Tol tol = pick(dt, {1e-6, 1e-6}, {1e-12, 1e-12});
                    const Tol exact{0, 0};
                    for (const auto& dims : dim_sets) {
                        const Shape rs = kernels::reduced_shape(shape, dims);
                        differential(
                            "reduce " + describe(dt, layout, shape) + (nan ? " nan" : "") +
                                " dims " + std::to_string(dims.size()) + ":" +
                                std::to_string(dims[0]),
                            [&] {
                                Tensor s = empty(rs, dt), mx = empty(rs, dt), mn = empty(rs, dt);
                                kernels::sum(s, x, dims);
                                kernels::amax(mx, x, dims);
                                kernels::amin(mn, x, dims);
                                Tensor lse;
                                if (dt != DType::i64) {
                                    lse = empty(rs, dt);
                                    kernels::logsumexp(lse, x, dims);
                                }
                                return Outputs{s, mx, mn, lse};
                            },
                            {tol, exact, exact, tol});
                    }
                    for (int64_t dim = 0; dim < 3; ++dim) {
                        Shape one = shape;
                        one[dim] = 1;
                        differential(
                            "along " + describe(dt, layout, shape) + (nan ? " nan" : "") +
                                " dim " + std::to_string(dim),
                            [&] {
                                Tensor amax = empty(one, DType::i64), amin = empty(one, DType::i64);
                                kernels::argmax(amax, x, dim);
                                kernels::argmin(amin, x, dim);
                                Tensor cs = empty(shape, dt), rcs = empty(shape, dt);
                                kernels::cumsum(cs, x, dim, false);
                                kernels::cumsum(rcs, x, dim, true);
                                return Outputs{amax, amin, cs, rcs};
                            },
                            {exact, exact, tol, tol});
                    }
                }
}

// topk and argsort with many ties (values from a set of 5) along each dim, and multinomial with
// and without replacement from the same generator state: indices and draws must be identical.
BOOST_AUTO_TEST_CASE(ordering_and_sampling) {
    Generator gen(10);
    const Tol exact{0, 0};
    for (DType dt : {DType::f32, DType::f64, DType::i64})
        for (const Shape& shape : {Shape{4, 17}, Shape{3, 65}, Shape{33, 2}})
            for (int64_t dim : {0, 1}) {
                Tensor x = to_dtype(randint(0, 5, shape, &gen), dt);
                if (dt == DType::f32) x.data<float>()[3] = NAN;
                const int64_t k = std::min<int64_t>(shape[dim], 7);
                Shape ks = shape;
                ks[dim] = k;
                differential(
                    "order " + describe(dt, Layout::contiguous, shape) + " dim " +
                        std::to_string(dim),
                    [&] {
                        Tensor top = empty(ks, DType::i64), bottom = empty(ks, DType::i64);
                        kernels::topk(top, x, k, dim, true);
                        kernels::topk(bottom, x, k, dim, false);
                        Tensor up = empty(shape, DType::i64), down = empty(shape, DType::i64);
                        kernels::argsort(up, x, dim, false);
                        kernels::argsort(down, x, dim, true);
                        return Outputs{top, bottom, up, down};
                    },
                    {exact, exact, exact, exact});
            }
    for (DType dt : kDtypes)
        for (int64_t C : {1, 9, 64, 200}) {
            Tensor probs = to_dtype(rand({5, C}, DType::f64, &gen), dt);
            for (bool replacement : {true, false}) {
                const int64_t S = replacement ? 6 : std::min<int64_t>(C, 4);
                differential(
                    "multinomial " + std::string(dtype_name(dt)) + " C " + std::to_string(C) +
                        (replacement ? " with" : " without") + " replacement",
                    [&] {
                        Generator g(123);
                        Tensor out = empty({5, S}, DType::i64);
                        kernels::multinomial(out, probs, replacement, g);
                        Tensor again = empty({5, 1}, DType::i64);
                        kernels::multinomial(again, probs, replacement, g);
                        return Outputs{out, again};
                    },
                    {exact, exact});
            }
        }
}

// Edge values: -inf entries and an all -inf row in softmax (NaN in both, like PyTorch), logits
// near 1000 in log_softmax and cross-entropy (the fast kernels keep their digits with split
// subtractions), layer norm of rows offset by 1e4, an empty matmul sum (K = 0) and an empty
// reduction, gelu at large |x|, and a long attention row (S = 130 keys, T = 65).
BOOST_AUTO_TEST_CASE(edge_values) {
    Generator gen(11);
    const double inf = INFINITY;
    for (DType dt : kDtypes) {
        const Tensor x = to_dtype(
            from_vector<double>({1, -inf, 3, -inf, -inf, -inf, -inf, -inf, 0.5, 2, -inf, 7}, {3, 4}),
            dt);
        differential(
            std::string("softmax with -inf ") + std::string(dtype_name(dt)),
            [&] {
                Tensor y = empty({3, 4}, dt), l = empty({3, 4}, dt);
                kernels::softmax(y, x, 1);
                kernels::log_softmax(l, x, 1);
                return Outputs{y, l};
            },
            {pick(dt, {1e-7, 1e-6}), pick(dt, {1e-6, 1e-6})});
        const Tensor big = make({4, 300}, dt, Layout::contiguous, gen, 3, 1000);
        const Tensor target = from_vector<int64_t>({0, 17, 299, 150}, {4});
        differential(
            std::string("logits near 1000 ") + std::string(dtype_name(dt)),
            [&] {
                Tensor l = empty({4, 300}, dt);
                kernels::log_softmax(l, big, 1);
                Tensor loss = empty({4}, dt), lse = empty({4}, DType::f64);
                kernels::cross_entropy(loss, lse, big, target, -100, 0.0);
                Tensor gx = empty({4, 300}, dt);
                kernels::cross_entropy_backward(gx, ones({4}, dt), big, lse, target, -100, 0.0);
                return Outputs{l, loss, gx};
            },
            {pick(dt, {1e-5, 1e-6}), pick(dt, {1e-5, 1e-6}), pick(dt, {1e-7, 1e-5})});
        const Tensor offset = make({5, 64}, dt, Layout::contiguous, gen, 1, 1e4);
        differential(
            std::string("layer_norm of rows offset by 1e4 ") + std::string(dtype_name(dt)),
            [&] {
                Tensor y = empty({5, 64}, dt), m = empty({5}, dt), r = empty({5}, dt);
                kernels::layer_norm(y, m, r, offset, Tensor(), Tensor(), 1e-5);
                return Outputs{y, m, r};
            },
            // y, float32: 1e-6 (the fast kernel subtracts the mean as hi + lo; with hi alone it
            // was 6e-4 off here). float64: a sum of 64 values near 1e4 rounds differently in
            // each set's order, ~1e-12 of 1e4, so y, the mean and rstd agree to 1e-10.
            {pick(dt, {1e-6, 1e-6}, {1e-10, 1e-10}), pick(dt, {0, 1e-7}, {0, 1e-14}),
             pick(dt, {0, 1e-6}, {1e-10, 1e-10})});
        differential(
            std::string("empty sums ") + std::string(dtype_name(dt)),
            [&] {
                Tensor out = full({3, 4}, 5, dt);
                kernels::matmul(out, empty({3, 0}, dt), empty({0, 4}, dt), true);
                Tensor fresh = full({3, 4}, 5, dt);
                kernels::matmul(fresh, empty({3, 0}, dt), empty({0, 4}, dt), false);
                Tensor s = empty({1, 4}, dt);
                kernels::sum(s, empty({0, 4}, dt), {0});
                return Outputs{out, fresh, s};
            },
            {{0, 0}, {0, 0}, {0, 0}});
        const Tensor wide = to_dtype(linspace(-30, 30, 301, DType::f64), dt);
        differential(
            std::string("gelu over [-30, 30] ") + std::string(dtype_name(dt)),
            [&] {
                Tensor y = empty({301}, dt), g = empty({301}, dt);
                kernels::gelu(y, wide);
                kernels::gelu_backward(g, ones({301}, dt), wide);
                return Outputs{y, g};
            },
            {pick(dt, {1e-6, 1e-5}), pick(dt, {1e-6, 1e-5})});
        const Tensor q = make({1, 2, 65, 64}, dt, Layout::contiguous, gen);
        const Tensor k = make({1, 2, 130, 64}, dt, Layout::contiguous, gen);
        const Tensor v = make({1, 2, 130, 64}, dt, Layout::contiguous, gen);
        const Tensor gout = make({1, 2, 65, 64}, dt, Layout::contiguous, gen);
        Tensor out0 = empty({1, 2, 65, 64}, dt), lse = empty({1, 2, 65}, dt);
        kernels::attention_forward(out0, lse, q, k, v, Tensor(), 0.1, 5, 0);
        differential(
            std::string("attention T 65 S 130 hs 64 ") + std::string(dtype_name(dt)),
            [&] {
                Tensor out = empty({1, 2, 65, 64}, dt), l = empty({1, 2, 65}, dt);
                kernels::attention_forward(out, l, q, k, v, Tensor(), 0.1, 5, 0);
                Tensor dq = empty(q.shape(), dt), dk = empty(k.shape(), dt),
                       dv = empty(v.shape(), dt);
                kernels::attention_backward(gout, q, k, v, Tensor(), lse, 0.1, 5, 0, dq, dk, dv);
                return Outputs{out, l, dq, dk, dv};
            },
            {pick(dt, {1e-6, 1e-5}), pick(dt, {1e-6, 1e-5}), pick(dt, {1e-6, 1e-4}),
             pick(dt, {1e-6, 1e-4}), pick(dt, {1e-6, 1e-4})});
    }
    // Both sets refuse the same bad input: a max over an empty dim.
    for (KernelSet set : {KernelSet::fast, KernelSet::reference}) {
        KernelSetGuard g(set);
        Tensor out = empty({1, 4});
        BOOST_TEST(testing::contains(
            testing::error_of([&] { kernels::amax(out, empty({0, 4}), {0}); }), "size 0"));
    }
}

// The fast kernels' parallel paths, which a one-thread run (OMP_NUM_THREADS=1) never takes, on 3
// threads: attention with fewer heads than threads (the threads share one head and sum private
// dk / dv), a batch of small products spread over threads, index_add over column blocks, dropout
// over Philox groups, and a max of one long row cut into pieces. Tolerances as above.
BOOST_AUTO_TEST_CASE(parallel_paths) {
    const int threads = omp_get_max_threads();
    omp_set_num_threads(3);
    Generator gen(12);
    for (DType dt : kDtypes) {
        const Tensor q = make({1, 2, 40, 32}, dt, Layout::permuted, gen);
        const Tensor k = make({1, 2, 50, 32}, dt, Layout::contiguous, gen);
        const Tensor v = make({1, 2, 50, 32}, dt, Layout::sliced, gen);
        const Tensor gout = make({1, 2, 40, 32}, dt, Layout::contiguous, gen);
        Tensor out0 = empty({1, 2, 40, 32}, dt), lse = empty({1, 2, 40}, dt);
        kernels::attention_forward(out0, lse, q, k, v, Tensor(), 0.2, 9, 1);
        const Tensor a = make({6, 9, 33}, dt, Layout::contiguous, gen);
        const Tensor b = make({6, 33, 17}, dt, Layout::permuted, gen);
        const Tensor table = make({30, 4000}, dt, Layout::contiguous, gen);
        const Tensor rows = make({11, 4000}, dt, Layout::contiguous, gen);
        const Tensor ids = randint(0, 30, {11}, &gen);
        const Tensor long_row = make({1, 100000}, dt, Layout::contiguous, gen);
        differential(
            std::string("parallel paths ") + std::string(dtype_name(dt)),
            [&] {
                Tensor out = empty(q.shape(), dt), l = empty({1, 2, 40}, dt);
                kernels::attention_forward(out, l, q, k, v, Tensor(), 0.2, 9, 1);
                Tensor dq = empty(q.shape(), dt), dk = empty(k.shape(), dt),
                       dv = empty(v.shape(), dt);
                kernels::attention_backward(gout, q, k, v, Tensor(), lse, 0.2, 9, 1, dq, dk, dv);
                Tensor c = empty({6, 9, 17}, dt);
                kernels::matmul(c, a, b, false);
                Tensor added = kernels::clone(table);
                kernels::index_add(added, 0, ids, rows);
                Tensor dropped = empty(long_row.shape(), dt);
                kernels::dropout(dropped, long_row, 0.5, 3, 7);
                Tensor mx = empty({1, 1}, dt);
                kernels::amax(mx, long_row, {1});
                return Outputs{out, l, dq, dk, dv, c, added, dropped, mx};
            },
            {pick(dt, {1e-6, 1e-5}), pick(dt, {1e-6, 1e-5}), pick(dt, {1e-6, 1e-4}),
             pick(dt, {1e-6, 1e-4}), pick(dt, {1e-6, 1e-4}), pick(dt, {1e-6 * std::sqrt(33.0), 1e-5}),
             pick(dt, {1e-6, 1e-6}), pick(dt, {0, 3e-7}, {0, 1e-15}), {0, 0}});
    }
    omp_set_num_threads(threads);
}

BOOST_AUTO_TEST_SUITE_END()
