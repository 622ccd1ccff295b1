#!/usr/bin/env python3
"""PyTorch side of `gradstack bench gpt`: the GPT-2 of torch_common.py (plain torch ops, its own
key/value cache), run as torch_common's server. Commands besides threads / run / quit:
    threads N                          -> {"ok": true}
    model VOCAB POS EMBD LAYER HEAD    -> {"ok": true}       random weights, seeded (torch RNG)
    prompt ID B T                      -> {"ok": true}       run ID: one forward of B x T tokens
    decode ID B P N                    -> {"ok": true}       run ID: P-token prompt (untimed),
                                                             then N greedy cached steps (timed)
    generate ID T                      -> {"ok": true}       run ID: the first token of a T-token
                                                             prompt as Hugging Face's generate()
                                                             gets it: the forward with its cache
                                                             (use_cache), the last row's
                                                             log_softmax and argmax
    run ID                             -> {"seconds": s, "tokens": [...]}
    memory                             -> {"vmhwm_kb": k}    this process's peak resident set
    quit
Started with Debian's python3-torch on the OpenMP build of OpenBLAS, OMP_NUM_THREADS=2 (the fair
PyTorch baseline: the same BLAS and thread count as gradstack). Without torch it answers {"skipped": reason}."""
import sys
import time

from torch_common import build, forward, serve


def vmhwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


state = {"params": None, "n_head": 0}


def handle(torch, cmd, work):
    if cmd[0] == "model":
        vocab, n_pos, C, n_layer, n_head = map(int, cmd[1:6])
        state["params"], state["n_head"] = build(torch, vocab, n_pos, C, n_layer, n_head), n_head
        return {"ok": True}
    params, n_head = state["params"], state["n_head"]
    if cmd[0] == "prompt":
        B, T = int(cmd[2]), int(cmd[3])
        ids = torch.randint(0, params["wte"].shape[0], (B, T))

        def prompt(ids=ids):
            start = time.perf_counter()
            logits, _ = forward(torch, params, n_head, ids, None)
            return {"seconds": time.perf_counter() - start,
                    "tokens": logits[:, -1].argmax(-1).tolist()}
        work[cmd[1]] = prompt
        return {"ok": True}
    if cmd[0] == "decode":
        B, P, N = int(cmd[2]), int(cmd[3]), int(cmd[4])
        ids = torch.randint(0, params["wte"].shape[0], (B, P))

        def decode(ids=ids, N=N):
            logits, past = forward(torch, params, n_head, ids, None)
            start = time.perf_counter()
            tokens = []
            for _ in range(N):
                nxt = logits[:, -1].argmax(-1, keepdim=True)  # (B, 1), greedy
                tokens.append(nxt[0, 0].item())
                logits, past = forward(torch, params, n_head, nxt, past)
            return {"seconds": time.perf_counter() - start, "tokens": tokens}
        work[cmd[1]] = decode
        return {"ok": True}
    if cmd[0] == "generate":
        T = int(cmd[2])
        ids = torch.randint(0, params["wte"].shape[0], (1, T))

        def generate(ids=ids):
            start = time.perf_counter()
            logits, past = forward(torch, params, n_head, ids, None)  # past: the filled cache
            scores = torch.log_softmax(logits[:, -1, :], dim=-1)       # (1, V)
            token = scores.argmax(-1)
            logprob = scores[0, token[0]].item()
            return {"seconds": time.perf_counter() - start, "tokens": token.tolist(),
                    "logprob": logprob}
        work[cmd[1]] = generate
        return {"ok": True}
    if cmd[0] == "memory":
        return {"vmhwm_kb": vmhwm_kb()}
    return {"error": f"unknown command {cmd[0]}"}


if __name__ == "__main__":
    sys.exit(serve("torch_gpt.py", handle))
