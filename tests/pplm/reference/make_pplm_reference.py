#!/usr/bin/env python3
"""Writes the PPLM reference cases that gradstack's pplm/ is tested against:
    tests/data/pplm/discrim_tiny/{head.safetensors, meta.json}         3-class head (seeded)
    tests/data/pplm/discrim_tiny_binary/{head.safetensors, meta.json}  2-class head (seeded)
    tests/data/pplm/reference_cases.json                               the cases
for the tiny GPT-2 of tests/data/tiny_gpt2 (2 layers, n_embd 16, GPT-2's vocabulary).

How the cases are produced: apps/bench/torch_pplm.py, a plain-torch port of uber-research/PPLM's
run_pplm.py (perturb_past, generate_text_pplm, full_text_generation), runs each case greedily in
float32, as uber does, giving the unperturbed tokens, the perturbed tokens, the loss of every
iteration of every token ([] for a token generated without perturbation) and, per perturbed
token, the margin between the two largest final probabilities. Each case is run again in float64
and once more in float32 with every weight scaled by (1 + 1e-5 N(0, 1)), far more than the
rounding of another float32 implementation; a case for which either picks other tokens (a
near-tie) is dropped, and min_margin says how far the kept ones are from a tie. Bags of words are
the word lists of pplm/wordlists, each word encoded with a leading space by `build/bin/gradstack
tokenize` (OpenAI's ids) and kept only when it is one token, as uber does; the ids are recorded
under "bags". All cases are greedy (sampling could not be matched without torch's generator).

Run from anywhere, after building gradstack (rerunning rewrites the same files):
    /usr/bin/python3 tests/pplm/reference/make_pplm_reference.py"""
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "apps", "bench"))
import torch_pplm  # noqa: E402  (needs the path above)

