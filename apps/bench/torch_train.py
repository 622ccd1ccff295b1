#!/usr/bin/env python3
"""PyTorch side of the training-speed comparison (issue 7): the Tiny Shakespeare notebook recipe
(GPT-2 blocks, 8 layers x 128, 16 heads, context 256, vocabulary 512, dropout 0.2, AdamW lr 1e-3,
batch 32, clip 1.0) or, with --gpt2-124m, the GPT-2 124M shape at B=4, T=64. It times optimizer
steps on random token windows and prints tokens/s per step. Not yet wired into `gradstack bench`;
run it by hand with the fair baseline of ../shared/BENCHMARKS.md:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=2 \
        /usr/bin/python3 apps/bench/torch_train.py [--gpt2-124m] [THREADS] [STEPS]
and compare with `gradstack train ... --log-every 1` on the same settings."""
import math, sys, time, torch, torch.nn as nn, torch.nn.functional as F

GPT2_124M = "--gpt2-124m" in sys.argv
sys.argv = [a for a in sys.argv if a != "--gpt2-124m"]
torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
V, T, L, H, C, B, P = (50257, 64, 12, 12, 768, 4, 0.1) if GPT2_124M else (512, 256, 8, 16, 128, 32, 0.2)
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.ln_1 = nn.LayerNorm(C); s.c_attn = nn.Linear(C, 3 * C); s.c_proj = nn.Linear(C, C)
        s.ln_2 = nn.LayerNorm(C); s.c_fc = nn.Linear(C, 4 * C); s.mlp_proj = nn.Linear(4 * C, C); s.drop = nn.Dropout(P)
        s.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))
    def forward(s, x):
        b, t, _ = x.shape
        q, k, v = s.c_attn(s.ln_1(x)).split(C, 2)
        q, k, v = [z.view(b, t, H, C // H).transpose(1, 2) for z in (q, k, v)]
        a = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        a = a.masked_fill(~s.mask[:t, :t], float("-inf")).softmax(-1)
        y = (s.drop(a) @ v).transpose(1, 2).reshape(b, t, C)
        x = x + s.drop(s.c_proj(y))
        return x + s.drop(s.mlp_proj(F.gelu(s.c_fc(s.ln_2(x)), approximate="tanh")))
class GPT(nn.Module):
    def __init__(s):
        super().__init__(); s.wte = nn.Embedding(V, C); s.wpe = nn.Embedding(T, C); s.h = nn.ModuleList([Block() for _ in range(L)]); s.ln_f = nn.LayerNorm(C); s.drop = nn.Dropout(P)
    def forward(s, idx):
        x = s.drop(s.wte(idx) + s.wpe(torch.arange(idx.shape[1])))
        for blk in s.h: x = blk(x)
        return s.ln_f(x) @ s.wte.weight.t()
m = GPT(); opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
x = torch.randint(0, V, (B, T)); y = torch.randint(0, V, (B, T))
times = []
for step in range(int(sys.argv[2]) if len(sys.argv) > 2 else 4):
    t0 = time.perf_counter()
    loss = F.cross_entropy(m(x).view(-1, V), y.view(-1)); opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
    times.append(time.perf_counter() - t0)
    print(f"step {step} {times[-1]:.2f} s {B*T/times[-1]:.0f} tok/s", flush=True)
