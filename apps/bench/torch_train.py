#!/usr/bin/env python3
"""PyTorch side of `gradstack bench train`, and the PyTorch run of issue 7's quality benchmark.

The model is torch_common.py's GPT-2 (Hugging Face's math and initialisation), with dropout on the
embeddings, attention probabilities and residual branches, trained the way `gradstack train` trains: AdamW with weight
decay on the tensors of 2 or more dims only, linear warm-up then cosine decay to min_lr, global-norm
clipping.

Server mode (no arguments; torch_common's line protocol, run by `gradstack bench train`):
    threads N                                  -> {"ok": true}
    model VOCAB T LAYER HEAD EMBD B DROPOUT    -> {"ok": true}  random weights and a random batch
    run step                                   -> {"seconds": s, "loss": l}  one optimizer step
    quit

Curve mode (by hand; the same data and schedule as a `gradstack train` run):
    /usr/bin/python3 apps/bench/torch_train.py curve --tokens RUN/tokens/tokens-*.bin \\
        --out torch_metrics.csv --steps 2000 [--stop-after N] [--threads 2] ...
reads the token file `gradstack train` cached (gpt/data.h: 64-byte header, then uint16/uint32
ids), splits it 90/10 as gpt::split_tokens does, samples random windows, evaluates validation loss
and next-token accuracy every --eval-every steps on --eval-batches fixed windows, and writes a CSV
with gradstack's metrics.csv columns. Run it as the fair PyTorch baseline (gradstack's BLAS and thread count):
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=<threads>."""
import argparse
import math
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import build, forward, serve  # noqa: E402  (the GPT-2 all benches share)


def trainable(p):
    """The tensors of torch_common.build's GPT-2, set to require gradients."""
    tensors = [p["wte"], p["wpe"], *p["ln_f"]]
    for layer in p["layers"]:
        for pair in layer.values():
            tensors.extend(pair)
    return [t.requires_grad_() for t in tensors]


def make_optimizer(torch, params, lr, weight_decay, beta2):
    decay = [w for w in params if w.dim() >= 2]
    no_decay = [w for w in params if w.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, beta2), eps=1e-8)


def train_step(torch, model, params, opt, x, y, clip):
    """One step; model(x) returns the logits (B, T, V)."""
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()
    return loss.item()


def cosine_lr(step, lr, min_lr, warmup, total):
    """gradstack's nn::WarmupCosineLr."""
    if step < warmup:
        return lr * step / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


# ---------------------------------------------------------------- server mode (bench train)
state = {}


def handle(torch, cmd, work):
    if cmd[0] != "model":
        return {"error": f"unknown command {cmd[0]}"}
    vocab, T, n_layer, n_head, C, B = map(int, cmd[1:7])
    p = float(cmd[7])
    torch.manual_seed(0)
    weights = build(torch, vocab, T, C, n_layer, n_head)
    params = trainable(weights)
    opt = make_optimizer(torch, params, 1e-3, 0.1, 0.99)
    x, y = torch.randint(0, vocab, (B, T)), torch.randint(0, vocab, (B, T))
    state.update(params=params, opt=opt)  # the previous model is freed here

    def model(ids):
        return forward(torch, weights, n_head, ids, None, dropout=p)[0]

    def step():
        with torch.enable_grad():
            start = time.perf_counter()
            loss = train_step(torch, model, params, opt, x, y, 1.0)
            return {"seconds": time.perf_counter() - start, "loss": loss}
    work["step"] = step
    return {"ok": True}


# ---------------------------------------------------------------- curve mode (quality benchmark)
def read_tokens(np, path):
    with open(path, "rb") as f:
        header = f.read(64)
    if len(header) != 64 or header[:8] != b"GSTOKENS":
        sys.exit(f"{path}: not a gradstack token file (no GSTOKENS header)")
    version, width, vocab, _, _, _, count = struct.unpack("<IIQQQQQ", header[8:56])
    if version != 1 or width not in (2, 4):
        sys.exit(f"{path}: token file version {version}, {width}-byte ids: not supported")
    dtype = np.uint16 if width == 2 else np.uint32
    ids = np.fromfile(path, dtype=dtype, offset=64)
    if ids.size != count:
        sys.exit(f"{path}: header says {count} ids, the file holds {ids.size}")
    return ids.astype(np.int64), vocab


