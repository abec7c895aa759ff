#!/usr/bin/python3
"""Test helper: loads a .safetensors file written by `llfc align` into the PyTorch model it came
from with `model.load_state_dict(..., strict=True)` and writes the model's logits on an input.

    /usr/bin/python3 test/align/load_state_dict.py mlp|resnet_folded|vit_mha FILE.safetensors X.npy OUT.npy

The file is parsed here with json + numpy (the `safetensors` package is not needed): 8-byte
little-endian header length, JSON header, raw little-endian data. The architectures are those
of scripts/fixtures/make_fixtures.py (resnet_folded: its SmallResNet with every BatchNorm folded
into the preceding Conv, as the eval export stores it); vit_mha is the ViT with
nn.MultiheadAttention of scripts/fixtures/make_transformer_fixtures.py.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "fixtures"))
import make_fixtures as mf  # noqa: E402
import make_transformer_fixtures as mtf  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf8"))
    base = 8 + n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        arr = np.frombuffer(raw[base + begin:base + end], dtype="<f4").reshape(entry["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, header.get("__metadata__", {})


def main(kind, path, x_path, out_path):
    state, _ = read_safetensors(path)
    if kind == "mlp":
        model = mf.MLP()
    elif kind == "resnet_folded":
        model = mf.fold_structure(mf.SmallResNet().eval())
    elif kind == "vit_mha":
        model = mtf.ViT("torch")
    else:
        raise SystemExit("unknown model kind " + kind)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.from_numpy(np.load(x_path))
    with torch.no_grad():
        np.save(out_path, model(x).numpy())


if __name__ == "__main__":
    main(*sys.argv[1:5])
