#!/usr/bin/env python3
"""PyTorch side of `gradstack bench tensor`: the same float32 matmul shapes and the [4096, 768]
add, timed the same way (median of --reps after --warmup), printed as one JSON object on stdout.
Run by the C++ bench with Debian's python3-torch on the OpenMP build of OpenBLAS
(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2), the fair baseline
of /work/shared/BENCHMARKS.md. Without torch it prints {"skipped": reason} and exits 0."""
import argparse
import json
import statistics
import sys
import time

K = 768
ROWS = (512, 4096)
COLS = (768, 2304, 3072)


def median_seconds(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    try:
        import torch
    except ImportError as e:
        print(f"torch_tensor.py: PyTorch is not installed ({e}); skipping it", file=sys.stderr)
        print(json.dumps({"skipped": f"PyTorch is not installed: {e}"}))
        return 0

    result = {"version": torch.__version__, "matmul": [], "add": []}
    torch.manual_seed(0)
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        with torch.no_grad():
            for m in ROWS:
                for n in COLS:
                    for layout in ("KN", "NK"):
                        a = torch.randn(m, K)
                        # NK: b = W^T with W stored [N, K], like nn.Linear's weight.
                        b = torch.randn(n, K).t() if layout == "NK" else torch.randn(K, n)
                        s = median_seconds(lambda: torch.matmul(a, b), args.reps, args.warmup)
                        result["matmul"].append({"threads": threads, "M": m, "K": K, "N": n,
                                                 "layout": layout, "gflops": 2 * m * n * K / s / 1e9})
            x, y = torch.randn(4096, K), torch.randn(4096, K)
            s = median_seconds(lambda: x + y, args.reps, args.warmup)
            result["add"].append({"threads": threads, "gbps": 3 * x.numel() * 4 / s / 1e9})
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
