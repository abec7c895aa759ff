#!/usr/bin/python3
"""Baseline of bench/analyze-process.ts: the analyze pass on the byte-level GPT fixtures in PyTorch eager
with forward hooks, as a whole process (bench/analyze-process.ts times it from outside, imports and
reading the ONNX files included, as it times `llfc analyze`).

The same statistics as `llfc analyze` on the same data (SCIENCE.md §1–4, §7; samples are tokens),
streamed batch by batch with float64 reductions and float32 products:
- LMC: mean token cross-entropy and token accuracy on the 11-point α grid (labels ≠ −100);
- per layer (the embedding sum, each block's attention output and two residual Adds, the GELU
  output, the logits) and α in {0.25, 0.5, 0.75}: LLFC distance, std and coefficient, and the
  A-vs-B baseline; weak additivity of each GELU;
- commutativity of every nn.Linear (the tied head as the embedding table's linear map), bias
  excluded.
The models are the fixture's own torch modules (scripts/fixtures/lm_mechanisms_reference.py), their
weights read from the ONNX initializers.

    /usr/bin/python3 bench/torch_lm_analyze.py --model lm_untied --data ids.npy --labels labels.npy \
        [--batch-size 256] [--threads N]

Prints one JSON line: {"model", "tokens", "ms" and "cpuMs" (wall and CPU time of the analysis:
reading both models, building θ(α), the pass; not the imports), "threads", "results": {lmc, layers (by ONNX tensor),
commutativity (by ONNX node)}}.
"""
import argparse
import copy
import json
import os
import sys
import time

# torch first: the fixture scripts set OMP/OPENBLAS_NUM_THREADS=1 at import, which must not reach
# the OpenMP runtime loaded here (threads are set in main).
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "fixtures"))
import make_transformer_fixtures as t  # noqa: E402
from lm_mechanisms_reference import load  # noqa: E402
from make_fixtures import interp  # noqa: E402
from torch_analyze import Cosine  # noqa: E402  (the streaming cosine sums of the classifier baseline)

LAYER_ALPHAS = [0.25, 0.5, 0.75]
LMC_ALPHAS = [i / 10 for i in range(11)]
IGNORE = -100


def tokens64(x):
    """Samples are tokens: N×T×D as N·T rows of D, in float64."""
    return x.reshape(-1, x.shape[-1]).double()


def hook(model, wanted, store):
    """Forward hooks on the modules in `wanted` (path -> (keep input?, keep output?)); the embedding
    sum (no module of its own) is `embed`, from the token and position embeddings' outputs."""
    mods = dict(model.named_modules())
    for path, (want_in, want_out) in wanted.items():
        if path == "embed":
            for part in ("tok", "pos"):
                mods[part].register_forward_hook(lambda m, i, o, part=part: store.__setitem__(part, o))
            continue

        def keep(m, inp, out, path=path, want_in=want_in, want_out=want_out):
            store[path] = (inp[0] if want_in else None, out if want_out else None)
        mods[path].register_forward_hook(keep)


def output(store, path):
    return store["tok"] + store["pos"] if path == "embed" else store[path][1]


