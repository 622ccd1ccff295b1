"""What the PyTorch sides of `gradstack bench` share: the line-by-line server they all run as (so
that their timings interleave with gradstack's, rep by rep), and GPT-2 written out in plain torch
ops (the math of Hugging Face's GPT2LMHeadModel: Conv1D layout, gelu_new, pre-LN, tied head) with
its own key/value cache (torch.cat of the cache every step, as Hugging Face does).

Every server answers one JSON line per command line:
    threads N   -> {"ok": true}       torch.set_num_threads(N)
    run ID      -> the dict that work item ID returns (at least {"seconds": s})
    quit
and passes other commands to its own handler. Without torch it answers {"skipped": reason} once
and exits 0."""
import json
import math
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def timed(fn):
    """A work item that runs fn once and reports its wall time."""
    def run():
        start = time.perf_counter()
        fn()
        return {"seconds": time.perf_counter() - start}
    return run


def serve(name, handle):
    """Runs the server loop; handle(torch, cmd, work) answers the script's own commands (it may
    store work items in `work`, a dict of ID -> function returning the run's reply)."""
    try:
        import torch
    except ImportError as e:
        print(f"{name}: PyTorch is not installed ({e}); skipping it", file=sys.stderr)
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
        elif cmd[0] == "run":
            reply(work[cmd[1]]())
        else:
            reply(handle(torch, cmd, work))
    return 0


def build(torch, vocab, n_pos, C, n_layer, n_head):
    """GPT-2's parameters, initialised in place as GPT-2 does (N(0, 0.02), c_proj scaled)."""
    std, proj_std = 0.02, 0.02 / math.sqrt(2 * n_layer)

    def normal(*shape, s=std):
        return torch.empty(*shape).normal_(0, s)

    p = {"wte": normal(vocab, C), "wpe": normal(n_pos, C), "layers": [],
         "ln_f": (torch.ones(C), torch.zeros(C))}
    for _ in range(n_layer):
        p["layers"].append({
            "ln_1": (torch.ones(C), torch.zeros(C)), "ln_2": (torch.ones(C), torch.zeros(C)),
            "c_attn": (normal(C, 3 * C), torch.zeros(3 * C)),
            "attn_proj": (normal(C, C, s=proj_std), torch.zeros(C)),
            "c_fc": (normal(C, 4 * C), torch.zeros(4 * C)),
            "mlp_proj": (normal(4 * C, C, s=proj_std), torch.zeros(C)),
        })
    return p


def forward(torch, p, n_head, ids, past, dropout=0.0, inputs_embeds=None, with_hidden=False,
            head=True):
    """logits (B, T, V) and the new cache [(k, v)] per layer, each (B, nh, P + T, hs). With
    dropout > 0 (training), dropout as GPT-2 applies it: on the embeddings, the attention
    probabilities and both residual branches. `past[i]` may be a (k, v) pair or one stacked
    (2, B, nh, P, hs) tensor (old Hugging Face's layout, which PPLM perturbs). inputs_embeds
    (B, T, C) replaces the token embeddings of ids (pass ids=None); positions still continue
    from P. with_hidden=True also returns the last hidden state after ln_f, (B, T, C); head=False
    skips the logits (None in their place), for callers that apply the head to a few positions."""
    F = torch.nn.functional

    def drop(t):
        return F.dropout(t, dropout) if dropout > 0 else t
    B, T = ids.shape if inputs_embeds is None else inputs_embeds.shape[:2]
    P = 0 if past is None else past[0][0].shape[2]
    C = p["wte"].shape[1]
    hs = C // n_head
    dev = p["wte"].device  # the GPU under torch_cuda.py
    pos = torch.arange(P, P + T, device=dev)
    tok = F.embedding(ids, p["wte"]) if inputs_embeds is None else inputs_embeds  # fast backward
    x = drop(tok + F.embedding(pos, p["wpe"]))
    causal = torch.ones(T, P + T, dtype=torch.bool, device=dev).tril(P)
    lowest = torch.finfo(torch.float32).min
    presents = []

    def conv1d(x, wb):  # Hugging Face's Conv1D: x @ W + b with W [in, out]
        w, b = wb
        return torch.addmm(b, x.view(-1, x.shape[-1]), w).view(*x.shape[:-1], w.shape[1])

    for i, layer in enumerate(p["layers"]):
        h = F.layer_norm(x, (C,), *layer["ln_1"], 1e-5)
        q, k, v = conv1d(h, layer["c_attn"]).split(C, dim=2)
        q, k, v = (t.view(B, T, n_head, hs).transpose(1, 2) for t in (q, k, v))
        if past is not None:
            k = torch.cat((past[i][0], k), dim=-2)
            v = torch.cat((past[i][1], v), dim=-2)
        presents.append((k, v))
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hs)
        att = att.masked_fill(~causal, lowest)
        att = drop(torch.softmax(att, dim=-1))
        y = torch.matmul(att, v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + drop(conv1d(y, layer["attn_proj"]))
        h = F.layer_norm(x, (C,), *layer["ln_2"], 1e-5)
        h = conv1d(F.gelu(conv1d(h, layer["c_fc"]), approximate="tanh"), layer["mlp_proj"])
        x = x + drop(h)
    x = F.layer_norm(x, (C,), *p["ln_f"], 1e-5)
    logits = torch.matmul(x, p["wte"].t()) if head else None
    return (logits, presents, x) if with_hidden else (logits, presents)
