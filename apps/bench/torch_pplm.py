#!/usr/bin/env python3
"""PPLM (Plug and Play Language Models, Dathathri et al. 2020) in plain PyTorch: a port, step for
step and quirk for quirk, of `perturb_past`, `generate_text_pplm` and `full_text_generation` in
uber-research/PPLM's run_pplm.py, on torch_common.py's GPT-2 (Hugging Face's math) loaded from a
safetensors folder. It is both the reference that tests/pplm/reference/make_pplm_reference.py
records and the PyTorch side of `gradstack bench pplm`, a torch_common server:
    threads N             -> {"ok": true}
    setup ID JSON         -> {"ok": true}  JSON (the rest of the line) = {"model": DIR,
                             "prompt_ids": [...], "bow_ids": [[...], ...], "length": N,
                             "mode": "pplm" | "plain", any option of DEFAULTS, and for a
                             discriminator "discrim": DIR, "class_label": i}
    run ID                -> {"seconds": s, "new_ids": [...]}  the perturbed run ("pplm") or greedy
                             decoding with a key/value cache ("plain")
    quit
Without torch the server answers {"skipped": reason}. Read `perturb_past` first: it is the idea.

The idea: a bag of words or a small classifier on GPT-2's hidden state gives a loss on the next
token's distribution; its gradient with respect to the key/value cache ("past") nudges the cache a
few steps, and the next token is drawn from the nudged model's distribution fused with the
unperturbed one. GPT-2's weights never change.

Layout: the past of one layer is ONE tensor (2, B, nh, P, hs), keys then values, as the old
Hugging Face GPT-2 (transformers 2.x) returned it and as uber's code reads it (its shape, its
window mask and its gradient norm are all taken over that stacked tensor)."""
import json
import os
import struct
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:  # serve() reports the missing torch and exits
    np = torch = F = None

from torch_common import forward, serve

SMALL_CONST = 1e-15  # uber's floor for probabilities and gradient norms

# uber's run_pplm_example defaults, except sample (greedy here; uber's CLI default is greedy too).
DEFAULTS = {
    "length": 100, "stepsize": 0.02, "temperature": 1.0, "top_k": 10, "sample": False,
    "num_iterations": 3, "grad_length": 10000, "horizon_length": 1, "window_length": 0,
    "decay": False, "gamma": 1.5, "gm_scale": 0.9, "kl_scale": 0.01, "seed": 0,
    "dtype": "float32",
}


# ---------------------------------------------------------------------------------------------
# Loading: a tiny safetensors reader, GPT-2 in torch_common's parameter layout, the classifier.

