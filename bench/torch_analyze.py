#!/usr/bin/python3
"""Baseline (b) of bench/analyze.ts: the analyze pass in PyTorch eager with forward hooks.

The same computation as llfc's analyzePair (SCIENCE.md §1–4), streamed batch by batch:
LMC loss and accuracy on the 11-point α grid; per layer (every ReLU, residual Add, the logits)
and α in {0.25, 0.5, 0.75} the LLFC distance, std and coefficient and the A-vs-B baseline; weak
additivity of every ReLU; commutativity of every Linear and Conv2d (bias excluded). Features are
captured with forward hooks on A, B and θ(α); reductions are taken in float64 (as the fixture
references, scripts/fixtures/make_fixtures.py, do), products in float32.

The torch models are built from the ONNX initializers with the fixture script's own functions
(reference_model: BN folded into Conv like the eval-mode export). Same data
(test/fixtures/data/fashion_test_x.npy, (x/255 − 0.286)/0.353), same α values, same batch size.

Prints one JSON line: {"ms": wall time of the analysis pass (best of --repeat, after a one-batch
warm-up), "cpuMs": its CPU time, ...} and, with
--results, every number (keyed by ONNX tensor / node names) for a cross-check. Timed: building the
θ(α) models, the batches (normalization included), the reductions; not imports, not the ONNX
parsing. Threads: --threads (default: every core, as onnxruntime's default intra-op pool).

    /usr/bin/python3 bench/torch_analyze.py --model mlp|resnet [--samples N] [--batch-size 256] [--no-warm-up]
"""
import argparse
import copy
import json
import os
import sys
import time

try:
    # torch first: the fixture script sets OMP/OPENBLAS_NUM_THREADS=1 at import, which must not
    # reach the BLAS loaded here (threads are set below, the same for both baselines).
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import onnx
except ImportError as e:  # pragma: no cover - depends on the machine
    print(json.dumps({"skipped": "PyTorch baseline needs python3-torch, numpy and onnx (%s)" % e}))
    sys.exit(0)

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "scripts", "fixtures"))
import make_fixtures as mf  # noqa: E402  (sets one thread and deterministic algorithms: undone in main)

LAYER_ALPHAS = [0.25, 0.5, 0.75]
LMC_ALPHAS = [i / 10 for i in range(11)]
MODELS = {"mlp": (mf.MLP, False), "resnet": (mf.SmallResNet, True)}


def flat64(t):
    return t.reshape(t.shape[0], -1).double()


class Cosine:
    """Streaming sums of d(a, m) = 1 − |⟨a,m⟩|/(‖a‖‖m‖), d², ⟨a,m⟩/‖m‖², count, skipped."""

    def __init__(self):
        self.s = [0.0, 0.0, 0.0, 0, 0]

    def add(self, a, m):
        dot = (a * m).sum(1)
        na, nm = a.norm(dim=1), m.norm(dim=1)
        ok = (na > 0) & (nm > 0)
        d = 1 - dot[ok].abs() / (na[ok] * nm[ok])
        self.s[0] += float(d.sum())
        self.s[1] += float((d * d).sum())
        self.s[2] += float((dot[ok] / (nm[ok] * nm[ok])).sum())
        self.s[3] += int(ok.sum())
        self.s[4] += int((~ok).sum())

    def summary(self):
        n = self.s[3]
        mean = self.s[0] / n
        return {"distance": mean, "distanceStd": max(0.0, self.s[1] / n - mean * mean) ** 0.5,
                "coefficient": self.s[2] / n, "skipped": self.s[4]}


def hook_all(model, wanted, store):
    """Forward hooks on the modules in `wanted` (path -> (keep input?, keep output?))."""
    handles = []
    for path, mod in model.named_modules():
        if path in wanted:
            want_in, want_out = wanted[path]

            def hook(m, inp, out, path=path, want_in=want_in, want_out=want_out):
                store[path] = (inp[0] if want_in else None, out if want_out else None)
            handles.append(mod.register_forward_hook(hook))
    return handles


