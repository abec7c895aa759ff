#!/usr/bin/python3
"""The baseline of bench/merge.ts: MergeMany in numpy + scipy as one process, files in, file out.

    /usr/bin/python3 bench/merge_numpy.py make DIR N        # N ResNet-18s (random init) -> DIR/resnet18_<k>.onnx
    /usr/bin/python3 bench/merge_numpy.py merge SPEC OUT.onnx M1.onnx ... Mn.onnx [--max-rounds R]

`make`: torchvision ResNet-18 (num_classes=10, seeds 0..N-1) with randomized BatchNorm (as
scripts/fixtures/make_align_fixtures.py does, so that the folded biases are not all zero), eval
export (BatchNorm folded into Conv), input N x 3 x 32 x 32.

`merge`: reads the models with onnx, runs scripts/fixtures/merge_reference.py's MergeMany (seed
0) over the spec SPEC (JSON written by bench/merge.ts from llfc's inferred spec: {"uses": {key:
initializer}, "groups": [{"size", "actions": [[key, axis, offset, inner], ...]}]}; a spec is what a
hand-written script would carry), writes the merged model as ONNX and its parameters as .npz
beside it, and prints a JSON line {"objective", "rounds"}.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "fixtures"))


def make(out_dir, count):
    import torch
    import torchvision
    from make_align_fixtures import randomize_batchnorm
    import warnings

    os.makedirs(out_dir, exist_ok=True)
    for k in range(count):
        torch.manual_seed(k)
        m = torchvision.models.resnet18(num_classes=10).eval()
        randomize_batchnorm(m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(m, torch.zeros(1, 3, 32, 32), os.path.join(out_dir, "resnet18_%d.onnx" % k), opset_version=13,
                              input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def merge(spec_file, out, files, max_rounds):
    import numpy as np
    import onnx
    from onnx import numpy_helper
    import merge_reference as mr

    with open(spec_file) as f:
        spec = json.load(f)
    uses = spec["uses"]
    groups = [{"size": g["size"], "actions": [tuple(a) for a in g["actions"]]} for g in spec["groups"]]
    protos = [onnx.load(f) for f in files]
    models = []
    for p in protos:
        tensors = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in p.graph.initializer}
        models.append({key: tensors[name] for key, name in uses.items()})
    result = mr.merge_many(models, groups, seed=0, max_rounds=max_rounds)
    merged = result["merged"]
    first = protos[0]
    by_name = {name: key for key, name in uses.items()}
    for t in first.graph.initializer:
        if t.name in by_name:
            t.CopyFrom(numpy_helper.from_array(merged[by_name[t.name]], t.name))
    onnx.save(first, out)
    np.savez(out[:-5] + ".npz", **{uses[k]: v for k, v in merged.items()})
    print(json.dumps({"objective": result["objective"], "rounds": len(result["rounds"])}))


def main(argv):
    if len(argv) >= 3 and argv[0] == "make":
        make(argv[1], int(argv[2]))
    elif len(argv) >= 5 and argv[0] == "merge":
        rounds = int(argv[argv.index("--max-rounds") + 1]) if "--max-rounds" in argv else 100
        files = [a for i, a in enumerate(argv[3:], 3) if a != "--max-rounds" and argv[i - 1] != "--max-rounds"]
        merge(argv[1], argv[2], files, rounds)
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