def read_safetensors(path):
    """{name: float32 numpy array} from a safetensors file: 8 bytes little-endian header length,
    a JSON header {name: {"dtype", "shape", "data_offsets": [begin, end]}}, then the raw data
    (offsets count from the end of the header). Only F32 is needed here."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: {len(blob)} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", blob[:8])
    if 8 + n > len(blob):
        raise ValueError(f"{path}: header says {n} bytes but the file has {len(blob)}")
    header = json.loads(blob[8:8 + n])
    data = memoryview(blob)[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {info['dtype']}; only F32 is supported")
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = array.copy()  # owns its memory, writable
    return tensors


class GPT2:
    """GPT-2 with old Hugging Face's calling convention, the one uber's code was written against:
    model(ids or inputs_embeds, past) -> (logits (B, T, V), presents, last hidden (B, T, C)) with
    presents[i] = stack(keys, values) (2, B, nh, P + T, hs) and the hidden state taken after
    ln_f. Positions continue from P, also for inputs_embeds."""

    def __init__(self, params, n_head):
        self.params, self.n_head = params, n_head

    @staticmethod
    def load(model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            config = json.load(f)
        if config.get("layer_norm_epsilon", 1e-5) != 1e-5:
            raise ValueError(f"{model_dir}: layer_norm_epsilon must be 1e-5 (torch_common's)")
        if config.get("activation_function", "gelu_new") != "gelu_new":
            raise ValueError(f"{model_dir}: only gelu_new is supported")
        raw = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        # Keys come with or without the "transformer." prefix; lm_head.weight is tied to wte and
        # attn.bias / attn.masked_bias are the causal-mask buffers: none of them is a parameter.
        w = {}
        for name, array in raw.items():
            name = name.removeprefix("transformer.")
            if name == "lm_head.weight" or name.endswith((".attn.bias", ".attn.masked_bias")):
                continue
            w[name] = torch.from_numpy(array)

        def pair(prefix):  # (weight, bias); Conv1D weights are already (in, out): x @ W + b
            return w[prefix + ".weight"], w[prefix + ".bias"]
        layers = []
        for i in range(config["n_layer"]):
            h = f"h.{i}"
            layers.append({"ln_1": pair(h + ".ln_1"), "ln_2": pair(h + ".ln_2"),
                           "c_attn": pair(h + ".attn.c_attn"),
                           "attn_proj": pair(h + ".attn.c_proj"),
                           "c_fc": pair(h + ".mlp.c_fc"), "mlp_proj": pair(h + ".mlp.c_proj")})
        params = {"wte": w["wte.weight"], "wpe": w["wpe.weight"], "layers": layers,
                  "ln_f": pair("ln_f")}
        return GPT2(params, config["n_head"])

    def to(self, dtype):
        def cast(p):
            if isinstance(p, dict):
                return {k: cast(v) for k, v in p.items()}
            if isinstance(p, (list, tuple)):
                return type(p)(cast(v) for v in p)
            return p.to(dtype)
        return GPT2(cast(self.params), self.n_head)

    @property
    def wte(self):
        return self.params["wte"]

    def __call__(self, ids=None, past=None, inputs_embeds=None):
        logits, presents, hidden = forward(torch, self.params, self.n_head, ids, past,
                                           inputs_embeds=inputs_embeds, with_hidden=True)
        return logits, [torch.stack(kv) for kv in presents], hidden


def load_classifier(discrim_dir):
    """uber's ClassificationHead, one torch.nn.Linear(embed_size, class_size), from
    DIR/head.safetensors (weight (class_size, embed_size), bias (class_size)) + DIR/meta.json."""
    with open(os.path.join(discrim_dir, "meta.json")) as f:
        meta = json.load(f)
    t = read_safetensors(os.path.join(discrim_dir, "head.safetensors"))
    weight, bias = torch.from_numpy(t["weight"]), torch.from_numpy(t["bias"])
    if tuple(weight.shape) != (meta["class_size"], meta["embed_size"]):
        raise ValueError(f"{discrim_dir}: weight is {tuple(weight.shape)} but meta.json says "
                         f"({meta['class_size']}, {meta['embed_size']})")
    return (weight, bias), meta


# ---------------------------------------------------------------------------------------------
# The perturbation of the past (uber's perturb_past).

def window_mask(shape, window_length, decay, dtype):
    """Which entries of a stacked past (2, B, nh, P, hs) the gradient may move. uber's code puts
    the ones on the FIRST window_length positions (the oldest tokens: cat(ones, zeros) along P),
    whatever the paper's "recent window" suggests; with decay they ramp up as (j + 1) / window
    over those positions. When the window is 0 or not shorter than P, everything moves."""
    if decay and window_length == 0:
        raise ValueError("decay needs window_length > 0 (uber divides by the window length)")
    P = shape[-2]
    if not 0 < window_length < P:
        return torch.ones(shape, dtype=dtype)
    if decay:
        # uber's own expression: arange(0, 1 + 1e-15, 1 / w)[1:] = 1/w, 2/w, ..., 1.
        ramp = torch.arange(0.0, 1.0 + SMALL_CONST, 1.0 / window_length, dtype=dtype)[1:]
        assert ramp.numel() == window_length
    else:
        ramp = torch.ones(window_length, dtype=dtype)
    ones = ramp.view(window_length, 1).expand(*shape[:-2], window_length, shape[-1])
    zeros = torch.zeros(*shape[:-2], P - window_length, shape[-1], dtype=dtype)
    return torch.cat((ones, zeros), dim=-2)  # (2, B, nh, P, hs)


def perturb_past(model, past, last, unpert_past, unpert_logits, accumulated_hidden, grad_norms,
                 stepsize, bows, classifier, class_label, o):
    """num_iterations normalised gradient steps on an additive perturbation of `past` (a list of
    stacked (2, 1, nh, P, hs) tensors, one per layer). Returns the perturbed past, the gradient
    norms (carried to the next token in BoW-only mode) and the loss of every iteration.

    accumulated_hidden (1, C) is the sum of the unperturbed last hidden states of every token but
    `last`; unpert_past and unpert_logits come from the unperturbed model on all tokens."""
    dtype = past[0].dtype
    P = past[0].shape[-2]
    mask = window_mask(past[0].shape, o["window_length"], o["decay"], dtype)
    bow_only = bool(bows) and classifier is None
    # uber accumulates the perturbation in numpy, float32 like the model (float64 here when the
    # model runs in float64), and rebuilds a fresh leaf tensor from it every iteration.
    accumulator = [np.zeros(tuple(p.shape), dtype=np.float32 if dtype == torch.float32
                            else np.float64) for p in past]
    losses = []
    for _ in range(o["num_iterations"]):
        delta = [torch.from_numpy(a).requires_grad_() for a in accumulator]
        logits, _, hidden = model(last, past=[p + d for p, d in zip(past, delta)])
        # The perturbed token's hidden state joins the average detached: the discriminator's
        # gradient reaches the past only through `probs` and the horizon below.
        new_accumulated_hidden = accumulated_hidden + hidden.sum(dim=1).detach()  # (1, C)
        probs = F.softmax(logits[:, -1, :], dim=-1)  # (1, V), no temperature

        loss = 0.0
        # Bag of words: -log of the probability mass on the bag. uber multiplies probs by one
        # one-hot row per word, so a word listed twice counts twice; indexing does the same.
        for bag in bows:
            loss = loss - torch.log(probs[:, bag].sum())

        if classifier is not None:
            # Feed the expected next embedding, probs @ wte, for horizon_length steps through
            # the UNPERTURBED past of all tokens (which each step extends). uber never updates
            # the probabilities inside this loop: every step feeds the same probs @ wte. (The
            # product is recomputed each step, as uber does: the float32 gradient then rounds
            # exactly as uber's, which sums the steps' gradients at curr_probs before adding
            # the KL term's at probs.)
            horizon_past = unpert_past
            curr_probs = probs.unsqueeze(1)  # (1, 1, V)
            for _ in range(o["horizon_length"]):
                inputs_embeds = torch.matmul(curr_probs, model.wte)  # (1, 1, C)
                _, horizon_past, h = model(inputs_embeds=inputs_embeds, past=horizon_past)
                new_accumulated_hidden = new_accumulated_hidden + h.sum(dim=1)
            # The average over the P past tokens, `last` and the horizon tokens.
            mean_hidden = new_accumulated_hidden / (P + 1 + o["horizon_length"])
            prediction = F.linear(mean_hidden, *classifier)  # (1, class_size)
            loss = loss + F.cross_entropy(prediction, torch.tensor([class_label]))

        if o["kl_scale"] > 0.0:
            # KL(perturbed || unperturbed), each side floored at 1e-15 by ADDING 1e-15 to the
            # entries that are <= 1e-15 (not by clamping), as uber does.
            unpert_probs = F.softmax(unpert_logits[:, -1, :], dim=-1)
            unpert_probs = unpert_probs + SMALL_CONST * (unpert_probs <= SMALL_CONST).to(dtype)
            corrected = probs + SMALL_CONST * (probs <= SMALL_CONST).to(dtype)
            loss = loss + o["kl_scale"] * (corrected * (corrected / unpert_probs).log()).sum()

        losses.append(float(loss))  # the total, KL included
        loss.backward()

        # One norm per layer over its whole stacked (2, ...) gradient, inside the window. In
        # BoW-only mode the norm is a running maximum over iterations AND tokens (the 1e-15 is
        # only added the very first time); otherwise it is fresh every iteration, plus 1e-15.
        if grad_norms is not None and bow_only:
            grad_norms = [torch.max(n, torch.norm(d.grad * mask))
                          for n, d in zip(grad_norms, delta)]
        else:
            grad_norms = [torch.norm(d.grad * mask) + SMALL_CONST for d in delta]
        # step = -stepsize * g * mask / norm**gamma, taken to numpy and accumulated there.
        steps = [-stepsize * (d.grad * mask / n ** o["gamma"]).numpy()
                 for d, n in zip(delta, grad_norms)]
        accumulator = [s + a for s, a in zip(steps, accumulator)]

    pert_past = [p + torch.from_numpy(a) for p, a in zip(past, accumulator)]
    return pert_past, grad_norms, losses


# ---------------------------------------------------------------------------------------------
# Decoding (uber's generate_text_pplm and full_text_generation).

def top_k_probs(probs, k):
    """Zero every probability below the k-th largest (ties with it are kept); k = 0 keeps all."""
    if k == 0:
        return probs
    kth = torch.topk(probs, k)[0][:, -1:]
    return torch.where(probs < kth, torch.zeros_like(probs), probs)


def top_k_logits(logits, k):
    """uber's logit version: below the k-th largest becomes -1e10 (not -inf)."""
    if k == 0:
        return logits
    kth = torch.topk(logits, k)[0][:, -1:]
    return torch.where(logits < kth, torch.full_like(logits, -1e10), logits)


