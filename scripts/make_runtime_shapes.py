"""Record the tensor shapes ONNX Runtime really produces, for flopscope's tests.

flopscope infers every intermediate shape statically; this script gives its
shape-inference tests an independent ground truth. For each model in
tests/data/models (copies of the shared reference exports) it rebuilds the missing external weights with seeded random
values, exposes every top-level node output as a graph output, runs ONNX
Runtime on CPU with all graph optimisations disabled, and writes the runtime
shape and numpy dtype of each output to tests/data/runtime_shapes/:

  <model>.json     batch 1 (token models: seq 128)  -- the reference.json binding
  <model>.b2.json  batch 2 (token models: seq 64)   -- a second binding

Rerun from the repository root (deterministic; needs onnx, onnxruntime, numpy):

  python3 scripts/make_runtime_shapes.py
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, numpy_helper

MODELS_DIR = os.path.join("tests", "data", "models")
OUT_DIR = os.path.join("tests", "data", "runtime_shapes")
IMAGE_MODELS = ["resnet18", "resnet18-dynamo", "mobilenet_v2", "vit_b_16"]
TOKEN_MODELS = ["bert-base", "llama-mini"]

# (suffix, batch, seq) per binding; image models always use 3x224x224.
BINDINGS = [("", 1, 128), (".b2", 2, 64)]


def load_with_random_weights(path):
    """Load the graph and embed seeded random data for every external initializer."""
    model = onnx.load(path, load_external_data=False)
    rng = np.random.default_rng(0)
    for i, init in enumerate(model.graph.initializer):
        if init.data_location != TensorProto.EXTERNAL:
            continue
        dtype = onnx.helper.tensor_dtype_to_np_dtype(init.data_type)
        shape = tuple(init.dims)
        if np.issubdtype(dtype, np.floating):
            data = rng.normal(0.0, 0.02, size=shape).astype(dtype)
        else:
            print(f"  note: {path}: external non-float initializer {init.name!r} "
                  f"({dtype}) filled with zeros", file=sys.stderr)
            data = np.zeros(shape, dtype=dtype)
        # from_array produces a fresh embedded tensor: no external_data fields.
        model.graph.initializer[i].CopyFrom(numpy_helper.from_array(data, init.name))
    return model


def expose_all_outputs(model):
    """Append every top-level node output as a (name-only) graph output."""
    present = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for name in node.output:
            if name and name not in present:
                vi = onnx.ValueInfoProto()
                vi.name = name  # ORT accepts a name-only output and fills in the type
                model.graph.output.append(vi)
                present.add(name)


def make_input(name, batch, seq):
    if name in IMAGE_MODELS:
        rng = np.random.default_rng(0)
        return rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
    rng = np.random.default_rng(0)
    return rng.integers(0, 1000, size=(batch, seq), dtype=np.int64)


def run(name, model_bytes, suffix, batch, seq):
    feed = {"input": make_input(name, batch, seq)}
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1  # deterministic, and plenty fast for these sizes
    so.log_severity_level = 3  # hide warnings where declared shapes disagree with runtime
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, feed)
    shapes, dtypes = {}, {}
    for out_name, value in zip(names, values):
        if not isinstance(value, np.ndarray):
            continue  # sequences / maps: only tensors are recorded
        shapes[out_name] = [int(d) for d in value.shape]
        dtypes[out_name] = value.dtype.name
    record = {
        "model": name,
        "inputs": {"input": [int(d) for d in feed["input"].shape]},
        "shapes": shapes,
        "dtypes": dtypes,
    }
    path = os.path.join(OUT_DIR, f"{name}{suffix}.json")
    with open(path, "w") as f:
        json.dump(record, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(shapes)} shapes, input {record['inputs']['input']}, "
          f"{os.path.getsize(path)} bytes")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for name in IMAGE_MODELS + TOKEN_MODELS:
        model = load_with_random_weights(os.path.join(MODELS_DIR, f"{name}.onnx"))
        expose_all_outputs(model)
        model_bytes = model.SerializeToString()
        for suffix, batch, seq in BINDINGS:
            try:
                run(name, model_bytes, suffix, batch, seq)
            except Exception as e:  # e.g. llama-mini's batch fixed to 1 by the exporter
                if suffix == "":
                    raise
                msg = " ".join(str(e).split())[:400]
                print(f"skipped {name}{suffix}.json: ORT failed: {msg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
