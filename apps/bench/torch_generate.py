#!/usr/bin/env python3
"""PyTorch side of `gradstack bench generate`: GPT-2 decoding with a KV cache, the loop Hugging
Face's generate() runs (greedy: argmax of the last logits; beam search: log_softmax, top 2*beams
of beams*vocab, index_select of the cache by beam), on a GPT-2 written op for op like HF's
GPT2LMHeadModel (Conv1D as addmm, keys/values concatenated onto the cache with torch.cat, masked
softmax attention, tanh GELU, tied head applied to the last position). Random weights: speed does
not depend on their values. Runs as a server (one command per line, one JSON line back):
    threads N                      -> {"ok": true}
    model N_LAYER N_EMBD N_HEAD VOCAB N_POSITIONS   -> {"ok": true}   builds it (seed 0)
    greedy ID PROMPT NEW           -> {"ok": true}   work: greedy decode of NEW tokens
    beam ID PROMPT NEW BEAMS       -> {"ok": true}   work: beam search, BEAMS beams
    step ID POS                    -> {"ok": true}   work: one token at position POS (cache ready)
    run ID                         -> {"seconds": s}
    quit
Started by the C++ bench with Debian's python3-torch on the OpenMP OpenBLAS, OMP_NUM_THREADS=2
(the fair baseline of /work/shared/BENCHMARKS.md). Without torch: {"skipped": reason}."""
import json
import math
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def build(torch, n_layer, n_embd, n_head, vocab, n_pos):
    F = torch.nn.functional
    g = torch.Generator().manual_seed(0)

    def randn(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    wte, wpe = randn(vocab, n_embd), randn(n_pos, n_embd, std=0.01)
    layers = []
    for _ in range(n_layer):
        layers.append(dict(
            ln1=(torch.ones(n_embd), torch.zeros(n_embd)),
            attn=(randn(n_embd, 3 * n_embd), torch.zeros(3 * n_embd)),
            proj=(randn(n_embd, n_embd), torch.zeros(n_embd)),
            ln2=(torch.ones(n_embd), torch.zeros(n_embd)),
            fc=(randn(n_embd, 4 * n_embd), torch.zeros(4 * n_embd)),
            fc_proj=(randn(4 * n_embd, n_embd), torch.zeros(n_embd))))
    ln_f = (torch.ones(n_embd), torch.zeros(n_embd))
    hs = n_embd // n_head
    causal = torch.tril(torch.ones(n_pos, n_pos, dtype=torch.bool)).view(1, 1, n_pos, n_pos)
    masked = torch.tensor(torch.finfo(torch.float32).min)

    def conv1d(x, wb):  # HF Conv1D: x @ W + b with W [in, out]
        w, b = wb
        return torch.addmm(b, x.view(-1, x.size(-1)), w).view(*x.shape[:-1], w.size(-1))

    def forward(ids, past):
        B, T = ids.shape
        P = 0 if past is None else past[0][0].size(-2)
        x = wte[ids] + wpe[P:P + T]
        presents = []
        for i, L in enumerate(layers):
            h = F.layer_norm(x, (n_embd,), *L["ln1"], 1e-5)
            q, k, v = conv1d(h, L["attn"]).split(n_embd, dim=2)
            q, k, v = (t.view(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))
            if past is not None:
                k = torch.cat((past[i][0], k), dim=-2)
                v = torch.cat((past[i][1], v), dim=-2)
            presents.append((k, v))
            att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hs)
            S = k.size(-2)
            att = torch.where(causal[:, :, S - T:S, :S], att, masked)
            y = torch.matmul(F.softmax(att, dim=-1), v).transpose(1, 2).reshape(B, T, n_embd)
            x = x + conv1d(y, L["proj"])
            h = F.layer_norm(x, (n_embd,), *L["ln2"], 1e-5)
            x = x + conv1d(F.gelu(conv1d(h, L["fc"]), approximate="tanh"), L["fc_proj"])
        x = F.layer_norm(x[:, -1, :], (n_embd,), *ln_f, 1e-5)
        return x @ wte.t(), presents  # (B, vocab): the last position's logits

    return forward, vocab


def greedy(torch, model, prompt, new):
    forward, _ = model
    ids = torch.randint(0, 50000, (1, prompt), generator=torch.Generator().manual_seed(1))
    logits, past = forward(ids, None)
    out = []
    for _ in range(new):
        tok = logits.argmax(-1, keepdim=True)  # (1, 1)
        out.append(tok)
        logits, past = forward(tok, past)
    return out


def beam(torch, model, prompt, new, beams):
    forward, vocab = model
    ids = torch.randint(0, 50000, (1, prompt), generator=torch.Generator().manual_seed(1))
    ids = ids.repeat_interleave(beams, dim=0)
    scores = torch.zeros(beams)
    scores[1:] = -1e9
    logits, past = forward(ids, None)
    for _ in range(new):
        lp = torch.log_softmax(logits, dim=-1) + scores[:, None]
        top, idx = torch.topk(lp.view(-1), 2 * beams)
        src, tok = idx[:beams] // vocab, idx[:beams] % vocab
        scores = top[:beams]
        past = [(k.index_select(0, src), v.index_select(0, src)) for k, v in past]
        logits, past = forward(tok.view(beams, 1), past)


def main():
    try:
        import torch
    except ImportError as e:
        print(f"torch_generate.py: PyTorch is not installed ({e}); skipping it", file=sys.stderr)
        reply({"skipped": f"PyTorch is not installed: {e}"})
        return 0
    torch.set_grad_enabled(False)
    reply({"version": torch.__version__})
    model, work = None, {}
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        if cmd[0] == "threads":
            torch.set_num_threads(int(cmd[1]))
        elif cmd[0] == "model":
            model = build(torch, *map(int, cmd[1:6]))
        elif cmd[0] == "greedy":
            p, n = int(cmd[2]), int(cmd[3])
            work[cmd[1]] = lambda p=p, n=n: greedy(torch, model, p, n)
        elif cmd[0] == "beam":
            p, n, b = int(cmd[2]), int(cmd[3]), int(cmd[4])
            work[cmd[1]] = lambda p=p, n=n, b=b: beam(torch, model, p, n, b)
        elif cmd[0] == "step":
            pos = int(cmd[2])
            ids = torch.randint(0, 50000, (1, pos), generator=torch.Generator().manual_seed(2))
            _, past = model[0](ids, None)
            tok = torch.tensor([[11]])
            work[cmd[1]] = lambda past=past, tok=tok: model[0](tok, past)
        elif cmd[0] == "run":
            fn = work[cmd[1]]
            start = time.perf_counter()
            fn()
            reply({"seconds": time.perf_counter() - start})
            continue
        else:
            reply({"error": f"unknown command {cmd[0]}"})
            continue
        reply({"ok": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
