#!/usr/bin/env python3
"""PyTorch side of `gradstack bench gpt|train --device cuda`: torch_common.py's GPT-2 on the GPU,
eager mode, as torch_common's server. Commands besides threads / run / quit:
    model VOCAB POS EMBD LAYER HEAD       -> {"ok": true}   random weights on cuda:0
    train ID B T PREC                     -> {"ok": true}   run ID: one AdamW training step of B x T
                                                            tokens (forward, loss, backward, step)
    decode ID B P N PREC                  -> {"ok": true}   run ID: a P-token prompt (untimed), then
                                                            N greedy steps with the cache (timed)
    gemm ID N PREC                        -> {"ok": true}   run ID: one N x N x N matmul
PREC: fp32 (exact float32 matmuls), tf32 (allow_tf32) or bf16 (torch.autocast to bfloat16).
Times are taken after torch.cuda.synchronize(). Without torch or a GPU it answers {"skipped": ...}."""
import contextlib
import sys
import time

from torch_common import build, forward, serve

state = {"params": None, "n_head": 0}


def precision(torch, prec):
    torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
    torch.backends.cudnn.allow_tf32 = prec == "tf32"
    if prec == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_cuda(torch, p):
    if isinstance(p, torch.Tensor):
        return p.cuda()
    if isinstance(p, dict):
        return {k: to_cuda(torch, v) for k, v in p.items()}
    if isinstance(p, (list, tuple)):
        return type(p)(to_cuda(torch, v) for v in p)
    return p


def leaves(torch, p):
    if isinstance(p, torch.Tensor):
        return [p]
    items = p.values() if isinstance(p, dict) else p
    return [t for v in items for t in leaves(torch, v)]


def handle(torch, cmd, work):
    if not torch.cuda.is_available():
        return {"skipped": "torch.cuda.is_available() is False"}
    if cmd[0] == "model":
        vocab, n_pos, C, n_layer, n_head = map(int, cmd[1:6])
        state["params"] = to_cuda(torch, build(torch, vocab, n_pos, C, n_layer, n_head))
        state["n_head"] = n_head
        return {"ok": True}
    params, n_head = state["params"], state["n_head"]
    vocab = params["wte"].shape[0]
    if cmd[0] == "train":
        B, T, prec = int(cmd[2]), int(cmd[3]), cmd[4]
        ids = torch.randint(0, vocab, (B, T + 1), device="cuda")
        weights = leaves(torch, params)
        opt = torch.optim.AdamW(weights, lr=1e-4, weight_decay=0.1)

        def step():
            torch.cuda.synchronize()
            start = time.perf_counter()
            with torch.enable_grad():
                for w in weights:
                    w.requires_grad_(True)
                with precision(torch, prec):
                    logits, _ = forward(torch, params, n_head, ids[:, :-1], None)
                    loss = torch.nn.functional.cross_entropy(logits.float().view(-1, vocab),
                                                             ids[:, 1:].reshape(-1))
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
            torch.cuda.synchronize()
            return {"seconds": time.perf_counter() - start, "loss": loss.item()}
        work[cmd[1]] = step
        return {"ok": True}
    if cmd[0] == "decode":
        B, P, N, prec = int(cmd[2]), int(cmd[3]), int(cmd[4]), cmd[5]
        ids = torch.randint(0, vocab, (B, P), device="cuda")

        def decode():
            with precision(torch, prec):
                logits, past = forward(torch, params, n_head, ids, None)
                torch.cuda.synchronize()
                start = time.perf_counter()
                tokens = []
                for _ in range(N):
                    nxt = logits[:, -1].argmax(-1, keepdim=True)
                    tokens.append(int(nxt[0, 0]))  # the host reads each token, as ours does
                    logits, past = forward(torch, params, n_head, nxt, past)
                torch.cuda.synchronize()
            return {"seconds": time.perf_counter() - start, "tokens": tokens}
        work[cmd[1]] = decode
        return {"ok": True}
    if cmd[0] == "gemm":
        n, prec = int(cmd[2]), cmd[3]
        dtype = torch.bfloat16 if prec == "bf16" else torch.float32
        a = torch.randn(n, n, device="cuda", dtype=dtype)
        b = torch.randn(n, n, device="cuda", dtype=dtype)

        def gemm():
            precision(torch, prec)
            torch.cuda.synchronize()
            start = time.perf_counter()
            torch.matmul(a, b)
            torch.cuda.synchronize()
            return {"seconds": time.perf_counter() - start}
        work[cmd[1]] = gemm
        return {"ok": True}
    return {"error": f"unknown command {cmd[0]}"}


if __name__ == "__main__":
    sys.exit(serve("torch_cuda.py", handle))