def generate(model, context, o, perturb, bows=(), classifier=None, class_label=None,
             generator=None):
    """One uber generate_text_pplm run: `o["length"]` new tokens after `context` (a list of ids).
    Returns (new ids, loss trace per token ([] when not perturbed), margin per token)."""
    output = torch.tensor([context])  # (1, T)
    past, last, grad_norms = None, None, None
    new_ids, loss_trace, margins = [], [], []
    for i in range(o["length"]):
        # First step only: the past of every prefix token but the last. A 1-token prefix has no
        # past, so its first token is generated without perturbation (there is nothing to move).
        if past is None:
            last = output[:, -1:]
            if output.shape[1] > 1:
                with torch.no_grad():
                    _, past, _ = model(output[:, :-1])

        # Every step reruns the whole sequence without perturbation: its logits (for the KL term
        # and the fusion), its past of all tokens and its hidden states (for the discriminator).
        with torch.no_grad():
            unpert_logits, unpert_past, unpert_hidden = model(output)
        stepsize = o["stepsize"] if i < o["grad_length"] else 0.0  # still iterates, with 0 steps

        losses = []
        if not perturb or o["num_iterations"] == 0 or past is None:
            pert_past = past
        else:
            accumulated_hidden = unpert_hidden[:, :-1, :].sum(dim=1)  # (1, C)
            pert_past, grad_norms, losses = perturb_past(
                model, past, last, unpert_past, unpert_logits, accumulated_hidden, grad_norms,
                stepsize, bows, classifier, class_label, o)
        loss_trace.append(losses)

        # The perturbed past is carried forward: the next step's past is this forward's presents.
        with torch.no_grad():
            logits, past, _ = model(last, past=pert_past)
            pert_logits = logits[:, -1, :] / o["temperature"]  # temperature: perturbed side only
            if perturb:
                # Geometric mean of perturbed and unperturbed, top-k on probabilities, then
                # renormalised only when the mass is <= 1 (uber's test, kept as is).
                probs = F.softmax(pert_logits, dim=-1) ** o["gm_scale"]
                probs = probs * F.softmax(unpert_logits[:, -1, :], dim=-1) ** (1 - o["gm_scale"])
                probs = top_k_probs(probs, o["top_k"])
                if torch.sum(probs) <= 1:
                    probs = probs / torch.sum(probs)
            else:
                probs = F.softmax(top_k_logits(pert_logits, o["top_k"]), dim=-1)
            if o["sample"]:
                last = torch.multinomial(probs, num_samples=1, generator=generator)
            else:
                last = torch.topk(probs, k=1, dim=-1)[1]  # (1, 1)
            top2 = torch.topk(probs, k=2, dim=-1)[0][0]
        margins.append(float(top2[0] - top2[1]))
        new_ids.append(int(last))
        output = torch.cat((output, last), dim=1)
    return new_ids, loss_trace, margins


