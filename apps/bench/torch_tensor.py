#!/usr/bin/env python3
"""PyTorch side of `gradstack bench tensor`, run as a server so that its timings interleave with
gradstack's rep by rep (on a shared machine, load from other processes then hits all engines
alike). It reads one command per line on stdin and answers one JSON line on stdout:
    threads N                        -> {"ok": true}         torch.set_num_threads(N)
    matmul ID M K N LAYOUT           -> {"ok": true}         a [M, K] and b: [K, N] when LAYOUT
                                                             is KN, W^T with W [N, K] when NK
    add ID ROWS COLS                 -> {"ok": true}         x, y [ROWS, COLS]
    softmax ID ROWS COLS             -> {"ok": true}         softmax of x [ROWS, COLS], last dim
    layer_norm ID ROWS COLS          -> {"ok": true}         layer_norm of x [ROWS, COLS], last dim
    run ID                           -> {"seconds": s}       one timed torch.matmul(a, b) / x + y
    quit
The C++ bench starts it with Debian's python3-torch on the OpenMP build of OpenBLAS
(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2), the fair baseline
of /work/shared/BENCHMARKS.md. Without torch it answers {"skipped": reason} and exits 0."""
import json
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    try:
        import torch
    except ImportError as e:
        print(f"torch_tensor.py: PyTorch is not installed ({e}); skipping it", file=sys.stderr)
        reply({"skipped": f"PyTorch is not installed: {e}"})
        return 0
    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    reply({"version": torch.__version__})
    work = {}
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        if cmd[0] == "threads":
            torch.set_num_threads(int(cmd[1]))
            reply({"ok": True})
        elif cmd[0] == "matmul":
            key, m, k, n, layout = cmd[1], int(cmd[2]), int(cmd[3]), int(cmd[4]), cmd[5]
            a = torch.randn(m, k)
            b = torch.randn(n, k).t() if layout == "NK" else torch.randn(k, n)
            work[key] = lambda a=a, b=b: torch.matmul(a, b)
            reply({"ok": True})
        elif cmd[0] == "add":
            x, y = torch.randn(int(cmd[2]), int(cmd[3])), torch.randn(int(cmd[2]), int(cmd[3]))
            work[cmd[1]] = lambda x=x, y=y: x + y
            reply({"ok": True})
        elif cmd[0] == "softmax":
            x = torch.randn(int(cmd[2]), int(cmd[3]))
            work[cmd[1]] = lambda x=x: torch.softmax(x, -1)
            reply({"ok": True})
        elif cmd[0] == "layer_norm":
            cols = int(cmd[3])
            x, w, b = torch.randn(int(cmd[2]), cols), torch.randn(cols), torch.randn(cols)
            work[cmd[1]] = lambda x=x, w=w, b=b: torch.nn.functional.layer_norm(x, (cols,), w, b)
            reply({"ok": True})
        elif cmd[0] == "run":
            fn = work[cmd[1]]
            start = time.perf_counter()
            fn()
            reply({"seconds": time.perf_counter() - start})
        else:
            reply({"error": f"unknown command {cmd[0]}"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