MODEL = "tests/data/tiny_gpt2"
OUT = "tests/data/pplm"
WORDLISTS = "pplm/wordlists"
GRADSTACK = os.path.join(ROOT, "build", "bin", "gradstack")
EOT = 50256  # <|endoftext|>, uber's bos token


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def to_json(value, indent=0):
    """JSON with objects one key a line and lists of numbers (or of such lists) on one line."""
    pad = " " * indent
    if isinstance(value, dict):
        items = [f'{pad} {json.dumps(k)}: {to_json(v, indent + 1).lstrip()}'
                 for k, v in value.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        return pad + "[\n" + ",\n".join(to_json(v, indent + 1) for v in value) + "\n" + pad + "]"
    return pad + json.dumps(value, separators=(", ", ": "))


def safetensors_bytes(tensors):
    """A safetensors file holding float32 arrays, in name order, with {"format": "pt"}."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        blob = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # pad so that the data starts 8-byte aligned
    return len(text).to_bytes(8, "little") + text + b"".join(blobs)


def write_discriminator(name, classes, seed):
    """uber's ClassificationHead for the tiny model, weights and bias N(0, 1): large enough that
    the classes differ on hidden states of norm ~4 (random, not trained on anything)."""
    rng = np.random.default_rng(seed)
    embed = 16
    folder = os.path.join(ROOT, OUT, name)
    os.makedirs(folder, exist_ok=True)
    tensors = {"weight": rng.standard_normal((len(classes), embed)).astype(np.float32),
               "bias": rng.standard_normal(len(classes)).astype(np.float32)}
    write_atomically(os.path.join(folder, "head.safetensors"), safetensors_bytes(tensors))
    meta = {"class_size": len(classes), "embed_size": embed,
            "class_vocab": {c: i for i, c in enumerate(classes)}, "default_class": 0,
            "pretrained_model": MODEL}
    meta_text = json.dumps(meta, indent=1) + "\n"
    write_atomically(os.path.join(folder, "meta.json"), meta_text.encode())
    return f"{OUT}/{name}"


def tokenize(texts):
    """OpenAI's GPT-2 ids of each text, from gradstack's own tokenizer."""
    if not os.path.exists(GRADSTACK):
        sys.exit(f"{GRADSTACK} not found: build gradstack first (scripts/test.sh or cmake)")
    lines = "".join(json.dumps(t) + "\n" for t in texts)
    done = subprocess.run([GRADSTACK, "tokenize"], input=lines, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"gradstack tokenize failed ({done.returncode}): {done.stderr.strip()}")
    ids = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(ids) == len(texts), f"{len(texts)} texts in, {len(ids)} id lists out"
    return ids


def bag_ids(name):
    """uber's get_bag_of_words_indices + build_bows_one_hot_vectors: every line, stripped, with a
    leading space; words of more than one token are dropped (duplicates stay)."""
    with open(os.path.join(ROOT, WORDLISTS, name + ".txt")) as f:
        words = f.read().strip().split("\n")
    return [ids[0] for ids in tokenize([" " + w.strip() for w in words]) if len(ids) == 1]


# Every option is spelled out in every case, so that a test needs no defaults.
BASE = {"stepsize": 0.02, "num_iterations": 3, "window_length": 0, "decay": False, "gamma": 1.5,
        "kl_scale": 0.01, "gm_scale": 0.9, "grad_length": 10000, "horizon_length": 1,
        "temperature": 1.0, "top_k": 10}


def cases(discrim3, discrim2):
    """(name, prompt text or None for <|endoftext|> alone, options)."""
    lake, president, long = "The lake", "The president of the country", (
        "Once upon a time there was a little town by the sea, and every morning the fishermen "
        "went out in their boats")
    return [
        ("bow_space", lake, {"bow": ["space"], "length": 12, "stepsize": 0.5}),
        ("bow_science", president, {"bow": ["science"], "length": 12, "stepsize": 0.3}),
        ("bow_military_uncond", None, {"bow": ["military"], "length": 12, "stepsize": 0.2}),
        ("bow_two_bags", lake, {"bow": ["space", "military"], "length": 12, "stepsize": 0.5}),
        ("bow_window3", long, {"bow": ["science"], "length": 10, "stepsize": 0.5,
                               "window_length": 3}),
        ("bow_window3_decay", long, {"bow": ["science"], "length": 10, "stepsize": 0.3,
                                     "window_length": 3, "decay": True}),
        ("bow_grad_length_gamma1", president, {"bow": ["politics"], "length": 14,
                                               "stepsize": 0.03, "grad_length": 5, "gamma": 1.0}),
        ("bow_kl0_gm095", lake, {"bow": ["religion"], "length": 12, "stepsize": 0.5,
                                 "kl_scale": 0.0, "gm_scale": 0.95}),
        ("bow_temp07_topk3", president, {"bow": ["legal"], "length": 12, "stepsize": 0.05,
                                         "temperature": 0.7, "top_k": 3}),
        ("bow_iter1", lake, {"bow": ["computers"], "length": 10, "stepsize": 0.6,
                             "num_iterations": 1}),
        ("bow_iter5", lake, {"bow": ["kitchen"], "length": 10, "stepsize": 0.2,
                             "num_iterations": 5}),
        ("discrim_class0", lake, {"discrim": discrim3, "class_label": 0, "length": 10,
                                  "stepsize": 0.1}),
        ("discrim_class2_horizon2", president, {"discrim": discrim3, "class_label": 2,
                                                "length": 10, "stepsize": 0.1,
                                                "horizon_length": 2}),
        ("discrim_binary_class1", lake, {"discrim": discrim2, "class_label": 1, "length": 8,
                                         "stepsize": 0.1}),
        ("bow_and_discrim", lake, {"bow": ["space"], "discrim": discrim3, "class_label": 2,
                                   "length": 10, "stepsize": 0.1}),
    ]


def run_case(model, prompt, options, bags, dtype):
    classifier, label = None, None
    if "discrim" in options:
        classifier, _ = torch_pplm.load_classifier(os.path.join(ROOT, options["discrim"]))
        label = options["class_label"]
    algo = {k: v for k, v in options.items() if k not in ("bow", "discrim", "class_label")}
    algo["dtype"] = dtype
    bows = [bags[b] for b in options.get("bow", [])]
    return torch_pplm.run_pplm(model, prompt, bows, classifier, label, algo)


def jittered(model, eps=1e-5, seed=0):
    """The model with every weight scaled by (1 + eps * N(0, 1)): float32 rounding of another
    implementation (summation order, fused kernels) moves results far less than this."""
    g = torch_pplm.torch.Generator().manual_seed(seed)

    def jitter(p):
        if isinstance(p, dict):
            return {k: jitter(v) for k, v in p.items()}
        if isinstance(p, (list, tuple)):
            return type(p)(jitter(v) for v in p)
        return p * (1 + eps * torch_pplm.torch.randn(p.shape, generator=g))
    return torch_pplm.GPT2(jitter(model.params), model.n_head)


def main():
    model = torch_pplm.GPT2.load(os.path.join(ROOT, MODEL))
    discrim3 = write_discriminator("discrim_tiny", ["negative", "neutral", "positive"], seed=1)
    discrim2 = write_discriminator("discrim_tiny_binary", ["no", "yes"], seed=2)
    table = cases(discrim3, discrim2)
    bags = {b: bag_ids(b) for _, _, o in table for b in o.get("bow", [])}
    texts = sorted({text for _, text, _ in table if text})
    prompts = {t: [EOT] + ids for t, ids in zip(texts, tokenize(texts))}

    shaken = jittered(model)
    kept, dropped = [], []
    for name, text, opts in table:
        options = dict(BASE, **opts)
        prompt = prompts[text] if text else [EOT]
        r32 = run_case(model, prompt, options, bags, "float32")
        same = all(r32["new_ids"] == r["new_ids"]
                   and r32["unperturbed_new_ids"] == r["unperturbed_new_ids"]
                   for r in (run_case(model, prompt, options, bags, "float64"),
                             run_case(shaken, prompt, options, bags, "float32")))
        changed = sum(a != b for a, b in zip(r32["new_ids"], r32["unperturbed_new_ids"]))
        row = {"name": name, "prompt_ids": prompt, "options": options,
               "unperturbed_new_ids": r32["unperturbed_new_ids"], "new_ids": r32["new_ids"],
               "loss_trace": r32["loss_trace"], "min_margin": min(r32["margins"]),
               "min_unperturbed_margin": min(r32["unperturbed_margins"])}
        (kept if same else dropped).append(row)
        print(f"{'kept ' if same else 'DROPPED (not robust)'} {name:24s} "
              f"{changed:2d}/{len(r32['new_ids'])} tokens changed, "
              f"min margin {row['min_margin']:.2e} "
              f"(unperturbed {row['min_unperturbed_margin']:.2e})")

    reference = {
        "model": MODEL,
        "producer": "tests/pplm/reference/make_pplm_reference.py: apps/bench/torch_pplm.py, a "
                    "plain-torch port of uber-research/PPLM run_pplm.py, greedy, float32; cases "
                    "kept only when float64 and 1e-5-jittered weights pick the same tokens",
        "bags": bags,
        "cases": kept,
    }
    path = os.path.join(ROOT, OUT, "reference_cases.json")
    write_atomically(path, (to_json(reference) + "\n").encode())
    print(f"{len(kept)} cases written to {os.path.relpath(path, ROOT)}, {len(dropped)} dropped")


if __name__ == "__main__":
    main()