def check_options(o):
    """The options after defaults (DEFAULTS' keys only), with uber's own failure made an error."""
    unknown = set(o) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"[pplm] unknown options {sorted(unknown)}")
    if o["decay"] and o["window_length"] == 0:
        raise ValueError("[pplm] decay needs window_length > 0 (uber divides by the window)")
    if o["dtype"] not in ("float32", "float64"):
        raise ValueError(f"[pplm] dtype must be float32 or float64, not {o['dtype']}")
    return o


def run_pplm(model, prompt_ids, bow_ids=None, classifier=None, class_label=None, options=None):
    """uber's full_text_generation for one sample: an unperturbed run, then a perturbed one.

    bow_ids: a list of bags, each a list of single-token word ids (uber drops words of several
    tokens). classifier: (weight (classes, C), bias (classes,)) with class_label, or None. At
    least one of the two. options: keys of DEFAULTS; "dtype": "float64" runs everything in
    float64. As in uber's code the unperturbed run ignores the user's top_k and temperature and
    uses generate_text_pplm's defaults (top_k 10, temperature 1.0); it matters when sampling.
    Returns {"unperturbed_new_ids", "new_ids", "loss_trace", "margins",
    "unperturbed_margins"}."""
    o = check_options(dict(DEFAULTS, **(options or {})))
    if not prompt_ids:
        raise ValueError("[pplm] the prompt needs at least one token (uncond: [50256])")
    if not bow_ids and classifier is None:
        raise ValueError("[pplm] give a bag of words or a discriminator")
    dtype = {"float32": torch.float32, "float64": torch.float64}[o["dtype"]]
    model = model.to(dtype)
    if classifier is not None:
        classifier = tuple(t.to(dtype) for t in classifier)
    bows = [list(bag) for bag in (bow_ids or [])]
    generator = torch.Generator().manual_seed(o["seed"])  # one stream for both runs, as uber

    with torch.enable_grad():  # the server runs with grad off
        unpert_o = dict(o, top_k=DEFAULTS["top_k"], temperature=DEFAULTS["temperature"])
        unpert_ids, _, unpert_margins = generate(model, prompt_ids, unpert_o, perturb=False,
                                                 generator=generator)
        new_ids, loss_trace, margins = generate(model, prompt_ids, o, perturb=True, bows=bows,
                                                classifier=classifier, class_label=class_label,
                                                generator=generator)
    return {"unperturbed_new_ids": unpert_ids, "new_ids": new_ids, "loss_trace": loss_trace,
            "margins": margins, "unperturbed_margins": unpert_margins}