@torch.no_grad()
def analyze(name, tied, ids, labels, batch_size):
    ma, om = load(name, tied, "a")
    mb, _ = load(name, tied, "b")
    sa, sb = ma.state_dict(), mb.state_dict()
    union = sorted(set(LMC_ALPHAS) | set(LAYER_ALPHAS))
    models = {0.0: ma, 1.0: mb}
    for a in union:
        if a not in models:
            m = copy.deepcopy(ma)
            m.load_state_dict(interp(sa, sb, a))
            models[a] = m
    mods = dict(ma.named_modules())
    mods_b = dict(mb.named_modules())
    layers = ["embed"]
    for path, mod in mods.items():
        kind = t.layer_kind(mod, path, "head")
        if kind is not None:
            layers.append(path)
    activations = [p for p in layers if p != "embed" and isinstance(mods[p], (nn.GELU, nn.ReLU))]
    linear = [p for p, m in mods.items() if isinstance(m, nn.Linear)]
    end_want = {p: (p in activations or p in linear, p in layers) for p in set(layers) | set(linear)}
    mid_want = {p: (False, True) for p in layers}
    stores = {a: {} for a in union}
    for a, m in models.items():
        if a in (0.0, 1.0):
            hook(m, end_want, stores[a])
        elif a in LAYER_ALPHAS:
            hook(m, mid_want, stores[a])

    llfc = {p: [Cosine() for _ in LAYER_ALPHAS] for p in layers}
    base = {p: Cosine() for p in layers}
    weak = {p: [Cosine() for _ in LAYER_ALPHAS] for p in activations}
    comm = {p: [0.0] * 6 for p in linear}  # ‖X−Y‖², ‖X‖², ‖Y‖², ‖HA−HB‖², ‖HA‖², ‖HB‖²
    lmc = {a: [0.0, 0, 0] for a in LMC_ALPHAS}  # loss sum, correct, counted tokens
    for start in range(0, ids.shape[0], batch_size):
        xb = ids[start:start + batch_size]
        yb = labels[start:start + batch_size].reshape(-1)
        keep = yb != IGNORE
        for a in union:
            logits = models[a](xb)
            if a in lmc:
                lg = logits.reshape(-1, logits.shape[-1])[keep]
                lmc[a][0] += float(F.cross_entropy(lg.double(), yb[keep], reduction="sum"))
                lmc[a][1] += int((lg.argmax(1) == yb[keep]).sum())
                lmc[a][2] += int(keep.sum())
        sA, sB = stores[0.0], stores[1.0]
        for p in layers:
            fa, fb = tokens64(output(sA, p)), tokens64(output(sB, p))
            for k, a in enumerate(LAYER_ALPHAS):
                llfc[p][k].add(tokens64(output(stores[a], p)), (1 - a) * fa + a * fb)
            base[p].add(fa, fb)
            if p in weak:
                sigma = mods[p]
                ha, hb = tokens64(sA[p][0]), tokens64(sB[p][0])
                for k, a in enumerate(LAYER_ALPHAS):
                    weak[p][k].add(sigma((1 - a) * ha + a * hb), (1 - a) * fa + a * fb)
        for p in linear:
            wa, wb = mods[p].weight, mods_b[p].weight
            ha, hb = sA[p][0], sB[p][0]
            X = (F.linear(ha, wa) + F.linear(hb, wb)).double()
            Y = (F.linear(hb, wa) + F.linear(ha, wb)).double()
            ha64, hb64 = ha.double(), hb.double()
            c = comm[p]
            c[0] += float((X - Y).pow(2).sum())
            c[1] += float(X.pow(2).sum())
            c[2] += float(Y.pow(2).sum())
            c[3] += float((ha64 - hb64).pow(2).sum())
            c[4] += float(ha64.pow(2).sum())
            c[5] += float(hb64.pow(2).sum())
        for s in stores.values():
            s.clear()

    rel = lambda d, x, y: d / ((x ** 0.5) * (y ** 0.5)) if x > 0 and y > 0 else 0.0  # noqa: E731
    # Keyed by ONNX names, as llfc reports them (the tied head has no scope of its own: the logits).
    producers = {n.output[0]: n for n in om.graph.node}
    embed_sum = next(n.output[0] for n in om.graph.node if n.op_type == "Add" and all(producers.get(i) is not None and producers[i].op_type == "Gather" for i in n.input))
    logits_node = producers["logits"].name
    tensor = lambda p: embed_sum if p == "embed" else "logits" if p == "head" else t.onnx_output(om, p)  # noqa: E731
    node = lambda p: logits_node if p == "head" else t.onnx_linear_node(om, p)  # noqa: E731
    out_layers = {}
    for p in layers:
        entry = {"llfc": [dict(alpha=a, **llfc[p][k].summary()) for k, a in enumerate(LAYER_ALPHAS)], "baseline": base[p].summary()["distance"]}
        if p in weak:
            entry["weakAdditivity"] = [{"alpha": a, "distance": weak[p][k].summary()["distance"]} for k, a in enumerate(LAYER_ALPHAS)]
        out_layers[tensor(p)] = entry
    out_comm = {}
    for p in linear:
        c = comm[p]
        wa, wb = mods[p].weight.double(), mods_b[p].weight.double()
        out_comm[node(p)] = {"distCom": rel(c[0], c[1], c[2]), "distW": float((wa - wb).pow(2).sum() / (wa.norm() * wb.norm())), "distH": rel(c[3], c[4], c[5])}
    return {
        "lmc": {"alphas": LMC_ALPHAS, "loss": [lmc[a][0] / lmc[a][2] for a in LMC_ALPHAS], "accuracy": [lmc[a][1] / lmc[a][2] for a in LMC_ALPHAS]},
        "layers": out_layers,
        "commutativity": out_comm,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["lm_untied", "lm_tied"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--labels", required=True)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(False)
    ids = torch.from_numpy(np.load(args.data).astype(np.int64))
    labels = torch.from_numpy(np.load(args.labels).astype(np.int64))
    t0, c0 = time.perf_counter(), time.process_time()
    results = analyze(args.model, args.model == "lm_tied", ids, labels, args.batch_size)
    ms, cpu_ms = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
    print(json.dumps({"model": args.model, "tokens": int(ids.numel()), "ms": ms, "cpuMs": cpu_ms, "threads": torch.get_num_threads(), "torch": torch.__version__, "results": results}))


if __name__ == "__main__":
    main()
