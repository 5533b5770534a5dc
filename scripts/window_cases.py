#!/usr/bin/env python3
"""Differential cases for window geometry (Conv, ConvTranspose, MaxPool, AveragePool, LpPool).

From a fixed seed, writes N single-node ONNX models with random window attributes (kernel,
strides, pads, auto_pad, dilations, ceil_mode, output_padding, output_shape, group) to OUTDIR,
runs each on ONNX Runtime and on ONNX's reference evaluator with random inputs, and writes
OUTDIR/cases.json: a list of {case, file, op, ort, reference}, where `ort` and `reference` are
the output shape (a list) or the string "error: ...".

    python3 scripts/window_cases.py OUTDIR [--seed 20261129] [--n 300]

The test `windows` (crates/flopscope-cli/tests/cli/windows.rs) compares flopscope with both.
"""

import argparse
import json
import os
import random
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

OPSET = 19  # AveragePool got dilations in 19; LpPool dilations and ceil_mode in 18
OPS = ["Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"]


def pick_pads(rng, sp):
    r = rng.random()
    if r < 0.4:
        return None
    hi = 2 if r < 0.8 else 6  # sometimes far beyond the kernel
    return [rng.randint(0, hi) for _ in range(2 * sp)]


def make_case(rng, i):
    op = OPS[i % len(OPS)]
    sp = rng.choice([1, 2, 2])
    n = 1
    ins = [rng.randint(1, 9) for _ in range(sp)]
    kernel = [rng.randint(1, 5) for _ in range(sp)]
    attrs = {}
    if rng.random() < 0.7:
        attrs["strides"] = [rng.randint(1, 3) for _ in range(sp)]
    if rng.random() < 0.5:
        attrs["dilations"] = [rng.randint(1, 3) for _ in range(sp)]
    auto = rng.choices(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"], [6, 1, 1, 1])[0]
    if auto != "NOTSET":
        attrs["auto_pad"] = auto
    else:
        pads = pick_pads(rng, sp)
        if pads is not None:
            attrs["pads"] = pads
    inits = []
    if op in ("Conv", "ConvTranspose"):
        group = rng.choice([1, 1, 2])
        cin = group * rng.randint(1, 2)
        cout = group * rng.randint(1, 2)
        if group != 1:
            attrs["group"] = group
        if rng.random() < 0.5:
            attrs["kernel_shape"] = kernel
        wshape = [cout, cin // group] + kernel if op == "Conv" else [cin, cout // group] + kernel
        w = np.random.default_rng(i).standard_normal(wshape).astype(np.float32)
        inits.append(helper.make_tensor("W", TensorProto.FLOAT, wshape, w.flatten().tolist()))
        inputs = ["X", "W"]
        if op == "ConvTranspose":
            if rng.random() < 0.5:
                attrs["output_padding"] = [rng.randint(0, 3) for _ in range(sp)]
            if rng.random() < 0.15:
                attrs["output_shape"] = [rng.randint(1, 20) for _ in range(sp)]
    else:
        cin = rng.randint(1, 3)
        attrs["kernel_shape"] = kernel
        if rng.random() < 0.4:
            attrs["ceil_mode"] = 1
        inputs = ["X"]
    xshape = [n, cin] + ins
    outputs = ["Y"] + (["I"] if op == "MaxPool" and rng.random() < 0.2 else [])
    node = helper.make_node(op, inputs, outputs, name=f"{op.lower()}{i}", **attrs)
    graph = helper.make_graph(
        [node],
        f"case{i}",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, xshape)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)]
        + ([helper.make_tensor_value_info("I", TensorProto.INT64, None)] if "I" in outputs else []),
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    desc = {"op": op, "x": xshape, "attrs": attrs}
    if inits:
        desc["w"] = list(inits[0].dims)
    return model, xshape, desc


def shape_or_error(f):
    try:
        return list(np.asarray(f()).shape)
    except Exception as e:  # noqa: BLE001 - any refusal counts as one
        return "error: " + " ".join(str(e).split())[:200]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    rng = random.Random(args.seed)
    so = ort.SessionOptions()
    so.log_severity_level = 4
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    warnings.filterwarnings("ignore")
    cases = []
    for i in range(args.n):
        model, xshape, desc = make_case(rng, i)
        name = f"case{i:04d}.onnx"
        path = os.path.join(args.outdir, name)
        data = model.SerializeToString()
        with open(path, "wb") as fh:
            fh.write(data)
        x = np.random.default_rng(10_000 + i).standard_normal(xshape).astype(np.float32)

        def run_ort():
            s = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
            return s.run(["Y"], {"X": x})[0]

        def run_ref():
            return ReferenceEvaluator(model).run(["Y"], {"X": x})[0]

        cases.append(
            dict(case=i, file=name, **desc, ort=shape_or_error(run_ort), reference=shape_or_error(run_ref))
        )
    with open(os.path.join(args.outdir, "cases.json"), "w") as fh:
        json.dump(cases, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
