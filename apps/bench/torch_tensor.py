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
    attention ID B NH T HS P         -> {"ok": true}         causal attention forward + backward
                                                             of q, k, v [B, NH, T, HS], dropout P
    run ID                           -> {"seconds": s}       one timed torch.matmul(a, b) / x + y
The C++ bench starts it with Debian's python3-torch on the OpenMP build of OpenBLAS
(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2), the fair PyTorch
baseline (the same BLAS and thread count as gradstack). Without torch it answers {"skipped": reason} and exits 0."""
import math
import sys

from torch_common import serve, timed


def handle(torch, cmd, work):
    if cmd[0] == "matmul":
        key, m, k, n, layout = cmd[1], int(cmd[2]), int(cmd[3]), int(cmd[4]), cmd[5]
        a = torch.randn(m, k)
        b = torch.randn(n, k).t() if layout == "NK" else torch.randn(k, n)
        work[key] = timed(lambda a=a, b=b: torch.matmul(a, b))
    elif cmd[0] == "add":
        x, y = torch.randn(int(cmd[2]), int(cmd[3])), torch.randn(int(cmd[2]), int(cmd[3]))
        work[cmd[1]] = timed(lambda x=x, y=y: x + y)
    elif cmd[0] == "softmax":
        x = torch.randn(int(cmd[2]), int(cmd[3]))
        work[cmd[1]] = timed(lambda x=x: torch.softmax(x, -1))
    elif cmd[0] == "layer_norm":
        cols = int(cmd[3])
        x, w, b = torch.randn(int(cmd[2]), cols), torch.randn(cols), torch.randn(cols)
        work[cmd[1]] = timed(
            lambda x=x, w=w, b=b: torch.nn.functional.layer_norm(x, (cols,), w, b))
    elif cmd[0] == "attention":
        B, nh, T, hs, p = int(cmd[2]), int(cmd[3]), int(cmd[4]), int(cmd[5]), float(cmd[6])
        q, k, v, g = (torch.randn(B, nh, T, hs) for _ in range(4))
        for t in (q, k, v):
            t.requires_grad_()
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        F = torch.nn.functional

        def attention(q=q, k=k, v=v, g=g, causal=causal):
            # nanoGPT's / Hugging Face's attention in torch 1.13: every (B, nh, T, T) tensor is
            # materialised (1.13 has no fused attention on the CPU).
            with torch.enable_grad():
                att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
                att = att.masked_fill(~causal, float("-inf"))
                att = F.dropout(F.softmax(att, dim=-1), p, training=True)
                torch.autograd.grad(att @ v, (q, k, v), g)
        work[cmd[1]] = timed(attention)
    else:
        return {"error": f"unknown command {cmd[0]}"}
    return {"ok": True}


if __name__ == "__main__":
    sys.exit(serve("torch_tensor.py", handle))
