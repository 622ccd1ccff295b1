#!/usr/bin/env python3
"""PyTorch side of `gradstack bench train`, and the PyTorch run of issue 7's quality benchmark.

The model is GPT-2 as Hugging Face computes it (pre-LN blocks, gelu_new, tied head, dropout on the
embeddings, attention probabilities and residual branches, GPT-2's N(0, 0.02) initialisation with
c_proj scaled by 1/sqrt(2 n_layer)), trained the way `gradstack train` trains: AdamW with weight
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
with gradstack's metrics.csv columns. Run with the fair baseline of ../shared/BENCHMARKS.md:
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=<threads>."""
import argparse
import math
import os
import struct
import sys
import time


def make_model(torch, vocab, T, n_layer, n_head, C, p):
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
            self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)
            self.attn_drop, self.resid_drop = nn.Dropout(p), nn.Dropout(p)
            self.register_buffer("causal", torch.tril(torch.ones(T, T, dtype=torch.bool)))

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(C, 2)
            q, k, v = [z.view(b, t, n_head, C // n_head).transpose(1, 2) for z in (q, k, v)]
            a = (q @ k.transpose(-2, -1)) / math.sqrt(C // n_head)
            a = a.masked_fill(~self.causal[:t, :t], torch.finfo(a.dtype).min).softmax(-1)
            y = (self.attn_drop(a) @ v).transpose(1, 2).reshape(b, t, C)
            x = x + self.resid_drop(self.c_proj(y))
            h = F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
            return x + self.resid_drop(self.mlp_proj(h))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, C), nn.Embedding(T, C)
            self.drop = nn.Dropout(p)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(C)
            for name, w in self.named_parameters():
                if name.endswith("bias"):
                    nn.init.zeros_(w)
                elif w.dim() >= 2:
                    proj = name.endswith("c_proj.weight") or name.endswith("mlp_proj.weight")
                    nn.init.normal_(w, 0.0, 0.02 / math.sqrt(2 * n_layer) if proj else 0.02)

        def forward(self, idx):
            pos = torch.arange(idx.shape[1])
            x = self.drop(self.wte(idx) + self.wpe(pos))
            for block in self.h:
                x = block(x)
            return self.ln_f(x) @ self.wte.weight.t()

    return GPT()


def make_optimizer(torch, model, lr, weight_decay, beta2):
    decay = [w for w in model.parameters() if w.dim() >= 2]
    no_decay = [w for w in model.parameters() if w.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, beta2), eps=1e-8)


def train_step(torch, model, opt, x, y, clip):
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
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
    model = make_model(torch, vocab, T, n_layer, n_head, C, p)
    model.train()
    opt = make_optimizer(torch, model, 1e-3, 0.1, 0.99)
    x, y = torch.randint(0, vocab, (B, T)), torch.randint(0, vocab, (B, T))
    state.update(model=model, opt=opt)  # the previous model is freed here

    def step():
        with torch.enable_grad():
            start = time.perf_counter()
            loss = train_step(torch, model, opt, x, y, 1.0)
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

    model = make_model(torch, vocab, T, a.n_layer, a.n_head, a.n_embd, a.dropout)
    opt = make_optimizer(torch, model, a.lr, a.weight_decay, a.beta2)
    print(f"model: {sum(w.numel() for w in model.parameters()) / 1e6:.2f}M parameters", flush=True)
    train_gen = torch.Generator().manual_seed(a.seed)

    def evaluate():
        model.eval()
        gen = torch.Generator().manual_seed(a.seed + 1)  # the same windows at every evaluation
        loss = correct = count = 0.0
        with torch.no_grad():
            for _ in range(a.eval_batches):
                x, y = windows(val_ids, gen)
                logits = model(x).view(-1, vocab)
                loss += torch.nn.functional.cross_entropy(logits, y.view(-1)).item()
                correct += (logits.argmax(-1) == y.view(-1)).sum().item()
                count += y.numel()
        model.train()
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
        window_loss += train_step(torch, model, opt, x, y, a.clip)
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
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_common import serve
    sys.exit(serve("torch_train.py", handle))
