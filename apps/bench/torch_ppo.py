#!/usr/bin/env python3
"""PyTorch side of `gradstack bench ppo`: one step of trl's PPOTrainer written out in plain torch
on torch_common's GPT-2 (random weights, the shape the C++ side asks for), the same work as
gradstack's rl::PpoTrainer::step:
  rollout   N tokens per query by multinomial sampling from softmax(logits), through the KV cache;
  score     the count of token 3 in each response (a one-token bag);
  optimize  a no-grad forward of policy and reference in mini-batches (log p of the response
            tokens, values from a linear value head on the last hidden state, the head applied to
            the N positions that predict the response, as gradstack does; the exact KL and the
            entropy per position, which gradstack reports), rewards -beta KL with
            the score on the last token, GAE, whitening, then ppo_epochs passes over shuffled
            mini-batches: clipped policy loss + vf_coef x clipped value loss, backward, Adam.
Server commands (torch_common's protocol):
    threads N
    setup ID JSON   -> {"ok": true}   JSON: n_layer, n_embd, n_head, vocab, n_positions, batch,
                                      mini, response, query, epochs, lr
    run ID          -> {"seconds", "rollout", "score", "optimize"}
Started by the C++ bench with Debian's python3-torch on the OpenMP OpenBLAS, OMP_NUM_THREADS=2
(the fair PyTorch baseline: the same BLAS and thread count as gradstack). Without torch: {"skipped": reason}."""
import copy
import json
import sys
import time

from torch_common import build, forward, serve


def response_forward(torch, p, head, n_head, ids, Q, N):
    """log p (B, N) of the response tokens, the log-distributions (B, N, V) and values (B, N)."""
    _, _, h = forward(torch, p, n_head, ids, None, with_hidden=True, head=False)
    h = h[:, Q - 1:Q + N - 1]
    logp = torch.log_softmax(torch.matmul(h, p["wte"].t()), -1)
    lp = logp.gather(2, ids[:, Q:Q + N].unsqueeze(-1)).squeeze(-1)
    values = (torch.addmm(head[1], h.reshape(-1, h.shape[-1]), head[0].t()).view(h.shape[0], -1)
              if head is not None else None)
    return lp, logp, values


def make_step(torch, cfg):
    F = torch.nn.functional
    C, nh, V = cfg["n_embd"], cfg["n_head"], cfg["vocab"]
    policy = build(torch, V, cfg["n_positions"], C, cfg["n_layer"], nh)
    ref = copy.deepcopy(policy)
    head = (torch.empty(1, C).normal_(0, 0.02), torch.zeros(1))
    params = [policy["wte"], policy["wpe"], *policy["ln_f"], *head]
    for layer in policy["layers"]:
        for t in layer.values():
            params.extend(t)
    for t in params:
        t.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    B, mini, N, Q, epochs = cfg["batch"], cfg["mini"], cfg["response"], cfg["query"], cfg["epochs"]
    beta, gamma, lam, clip, clip_v, vf_coef = 0.2, 1.0, 0.95, 0.2, 0.2, 0.1
    gen = torch.Generator().manual_seed(0)

    def step():
        t0 = time.perf_counter()
        with torch.no_grad():
            ids = torch.randint(0, V, (B, Q), generator=gen)
            logits, past = forward(torch, policy, nh, ids, None)
            last, out = logits[:, -1], []
            for _ in range(N):
                tok = torch.multinomial(torch.softmax(last, -1), 1, generator=gen)
                out.append(tok)
                logits, past = forward(torch, policy, nh, tok, past)
                last = logits[:, -1]
            resp = torch.cat(out, 1)
        t1 = time.perf_counter()
        score = (resp == 3).sum(1).double()
        t2 = time.perf_counter()
        full = torch.cat((ids, resp), 1)
        with torch.no_grad():
            parts = [(response_forward(torch, policy, head, nh, full[i:i + mini], Q, N),
                      response_forward(torch, ref, None, nh, full[i:i + mini], Q, N))
                     for i in range(0, B, mini)]
            # The statistics gradstack's step reports: exact KL and entropy per position.
            kl_full = torch.cat([(p[0][1].exp() * (p[0][1] - p[1][1])).sum(-1) for p in parts])
            entropy = torch.cat([-(p[0][1].exp() * p[0][1]).sum(-1) for p in parts])
            stats = (kl_full.sum() / B, entropy.mean())
            old_lp = torch.cat([p[0][0] for p in parts])
            values = torch.cat([p[0][2] for p in parts])
            ref_lp = torch.cat([p[1][0] for p in parts])
            rewards = -beta * (old_lp - ref_lp).double()
            rewards[:, -1] += score
            adv, last_gae = torch.zeros(B, N, dtype=torch.float64), 0.0
            v = values.double()
            for t in reversed(range(N)):
                nextv = v[:, t + 1] if t < N - 1 else 0.0
                delta = rewards[:, t] + gamma * nextv - v[:, t]
                last_gae = delta + gamma * lam * last_gae
                adv[:, t] = last_gae
            returns = (adv + v).float()
            adv = ((adv - adv.mean()) * torch.rsqrt(adv.var() + 1e-8)).float()
        with torch.enable_grad():
            for _ in range(epochs):
                perm = torch.randperm(B, generator=gen)
                for i in range(0, B, mini):
                    rows = perm[i:i + mini]
                    lp, _, vpred = response_forward(torch, policy, head, nh, full[rows], Q, N)
                    ratio = torch.exp(lp - old_lp[rows])
                    pg = torch.max(-adv[rows] * ratio,
                                   -adv[rows] * torch.clamp(ratio, 1 - clip, 1 + clip)).mean()
                    vclip = values[rows] + torch.clamp(vpred - values[rows], -clip_v, clip_v)
                    vf = 0.5 * torch.max((vpred - returns[rows]) ** 2,
                                         (vclip - returns[rows]) ** 2).mean()
                    loss = pg + vf_coef * vf
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        t3 = time.perf_counter()
        return {"seconds": t3 - t0, "rollout": t1 - t0, "score": t2 - t1, "optimize": t3 - t2}
    return step


def handle(torch, cmd, work):
    if cmd[0] == "setup":
        work[cmd[1]] = make_step(torch, json.loads(" ".join(cmd[2:])))
        return {"ok": True}
    return {"error": f"unknown command {cmd[0]}"}


if __name__ == "__main__":
    sys.exit(serve("torch_ppo.py", handle))
