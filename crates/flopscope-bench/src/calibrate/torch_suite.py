"""Times flopscope's calibration micro-benchmarks in PyTorch (run by `flopscope calibrate
--backend torch|torch.compile`). Each ONNX file of the suite is rebuilt as a torch module (the
suite uses a dozen operators, each mapped to its torch function), run eagerly or through
torch.compile, on CUDA when torch sees a GPU, else on the CPU.

Reads a JSON request on stdin: {"files": [...], "threads": N, "seconds": S, "compile": bool,
"probe": bool}. Writes {"device", "version", "times_ms"} (fastest run of each) on stdout, progress on stderr."""

import json
import sys
import time

import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class OnnxModule(torch.nn.Module):
    """The nodes of one micro-benchmark, run in order with torch operators."""

    def __init__(self, path, device):
        super().__init__()
        g = onnx.load(path).graph
        self.inputs = [i.name for i in g.input]
        self.outputs = [o.name for o in g.output]
        self.consts = {}
        for t in g.initializer:
            self.consts[t.name] = torch.from_numpy(numpy_helper.to_array(t).copy()).to(device)
        self.nodes = []
        for n in g.node:
            a = attrs(n)
            if n.op_type == "Constant":
                self.consts[n.output[0]] = torch.from_numpy(
                    numpy_helper.to_array(a["value"]).copy()).to(device)
            else:
                self.nodes.append((n.op_type, list(n.input), n.output[0], a))

    def forward(self, *xs):
        env = dict(self.consts)
        env.update(zip(self.inputs, xs))
        for op, ins, out, a in self.nodes:
            x = [env[i] for i in ins if i]
            env[out] = run(op, x, a)
        outs = [env[o] for o in self.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def run(op, x, a):
    if op == "MatMul":
        return torch.matmul(x[0], x[1])
    if op == "Add":
        return x[0] + x[1]
    if op == "Mul":
        return x[0] * x[1]
    if op == "Conv":
        p = a.get("pads", [0, 0, 0, 0])
        return F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None, stride=a.get("strides", 1),
                        padding=(p[0], p[1]), groups=a.get("group", 1))
    if op == "Relu":
        return torch.relu(x[0])
    if op == "Sigmoid":
        return torch.sigmoid(x[0])
    if op == "HardSwish":
        return F.hardswish(x[0])
    if op == "Tanh":
        return torch.tanh(x[0])
    if op == "Softmax":
        return torch.softmax(x[0], a.get("axis", -1))
    if op == "LayerNormalization":
        return F.layer_norm(x[0], x[0].shape[-1:], x[1], x[2], a.get("epsilon", 1e-5))
    if op == "BatchNormalization":
        return F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("epsilon", 1e-5))
    if op == "MaxPool":
        return F.max_pool2d(x[0], a["kernel_shape"], a.get("strides"), a.get("pads", [0])[0])
    if op == "GlobalAveragePool":
        return x[0].mean((2, 3), keepdim=True)
    if op == "ReduceMean":
        return x[0].mean(tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1)))
    if op == "Transpose":
        return x[0].permute(*a["perm"]).contiguous()
    if op == "Concat":
        return torch.cat(x, a["axis"])
    if op == "Pad":
        p = x[1].tolist()
        half = len(p) // 2
        # ONNX: begins of every axis, then ends; torch: (begin, end) from the last axis back.
        flat = [v for i in reversed(range(half)) for v in (p[i], p[i + half])]
        return F.pad(x[0], flat)
    raise SystemExit(f"torch_suite: no rule for ONNX operator {op}")


def main():
    req = json.load(sys.stdin)
    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    name = torch.cuda.get_device_name(dev) if cuda else "cpu"
    if req.get("probe"):
        print(json.dumps({"device": name, "cuda": cuda, "version": torch.__version__}))
        return
    torch.set_num_threads(int(req["threads"]))
    times = []
    files = req["files"]
    for i, path in enumerate(files):
        print(f"{i} {len(files)} {path}", file=sys.stderr, flush=True)
        m = OnnxModule(path, dev)
        g = onnx.load(path, load_external_data=False).graph
        xs = []
        for inp in g.input:
            shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
            xs.append(torch.rand(shape, device=dev) * 2 - 1)
        fn = torch.compile(m) if req.get("compile") else m
        sync = torch.cuda.synchronize if cuda else (lambda: None)
        with torch.inference_mode():
            for _ in range(3):
                fn(*xs)
            sync()
            samples, start = [], time.perf_counter()
            while len(samples) < 500 and (len(samples) < 5 or
                                          time.perf_counter() - start < req["seconds"]):
                t = time.perf_counter()
                fn(*xs)
                sync()
                samples.append((time.perf_counter() - t) * 1e3)
        times.append(min(samples))  # as the ONNX Runtime path: the uninterrupted run
    print(json.dumps({"device": name, "cuda": cuda, "version": torch.__version__,
                      "times_ms": times}))


if __name__ == "__main__":
    main()
