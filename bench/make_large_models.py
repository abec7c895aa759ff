#!/usr/bin/python3
"""Large random-init checkpoints for the memory benchmark (bench/memory.ts), written with external
data (`X.onnx` + `X.onnx.data`) to test/fixtures/generated/ (git-ignored). Two seeds each.

    /usr/bin/python3 bench/make_large_models.py gpt124m resnet50 [huge]

- gpt124m: the byte-level GPT of the transformer fixtures (make_transformer_fixtures.ByteGPT) at
  GPT-2 small's dimensions (d 768, 12 pre-LN blocks of 12 heads, MLP 3072, context 1024) with an
  untied head and a vocabulary of 25,088, so that it has GPT-2 small's 124M parameters, each
  stored once; exported by torch 1.13 (opset 17), input `input_ids` [batch, seq].
- resnet50: torchvision ResNet-50 (1000 classes, eval export: BatchNorm folded), input [N, 3, 64, 64].
- huge: over protobuf's 2 GB limit, written directly with the onnx package (no torch export can
  hold it): a 36-layer ReLU MLP of width 4096 (604M parameters, 2.4 GB), input [N, 4096], each
  tensor's random values streamed to the data file one at a time.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "fixtures"))
OUT = os.path.join(HERE, "..", "test", "fixtures", "generated")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402


def to_external(path):
    """Rewrites an embedded export as the model plus one data file beside it."""
    m = onnx.load(path)
    data = os.path.basename(path) + ".data"
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data, size_threshold=1024)


def torch_export(model, sample, path, input_name):
    import torch
    model.eval()
    torch.onnx.export(model, sample, path, opset_version=17, input_names=[input_name], output_names=["logits"],
                      dynamic_axes={input_name: {0: "batch"}, "logits": {0: "batch"}})
    to_external(path)
    print("%s: %d parameters" % (path, sum(p.numel() for p in model.parameters())), flush=True)


def gpt124m():
    import torch
    from make_transformer_fixtures import ByteGPT
    for tag, seed in (("a", 0), ("b", 1)):
        torch.manual_seed(seed)
        m = ByteGPT(False, d=768, heads=12, hidden=3072, depth=12, vocab=25088, context=1024)
        torch_export(m, torch.zeros(1, 32, dtype=torch.int64), os.path.join(OUT, "gpt124m_%s.onnx" % tag), "input_ids")


def resnet50():
    import torch
    import torchvision
    for tag, seed in (("a", 0), ("b", 1)):
        torch.manual_seed(seed)
        m = torchvision.models.resnet50(num_classes=1000)
        torch_export(m, torch.zeros(1, 3, 64, 64), os.path.join(OUT, "resnet50x_%s.onnx" % tag), "input")


def huge(width=4096, depth=36, classes=10):
    for tag, seed in (("a", 0), ("b", 1)):
        rng = np.random.default_rng(seed)
        path = os.path.join(OUT, "huge_%s.onnx" % tag)
        location = os.path.basename(path) + ".data"
        initializers, nodes, offset = [], [], 0
        with open(path + ".data", "wb") as f:
            def stored(name, shape, scale):
                nonlocal offset
                values = (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).tobytes()
                f.write(values)
                # Only the header: the values are in the data file (make_tensor insists on values).
                t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape)
                t.data_location = TensorProto.EXTERNAL
                for k, v in (("location", location), ("offset", str(offset)), ("length", str(len(values)))):
                    e = t.external_data.add()
                    e.key, e.value = k, v
                offset += len(values)
                initializers.append(t)
                return name
            h = "input"
            for i in range(depth):
                out = classes if i == depth - 1 else width
                w = stored("layer%d.weight" % i, [width, out], 1 / np.sqrt(width))
                b = stored("layer%d.bias" % i, [out], 0.01)
                nodes.append(helper.make_node("MatMul", [h, w], ["mm%d" % i], name="MatMul_%d" % i))
                last = "logits" if i == depth - 1 else "add%d" % i
                nodes.append(helper.make_node("Add", ["mm%d" % i, b], [last], name="Add_%d" % i))
                if i < depth - 1:
                    nodes.append(helper.make_node("Relu", [last], ["relu%d" % i], name="Relu_%d" % i))
                    h = "relu%d" % i
        graph = helper.make_graph(nodes, "huge_mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", width])],
                                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        print("%s: %d bytes of external data" % (path, offset), flush=True)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    makers = {"gpt124m": gpt124m, "resnet50": resnet50, "huge": huge}
    for name in sys.argv[1:] or ["gpt124m", "resnet50"]:
        makers[name]()