def greedy_plain(model, prompt_ids, length):
    """Plain greedy decoding with a key/value cache: the baseline PPLM is compared with."""
    logits, past, _ = model(torch.tensor([prompt_ids]))
    new_ids = []
    for _ in range(length):
        tok = logits[:, -1, :].argmax(-1, keepdim=True)  # (1, 1)
        new_ids.append(int(tok))
        logits, past, _ = model(tok, past=past)
    return new_ids


# ---------------------------------------------------------------------------------------------
# The bench server.

models = {}  # model folder -> GPT2, loaded once


def setup(job):
    """The work item of one `setup` line: a function that runs it and returns its reply."""
    job = dict(job)
    mode, path = job.pop("mode", "pplm"), job.pop("model")
    prompt, bow_ids = job.pop("prompt_ids"), job.pop("bow_ids", None)
    classifier, class_label = None, job.pop("class_label", None)
    if "discrim" in job:
        classifier, _ = load_classifier(job.pop("discrim"))
    o = check_options(dict(DEFAULTS, **job))
    if path not in models:
        models[path] = GPT2.load(path)
    dtype = {"float32": torch.float32, "float64": torch.float64}[o["dtype"]]
    model = models[path].to(dtype)
    if classifier is not None:
        classifier = tuple(t.to(dtype) for t in classifier)

    if mode == "plain":
        def decode():
            return greedy_plain(model, prompt, o["length"])
    elif mode == "pplm":
        if not bow_ids and classifier is None:
            raise ValueError("pplm needs bow_ids or discrim")
        bows = [list(bag) for bag in (bow_ids or [])]

        def decode():  # the perturbed run only: that is what PPLM costs
            with torch.enable_grad():
                generator = torch.Generator().manual_seed(o["seed"])
                return generate(model, prompt, o, perturb=True, bows=bows, classifier=classifier,
                                class_label=class_label, generator=generator)[0]
    else:
        raise ValueError(f"unknown mode {mode}")

    def run():
        start = time.perf_counter()
        new_ids = decode()
        return {"seconds": time.perf_counter() - start, "new_ids": new_ids}
    return run


def handle(torch_module, cmd, work):
    if cmd[0] != "setup" or len(cmd) < 3:
        return {"error": f"unknown command {' '.join(cmd)}"}
    try:
        # serve() split the line at white space; JSON does not mind it being joined back.
        work[cmd[1]] = setup(json.loads(" ".join(cmd[2:])))
    except (OSError, ValueError, KeyError) as e:
        return {"error": f"setup {cmd[1]}: {type(e).__name__}: {e}"}
    return {"ok": True}


if __name__ == "__main__":
    sys.exit(serve("torch_pplm.py", handle))
