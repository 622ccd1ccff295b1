#!/usr/bin/env python3
# Writes tests/data/optim_reference.json: what PyTorch (Debian's python3-torch, 1.13) computes for
# SGD, Adam and AdamW over 5 steps, for Hugging Face's warm-up schedules and for clip_grad_norm_.
# tests/nn/test_optim_parity.cpp replays the same inputs (saved in the JSON) through gradstack.
# Run from the repository root:  /usr/bin/python3 tests/nn/reference/make_optim_reference.py
import json
import math
import os

import torch

STEPS = 5
SHAPES = [(3, 4), (5,), (2, 3)]


def init_values(j, shape):
    n = math.prod(shape)
    return torch.tensor([0.8 * math.sin(0.37 * k + 1.3 * j + 0.5) for k in range(n)],
                        dtype=torch.float32).reshape(shape)


def grad_values(j, s, shape):
    # Parameter 2 gets no gradient at step 1: the optimizers must skip it (and, for Adam, count
    # its bias correction over its own updates only).
    if j == 2 and s == 1:
        return None
    n = math.prod(shape)
    return torch.tensor([(0.5 + 0.1 * s) * math.cos(0.23 * k + 0.71 * j + 0.9 * s) + 0.05 * j
                         for k in range(n)], dtype=torch.float32).reshape(shape)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def optimizer_case(name, kind, config, groups):
    """groups: list of (lr, weight_decay, [param indices])."""
    params = [init_values(j, shape).requires_grad_(True) for j, shape in enumerate(SHAPES)]
    case = {
        "name": name,
        "optimizer": kind,
        "config": config,
        "groups": [{"lr": lr, "weight_decay": wd, "params": idx} for lr, wd, idx in groups],
        "params": [{"shape": list(p.shape), "init": flat(p)} for p in params],
        "grads": [],
        "expected": [],
    }
    torch_groups = [{"params": [params[j] for j in idx], "lr": lr, "weight_decay": wd}
                    for lr, wd, idx in groups]
    if kind == "sgd":
        opt = torch.optim.SGD(torch_groups, lr=groups[0][0], momentum=config["momentum"],
                              dampening=config["dampening"], nesterov=config["nesterov"],
                              foreach=False)
    else:
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        opt = cls(torch_groups, lr=groups[0][0], betas=(config["beta1"], config["beta2"]),
                  eps=config["eps"], foreach=False)
    for s in range(STEPS):
        grads = [grad_values(j, s, p.shape) for j, p in enumerate(params)]
        for p, g in zip(params, grads):
            p.grad = g
        case["grads"].append([None if g is None else flat(g) for g in grads])
        opt.step()
        case["expected"].append([flat(p) for p in params])
    return case


# Hugging Face transformers' lr lambdas (optimization.py: get_cosine_schedule_with_warmup with
# num_cycles=0.5 and the min_lr_rate of get_cosine_with_min_lr_schedule_with_warmup;
# get_linear_schedule_with_warmup with the same floor), copied here because transformers is not a
# dependency. They run through torch's LambdaLR, which hands the lr to the optimizer.
def hf_cosine(warmup, total, min_lr_rate):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        progress = float(step - warmup) / float(max(1, total - warmup))
        factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        factor = factor * (1 - min_lr_rate) + min_lr_rate
        return max(0.0, factor)
    return f


def hf_linear(warmup, total, min_lr_rate):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        factor = max(0.0, float(total - step) / float(max(1, total - warmup)))
        return factor * (1 - min_lr_rate) + min_lr_rate
    return f


def schedule_case(kind, max_lr, warmup, total, min_lr):
    lam = (hf_cosine if kind == "cosine" else hf_linear)(warmup, total, min_lr / max_lr)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=max_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    lrs = []
    for _ in range(total + 1):  # the lr used by steps 0 .. total
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return {"kind": kind, "max_lr": max_lr, "warmup": warmup, "total": total, "min_lr": min_lr,
            "lrs": lrs}


def clip_case(max_norm, scale):
    shapes = [(4, 3), (7,)]
    params = [torch.zeros(shape, requires_grad=True) for shape in shapes]
    grads = []
    for j, p in enumerate(params):
        n = math.prod(p.shape)
        p.grad = torch.tensor([scale * math.sin(0.53 * k - 0.8 * j) for k in range(n)],
                              dtype=torch.float32).reshape(p.shape)
        grads.append({"shape": list(p.shape), "values": flat(p.grad)})
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return {"max_norm": max_norm, "grads": grads, "norm": float(norm),
            "clipped": [flat(p.grad) for p in params]}


def main():
    sgd = {"momentum": 0.0, "dampening": 0.0, "nesterov": False}
    sgd_momentum = {"momentum": 0.9, "dampening": 0.1, "nesterov": False}
    sgd_nesterov = {"momentum": 0.9, "dampening": 0.0, "nesterov": True}
    adam = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    adam_other = {"beta1": 0.8, "beta2": 0.95, "eps": 1e-6}
    everything = [0, 1, 2]
    reference = {
        "torch_version": torch.__version__,
        "optimizers": [
            optimizer_case("sgd", "sgd", sgd, [(0.1, 0.01, everything)]),
            optimizer_case("sgd_momentum", "sgd", sgd_momentum, [(0.1, 0.01, everything)]),
            optimizer_case("sgd_nesterov", "sgd", sgd_nesterov, [(0.05, 0.001, everything)]),
            optimizer_case("adam", "adam", adam, [(0.01, 0.01, everything)]),
            optimizer_case("adam_betas", "adam", adam_other, [(0.003, 0.0, everything)]),
            optimizer_case("adamw", "adamw", adam, [(0.01, 0.1, everything)]),
            # nanoGPT's groups: weight decay on the matrices only, and a second lr.
            optimizer_case("adamw_groups", "adamw", adam, [(0.01, 0.1, [0, 2]), (0.02, 0.0, [1])]),
        ],
        "schedules": [
            schedule_case("cosine", 6e-4, 10, 100, 6e-5),
            schedule_case("cosine", 1e-3, 0, 20, 0.0),
            schedule_case("linear", 6e-4, 10, 100, 6e-5),
            schedule_case("linear", 1e-3, 5, 20, 0.0),
        ],
        "clip": [clip_case(1.0, 0.9), clip_case(100.0, 0.9)],
    }
    here = os.path.dirname(os.path.abspath(__file__))  # tests/nn/reference
    root = os.path.normpath(os.path.join(here, "..", "..", ".."))
    out = os.path.join(root, "tests", "data", "optim_reference.json")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    os.replace(tmp, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