@torch.no_grad()
def analyze(template, sa, sb, x_u8, y, batch_size):
    """One streamed pass; returns (layers, commutativity, lmc) keyed by module path."""
    union = sorted(set(LMC_ALPHAS) | set(LAYER_ALPHAS))
    models = {}
    for a in union:
        m = copy.deepcopy(template)
        m.load_state_dict(sa if a == 0 else sb if a == 1 else mf.interp(sa, sb, a), strict=False)
        models[a] = m.eval()
    mods = dict(models[0].named_modules())
    mods_b = dict(models[1].named_modules())
    relus = [p for p, m in mods.items() if isinstance(m, nn.ReLU)]
    adds = [p for p, m in mods.items() if isinstance(m, mf.Add)]
    linear = [p for p, m in mods.items() if isinstance(m, (nn.Linear, nn.Conv2d))]
    logits_path = linear[-1]  # the last Linear computes the logits in both fixture models
    layer_paths = [p for p in mods if p in relus or p in adds or p == logits_path]
    end_want = {p: (p in relus or p in linear, p in layer_paths) for p in set(layer_paths) | set(linear)}
    mid_want = {p: (False, True) for p in layer_paths}
    stores = {a: {} for a in union}
    for a, m in models.items():
        if a in (0, 1):
            hook_all(m, end_want, stores[a])
        elif a in LAYER_ALPHAS:
            hook_all(m, mid_want, stores[a])

    llfc = {p: [Cosine() for _ in LAYER_ALPHAS] for p in layer_paths}
    base = {p: Cosine() for p in layer_paths}
    weak = {p: [Cosine() for _ in LAYER_ALPHAS] for p in relus}
    comm = {p: [0.0, 0.0, 0.0, 0.0, 0.0, 0.0] for p in linear}  # ‖X−Y‖², ‖X‖², ‖Y‖², ‖HA−HB‖², ‖HA‖², ‖HB‖²
    lmc = {a: [0.0, 0] for a in LMC_ALPHAS}
    yt = torch.from_numpy(y.astype(np.int64))
    for start in range(0, x_u8.shape[0], batch_size):
        xb = torch.from_numpy(mf.normalize_u8(x_u8[start:start + batch_size]))
        yb = yt[start:start + batch_size]
        for a in union:
            logits = models[a](xb)
            if a in lmc:
                lmc[a][0] += float(F.cross_entropy(logits.double(), yb, reduction="sum"))
                lmc[a][1] += int((logits.argmax(1) == yb).sum())
        sA, sB = stores[0], stores[1]
        for p in layer_paths:
            fa, fb = flat64(sA[p][1]), flat64(sB[p][1])
            for k, a in enumerate(LAYER_ALPHAS):
                llfc[p][k].add(flat64(stores[a][p][1]), (1 - a) * fa + a * fb)
            base[p].add(fa, fb)
            if p in weak:
                ha, hb = flat64(sA[p][0]), flat64(sB[p][0])
                for k, a in enumerate(LAYER_ALPHAS):
                    weak[p][k].add(torch.relu((1 - a) * ha + a * hb), (1 - a) * fa + a * fb)
        for p in linear:
            mod = mods[p]
            wa, wb = mod.weight, mods_b[p].weight
            ha, hb = sA[p][0], sB[p][0]
            X = mf.linear_op(mod, ha, wa) + mf.linear_op(mod, hb, wb)
            Y = mf.linear_op(mod, hb, wa) + mf.linear_op(mod, ha, wb)
            X, Y, ha64, hb64 = X.double(), Y.double(), ha.double(), hb.double()
            c = comm[p]
            c[0] += float((X - Y).pow(2).sum())
            c[1] += float(X.pow(2).sum())
            c[2] += float(Y.pow(2).sum())
            c[3] += float((ha64 - hb64).pow(2).sum())
            c[4] += float(ha64.pow(2).sum())
            c[5] += float(hb64.pow(2).sum())
        for s in stores.values():
            s.clear()

    n = x_u8.shape[0]
    layers = {}
    for p in layer_paths:
        entry = {"llfc": [dict(alpha=a, **llfc[p][k].summary()) for k, a in enumerate(LAYER_ALPHAS)]}
        b = base[p].summary()
        entry["baseline"], entry["baselineSkipped"] = b["distance"], b["skipped"]
        if p in weak:
            entry["weakAdditivity"] = [{"alpha": a, "distance": weak[p][k].summary()["distance"],
                                        "skipped": weak[p][k].summary()["skipped"]} for k, a in enumerate(LAYER_ALPHAS)]
            entry["weakAdditivityBaseline"] = b["distance"]
        layers[p] = entry
    commutativity = {}
    for p in linear:
        c = comm[p]
        wa, wb = mods[p].weight.double(), mods_b[p].weight.double()
        rel = lambda d, x, y: d / ((x ** 0.5) * (y ** 0.5)) if x > 0 and y > 0 else 0.0
        commutativity[p] = {"distCom": rel(c[0], c[1], c[2]), "distW": mf.frob_dist(wa, wb), "distH": rel(c[3], c[4], c[5])}
    loss = [lmc[a][0] / n for a in LMC_ALPHAS]
    acc = [lmc[a][1] / n for a in LMC_ALPHAS]
    return layers, commutativity, {"alphas": LMC_ALPHAS, "loss": loss, "accuracy": acc}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--results", action="store_true", help="also print every number, by ONNX name")
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                    help="no untimed first batch (bench/analyze-process.ts times the whole process)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(False)

    ctor, folded = MODELS[args.model]
    om_a = onnx.load(os.path.join(mf.MODEL_DIR, args.model + "_a.onnx"))
    om_b = onnx.load(os.path.join(mf.MODEL_DIR, args.model + "_b.onnx"))
    template, sa = mf.reference_model(ctor(), om_a, folded)
    _, sb = mf.reference_model(ctor(), om_b, folded)
    x = np.load(os.path.join(mf.DATA_DIR, "fashion_test_x.npy"))[:args.samples]
    y = np.load(os.path.join(mf.DATA_DIR, "fashion_test_y.npy"))[:args.samples]

    if args.warm_up:  # one batch (first-call initialization of the kernels), not timed
        analyze(template, sa, sb, x[:args.batch_size], y[:args.batch_size], args.batch_size)
    best, cpu = float("inf"), float("inf")
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        layers, comm, lmc = analyze(template, sa, sb, x, y, args.batch_size)
        wall = (time.perf_counter() - t0) * 1000
        if wall < best:
            best, cpu = wall, (time.process_time() - c0) * 1000
    out = {"model": args.model, "samples": int(x.shape[0]), "ms": best, "cpuMs": cpu,
           "threads": torch.get_num_threads(), "torch": torch.__version__}
    if args.results:
        nodes = mf.onnx_names(om_a)
        out["results"] = {
            "lmc": lmc,
            "layers": {nodes[p].output[0]: v for p, v in layers.items()},
            "commutativity": {nodes[p].name: v for p, v in comm.items()},
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