def curve(argv):
    ap = argparse.ArgumentParser(prog="torch_train.py curve")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True, help="metrics CSV to write")
    ap.add_argument("--n-layer", type=int, default=8)
    ap.add_argument("--n-head", type=int, default=16)
    ap.add_argument("--n-embd", type=int, default=128)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=2000, help="length of the lr schedule")
    ap.add_argument("--stop-after", type=int, default=0, help="stop after this many steps")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--beta2", type=float, default=0.99)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--val-fraction", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--eval-batches", type=int, default=10)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    import numpy as np
    import torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    ids, vocab = read_tokens(np, a.tokens)
    n_val = int(math.floor(len(ids) * a.val_fraction))
    train_ids, val_ids = torch.from_numpy(ids[:len(ids) - n_val]), torch.from_numpy(ids[len(ids) - n_val:])
    T, B = a.context, a.batch_size
    print(f"data: {len(ids)} tokens ({len(train_ids)} train, {len(val_ids)} validation), "
          f"vocabulary {vocab}; PyTorch {torch.__version__}, {a.threads} threads", flush=True)

    def windows(data, gen):
        starts = torch.randint(0, len(data) - T, (B,), generator=gen)
        x = torch.stack([data[s:s + T] for s in starts.tolist()])
        y = torch.stack([data[s + 1:s + 1 + T] for s in starts.tolist()])
        return x, y

    weights = build(torch, vocab, T, a.n_embd, a.n_layer, a.n_head)
    params = trainable(weights)
    opt = make_optimizer(torch, params, a.lr, a.weight_decay, a.beta2)
    print(f"model: {sum(w.numel() for w in params) / 1e6:.2f}M parameters", flush=True)
    train_gen = torch.Generator().manual_seed(a.seed)

    def model(ids, dropout=a.dropout):
        return forward(torch, weights, a.n_head, ids, None, dropout=dropout)[0]

    def evaluate():
        gen = torch.Generator().manual_seed(a.seed + 1)  # the same windows at every evaluation
        loss = correct = count = 0.0
        with torch.no_grad():
            for _ in range(a.eval_batches):
                x, y = windows(val_ids, gen)
                logits = model(x, dropout=0.0).view(-1, vocab)
                loss += torch.nn.functional.cross_entropy(logits, y.view(-1)).item()
                correct += (logits.argmax(-1) == y.view(-1)).sum().item()
                count += y.numel()
        return loss / a.eval_batches, correct / count

    rows = ["step,train_loss,val_loss,val_accuracy,lr,tokens_per_s,elapsed_s"]
    last = a.stop_after if a.stop_after > 0 else a.steps
    start = window_start = time.perf_counter()
    window_loss, window_steps = 0.0, 0
    for step in range(last):
        lr = cosine_lr(step, a.lr, a.min_lr, min(a.warmup, a.steps), a.steps)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = windows(train_ids, train_gen)
        window_loss += train_step(torch, model, params, opt, x, y, a.clip)
        window_steps += 1
        done = step + 1
        evaluate_now = done % a.eval_every == 0 or done == last
        if done % a.log_every == 0 or evaluate_now:
            now = time.perf_counter()
            tps = window_steps * B * T / (now - window_start)
            row = [done, window_loss / window_steps, "", "", lr, tps, now - start]
            msg = f"step {done}/{a.steps} | loss {row[1]:.4f} | lr {lr:.2e} | {tps:.0f} tok/s"
            if evaluate_now:
                row[2], row[3] = evaluate()
                msg += f" | validation loss {row[2]:.4f}, accuracy {100 * row[3]:.2f}%"
            print(msg, flush=True)
            rows.append(",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row))
            tmp = a.out + ".tmp"
            with open(tmp, "w") as f:
                f.write("\n".join(rows) + "\n")
            os.replace(tmp, a.out)  # atomic: a reader never sees half a file
            window_start, window_loss, window_steps = time.perf_counter(), 0.0, 0
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "curve":
        sys.exit(curve(sys.argv[2:]))
    sys.exit(serve("torch_train.py", handle))
