#!/usr/bin/env python3
"""PyTorch side of `gradstack bench generate`: GPT-2 decoding with a KV cache, the loop Hugging
Face's generate() runs (greedy: argmax of the last logits; beam search: log_softmax, top 2*beams
of beams*vocab, index_select of the cache by beam), on a GPT-2 written op for op like HF's
GPT2LMHeadModel (torch_common.py: Conv1D as addmm, keys/values concatenated onto the cache with
torch.cat, masked softmax attention, tanh GELU, tied head). Random weights: speed does not depend
on their values. Runs as torch_common's server (one command per line, one JSON line back):
    threads N                      -> {"ok": true}
    model N_LAYER N_EMBD N_HEAD VOCAB N_POSITIONS   -> {"ok": true}   builds it (seed 0)
    greedy ID PROMPT NEW           -> {"ok": true}   work: greedy decode of NEW tokens
    beam ID PROMPT NEW BEAMS       -> {"ok": true}   work: beam search, BEAMS beams
    step ID POS                    -> {"ok": true}   work: one token at position POS (cache ready)
    run ID                         -> {"seconds": s}
    quit
Started by the C++ bench with Debian's python3-torch on the OpenMP OpenBLAS, OMP_NUM_THREADS=2
(the fair PyTorch baseline: the same BLAS and thread count as gradstack). Without torch: {"skipped": reason}."""
import sys

from torch_common import build, forward, serve, timed


def greedy(torch, model, prompt, new):
    ids = torch.randint(0, 50000, (1, prompt), generator=torch.Generator().manual_seed(1))
    logits, past = model(ids, None)
    out = []
    for _ in range(new):
        tok = logits.argmax(-1, keepdim=True)  # (1, 1)
        out.append(tok)
        logits, past = model(tok, past)
    return out


def beam(torch, model, vocab, prompt, new, beams):
    ids = torch.randint(0, 50000, (1, prompt), generator=torch.Generator().manual_seed(1))
    ids = ids.repeat_interleave(beams, dim=0)
    scores = torch.zeros(beams)
    scores[1:] = -1e9
    logits, past = model(ids, None)
    for _ in range(new):
        lp = torch.log_softmax(logits, dim=-1) + scores[:, None]
        top, idx = torch.topk(lp.view(-1), 2 * beams)
        src, tok = idx[:beams] // vocab, idx[:beams] % vocab
        scores = top[:beams]
        past = [(k.index_select(0, src), v.index_select(0, src)) for k, v in past]
        logits, past = model(tok.view(beams, 1), past)


state = {"model": None, "vocab": 0}


def handle(torch, cmd, work):
    if cmd[0] == "model":
        n_layer, n_embd, n_head, vocab, n_pos = map(int, cmd[1:6])
        params = build(torch, vocab, n_pos, n_embd, n_layer, n_head)

        def model(ids, past, params=params, n_head=n_head):  # the last position's logits
            logits, presents = forward(torch, params, n_head, ids, past)
            return logits[:, -1], presents
        state["model"], state["vocab"] = model, vocab
        return {"ok": True}
    model, vocab = state["model"], state["vocab"]
    if cmd[0] == "greedy":
        p, n = int(cmd[2]), int(cmd[3])
        work[cmd[1]] = timed(lambda p=p, n=n: greedy(torch, model, p, n))
    elif cmd[0] == "beam":
        p, n, b = int(cmd[2]), int(cmd[3]), int(cmd[4])
        work[cmd[1]] = timed(lambda p=p, n=n, b=b: beam(torch, model, vocab, p, n, b))
    elif cmd[0] == "step":
        pos = int(cmd[2])
        ids = torch.randint(0, 50000, (1, pos), generator=torch.Generator().manual_seed(2))
        _, past = model(ids, None)
        tok = torch.tensor([[11]])
        work[cmd[1]] = timed(lambda past=past, tok=tok: model(tok, past))
    else:
        return {"error": f"unknown command {cmd[0]}"}
    return {"ok": True}


if __name__ == "__main__":
    sys.exit(serve("torch_generate.py", handle))
