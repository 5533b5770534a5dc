"""Build the graphs teams actually deploy from the test exports, and score flopscope on them.

What: for each float export in tests/data/models (resnet18, mobilenet_v2, bert-base, vit_b_16,
llama-mini) this writes, under --out DIR (default /tmp/deployed)/<model>/:
    float.onnx              `flopscope export --weights random` (the test files carry no
                            weights; seeded random ones; producer name restored)
    ort-basic|extended|all  ONNX Runtime offline optimisation (optimized_model_filepath)
    ort-transformers        onnxruntime.transformers.optimizer.optimize_model: bert, vit, and
                            llama-mini as "gpt2" (the decoder-only type); hidden_size and
                            num_heads read from the graph (see heads_hidden)
    qdyn-int8               quantize_dynamic, QInt8 weights
    qdq-int8, qop-int8      quant_pre_process (retried with skip_symbolic_shape=True when ORT's
                            symbolic shape inference fails; reported as a note), then
                            quantize_static QDQ / QOperator on 4 random inputs of the reference shape
    nbits4                  MatMulNBitsQuantizer, 4 bits, block 32, symmetric (transformers only)
    fp16                    onnxruntime.transformers.float16.convert_float_to_float16(keep_io_types)
then runs `target/debug/flopscope profile FILE --input NAME=SHAPE -f json` on every file and
prints a Markdown table (params and MACs vs truth, unknown-cost nodes, unsupported ops, and, if
onnx-tool is importable, its total MACs or the exception it raises), notes, and failures.

Truth: params = reference.json `onnx_params` (flopscope counts an int8/4-bit weight as the float
elements it stands for, scales/zero points apart as "quant params"). Legitimate differences: a
transformed file may store a float scalar constant as an initializer (or fold one away), and QDQ
quantises a bias shared by several Convs once per Conv. MACs = reference.json `truth_macs` at its
`inputs` shapes: optimisation and quantisation do not change the arithmetic, except that
ORT_ENABLE_ALL's NCHWc layout pads channels to the SIMD block; for files with com.microsoft.nchwc
ops the truth is recomputed from ONNX Runtime's runtime shapes (numel(Y)*prod(W[1:]) per Conv,
M*N*K per Gemm/MatMul) and the padding shown in a note.

Run from the repository root (about 5-10 minutes on 2 cores, ~6 GB of files):
    cargo build -q -p flopscope-cli
    python3 scripts/make_deployed_corpus.py [--out DIR] [--models bert-base,...] [--force] [--no-onnx-tool]
Existing files are reused unless --force. Each transformation runs in its own subprocess, so a
crash is reported as a failure rather than ending the run.
Written with Python 3.11, onnx 1.23.2, onnxruntime 1.32.0, numpy 2.4, torch 2.15 CPU (imported by
onnxruntime.transformers), onnx-tool 1.0.1 (optional: pip install onnx-tool).
"""

import argparse, importlib.util, json, os, subprocess, sys  # noqa: E401

import numpy as np
import onnx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(ROOT, "tests", "data", "models")
FLOPSCOPE = os.path.join(ROOT, "target", "debug", "flopscope")
# model -> model_type for onnxruntime.transformers.optimizer (None: not a transformer)
MODELS = {"resnet18": None, "mobilenet_v2": None, "bert-base": "bert", "vit_b_16": "vit",
          "llama-mini": "gpt2"}
TRANSFORMS = ["float", "ort-basic", "ort-extended", "ort-all", "ort-transformers",
              "qdyn-int8", "qdq-int8", "qop-int8", "nbits4", "fp16"]
TRANSFORMER_ONLY = {"ort-transformers", "nbits4"}


def graph_inputs(model):
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def feeds(model, shapes, n, seed=0):
    """n random feeds of the reference shapes: N(0,1) floats, token ids below the vocab."""
    rng = np.random.default_rng(seed)
    inits = {i.name: i for i in model.graph.initializer}
    out = []
    for _ in range(n):
        f = {}
        for inp, shape in zip(graph_inputs(model), shapes):
            et = inp.type.tensor_type.elem_type
            if et in (onnx.TensorProto.INT64, onnx.TensorProto.INT32):
                vocab = next((inits[nd.input[0]].dims[0] for nd in model.graph.node if nd.op_type
                              == "Gather" and nd.input[1] == inp.name and nd.input[0] in inits), 100)
                dt = np.int64 if et == onnx.TensorProto.INT64 else np.int32
                f[inp.name] = rng.integers(0, vocab, size=shape).astype(dt)
            else:
                dt = onnx.helper.tensor_dtype_to_np_dtype(et)
                f[inp.name] = rng.standard_normal(shape).astype(dt)
        out.append(f)
    return out


def heads_hidden(model):
    """hidden = first LayerNormalization scale (else the token embedding's width); heads from a
    constant Reshape shape [..., heads, head_dim, ...] with heads*head_dim == hidden (or -1, head_dim)."""
    inits = {i.name: i for i in model.graph.initializer}
    hidden = next((int(np.prod(inits[nd.input[1]].dims)) for nd in model.graph.node
                   if nd.op_type == "LayerNormalization" and nd.input[1] in inits), 0)
    hidden = hidden or next(inits[nd.input[0]].dims[1] for nd in model.graph.node
                            if nd.op_type == "Gather" and nd.input[0] in inits and len(inits[nd.input[0]].dims) == 2)
    consts = {k: onnx.numpy_helper.to_array(v) for k, v in inits.items() if np.prod(v.dims) <= 8}
    consts.update({nd.output[0]: onnx.numpy_helper.to_array(nd.attribute[0].t) for nd in model.graph.node
                   if nd.op_type == "Constant" and nd.attribute and nd.attribute[0].name == "value"})
    by_out = {o: nd for nd in model.graph.node for o in nd.output}
    pairs, divisors = [], []  # divisors: torchvision MHA's [L, N*heads, head_dim] / [.., heads, ..]
    for nd in (nd for nd in model.graph.node if nd.op_type == "Reshape"):
        src = by_out.get(nd.input[1])
        parts = src.input if src is not None and src.op_type == "Concat" else [nd.input[1]]
        vals = [int(v) if x in consts else None for x in parts for v in np.ravel(consts.get(x, [0]))]
        pairs += [(a, b) for a, b in zip(vals, vals[1:]) if a and b and 1 < b < hidden and hidden % b == 0]
        divisors += [a for a in vals if a and 1 < a < hidden and hidden % a == 0]
    heads = [a for a, b in pairs if a * b == hidden] or [hidden // b for a, b in pairs if a == -1] \
        or sorted(divisors, key=divisors.count)[-1:]
    return (heads or [0])[0], hidden  # 0: let the optimizer detect it


def make(name, t, src, dst, ref):
    """Write transformation t of src to dst (runs in a child process)."""
    if t == "float":
        subprocess.run([FLOPSCOPE, "export", os.path.join(MODELS_DIR, name + ".onnx"), "-o", dst,
                        "--weights", "random"], check=True)
        orig = onnx.load(os.path.join(MODELS_DIR, name + ".onnx"), load_external_data=False)
        m = onnx.load(dst)
        m.producer_name, m.producer_version = orig.producer_name, orig.producer_version
        onnx.save(m, dst)
    elif t.startswith("ort-") and t != "ort-transformers":
        import onnxruntime as ort
        lv = ort.GraphOptimizationLevel
        so = ort.SessionOptions()
        so.graph_optimization_level = {"ort-basic": lv.ORT_ENABLE_BASIC, "ort-extended":
                                       lv.ORT_ENABLE_EXTENDED, "ort-all": lv.ORT_ENABLE_ALL}[t]
        so.optimized_model_filepath = dst
        ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])
    elif t == "ort-transformers":
        from onnxruntime.transformers.optimizer import optimize_model
        heads, hidden = heads_hidden(onnx.load(src, load_external_data=False))
        optimize_model(src, model_type=MODELS[name], num_heads=heads, hidden_size=hidden).save_model_to_file(dst)
    elif t == "qdyn-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
    elif t in ("qdq-int8", "qop-int8"):
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quant_pre_process, quantize_static
        pre = os.path.join(os.path.dirname(dst), "preprocessed.onnx")
        if not os.path.exists(pre):
            try:
                quant_pre_process(src, pre)
            except Exception as e:  # noqa: BLE001  symbolic shape inference fails on some dynamic graphs
                print(f"NOTE: quant_pre_process failed ({type(e).__name__}: {e}); retried with "
                      "skip_symbolic_shape=True", file=sys.stderr)
                quant_pre_process(src, pre, skip_symbolic_shape=True)

        class Reader(CalibrationDataReader):
            it = iter(feeds(onnx.load(src, load_external_data=False), ref["inputs"], 4))
            get_next = lambda self: next(self.it, None)  # noqa: E731

        quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ if t == "qdq-int8" else QuantFormat.QOperator)
    elif t == "nbits4":
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        q = MatMulNBitsQuantizer(onnx.load(src), bits=4, block_size=32, is_symmetric=True)
        q.process()
        q.model.save_model_to_file(dst, False)
    elif t == "fp16":
        from onnxruntime.transformers.float16 import convert_float_to_float16
        onnx.save(convert_float_to_float16(onnx.load(src), keep_io_types=True), dst)


def nchwc_truth(path, feed):
    """MACs from ONNX Runtime's runtime shapes of a file with NCHWc (padded) Convs."""
    import onnxruntime as ort
    m = onnx.load(path)
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    have = {o.name for o in m.graph.output}
    for nd in m.graph.node:
        m.graph.output.extend(onnx.ValueInfoProto(name=o) for o in nd.output if o and o not in have)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    shape = {n: v.shape for n, v in zip(names, sess.run(names, feed))}
    shape.update({k: tuple(v) for k, v in feed.items()} | {k: tuple(v) for k, v in inits.items()})
    macs = 0
    for nd in m.graph.node:
        if nd.op_type in ("Conv", "FusedConv"):
            macs += int(np.prod(shape[nd.output[0]])) * int(np.prod(shape[nd.input[1]][1:]))
        elif nd.op_type in ("Gemm", "MatMul", "FusedMatMul"):
            k = shape[nd.input[0]][-1]
            if nd.op_type == "Gemm" and any(a.name == "transA" and a.i for a in nd.attribute):
                k = shape[nd.input[0]][0]
            macs += int(np.prod(shape[nd.output[0]])) * int(k)
    return macs


ONNX_TOOL = r"""
import sys, json, numpy as np, onnx_tool
feed = {k: np.zeros(s, dtype=d) for k, (s, d) in json.loads(sys.argv[2]).items()}
m = onnx_tool.Model(sys.argv[1], {"verbose": False}); g = m.graph
g.graph_reorder_nodes(); g.shape_infer(feed); g.profile(exclude_ops=onnx_tool.NoMacsOps)
print("MACS", int(g.macs[0]))
"""


def last_error(stderr):
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    errs = [l for l in lines if "Error" in l or "Exception" in l or l.startswith("Fail")]
    return (errs or lines or ["(no message)"])[-1].strip()[:300]


def run_onnx_tool(path, names, shapes, dtypes):
    arg = json.dumps({n: [s, d] for n, s, d in zip(names, shapes, dtypes)})
    try:
        r = subprocess.run([sys.executable, "-c", ONNX_TOOL, path, arg], capture_output=True, text=True, timeout=900,
                           cwd=os.path.dirname(path))
    except subprocess.TimeoutExpired:
        return None, "timeout (900 s)"
    for line in r.stdout.splitlines():
        if line.startswith("MACS "):
            return int(line.split()[1]), None
    return None, last_error(r.stderr + r.stdout)


def pct(x, truth):
    return "" if x is None else f"{100.0 * (x - truth) / truth:+.2f}%"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="/tmp/deployed")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--no-onnx-tool", action="store_true")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    ref = json.load(open(os.path.join(MODELS_DIR, "reference.json")))
    if a.one:
        d = os.path.join(a.out, a.one[0])
        return make(*a.one, os.path.join(d, "float.onnx"), os.path.join(d, a.one[1] + ".onnx"), ref[a.one[0]])
    have_ot = not a.no_onnx_tool and importlib.util.find_spec("onnx_tool") is not None
    rows, failures, notes = [], [], []
    for name in a.models.split(","):
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        subprocess.run(["rm", "-f", os.path.join(d, "preprocessed.onnx")] if a.force else ["true"])
        r = ref[name]
        for t in TRANSFORMS:
            if t in TRANSFORMER_ONLY and not MODELS[name]:
                continue
            dst = os.path.join(d, t + ".onnx")
            if a.force or not os.path.exists(dst):
                subprocess.run(["rm", "-f", dst])
                print(f"[{name}] {t} ...", file=sys.stderr, flush=True)
                try:
                    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--out", os.path.abspath(a.out),
                                        "--one", name, t], capture_output=True, text=True, timeout=3600,
                                       cwd=d)  # ORT's symbolic shape inference dumps files into cwd on failure
                    err = None if p.returncode == 0 and os.path.exists(dst) else \
                        f"exit {p.returncode}: {last_error(p.stderr)}"
                    notes += [f"{name} {t}: {l[6:]}" for l in p.stderr.splitlines() if l.startswith("NOTE: ")]
                except subprocess.TimeoutExpired:
                    err = "timeout (3600 s)"
                if err:
                    failures.append((name, t, err))
                    continue
            m = onnx.load(dst, load_external_data=False)
            ins = graph_inputs(m)
            orig = [i.name for i in graph_inputs(onnx.load(os.path.join(MODELS_DIR, name + ".onnx"),
                                                           load_external_data=False))]
            names = [n for n in orig if n in {i.name for i in ins}]
            shapes = [r["inputs"][orig.index(n)] for n in names]
            args = [f"--input={n}={'x'.join(map(str, s))}" for n, s in zip(names, shapes)]
            p = subprocess.run([FLOPSCOPE, "profile", dst, *args, "-f", "json"], capture_output=True, text=True)
            if p.returncode != 0:
                failures.append((name, t, "flopscope: " + last_error(p.stderr)))
                continue
            if t == "ort-transformers":
                notes.append(f"{name} ort-transformers: model_type={MODELS[name]}, (num_heads, hidden_size)="
                             f"{heads_hidden(onnx.load(os.path.join(d, 'float.onnx')))}")
            j = json.loads(p.stdout)
            tot = j["totals"]
            uns = ", ".join(f"{u['op']}×{u['count']}" for u in j["unsupported"]) or "-"
            truth_macs = r["truth_macs"]
            if any(n.domain == "com.microsoft.nchwc" for n in m.graph.node):
                try:
                    truth_macs = nchwc_truth(dst, feeds(m, shapes, 1)[0])
                    notes.append(f"{name} {t}: NCHWc-padded truth MACs {truth_macs:,} "
                                 f"({pct(truth_macs, r['truth_macs'])} vs the unpadded {r['truth_macs']:,})")
                except Exception as e:  # noqa: BLE001
                    notes.append(f"{name} {t}: could not compute the NCHWc truth: {e!r}"[:300])
            ot = ""
            if have_ot:
                dts = [onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type).name
                       for i in ins if i.name in names]
                v, e = run_onnx_tool(dst, names, shapes, dts)
                ot = f"{v:,} ({pct(v, truth_macs)})" if v is not None else f"error: {e}"
            rows.append([name, t, f"{os.path.getsize(dst) / 2**20:.1f}", f"{tot['params']:,}",
                         pct(tot["params"], r["onnx_params"]), f"{tot.get('quant_params', 0):,}", f"{tot['macs']:,}",
                         f"{truth_macs:,}", pct(tot["macs"], truth_macs), str(tot["nodes_cost_unknown"]), uns]
                        + ([ot.replace("|", "/")] if have_ot else []))
            print(f"[{name}] {t}: params {tot['params']:,} macs {tot['macs']:,} {ot}", file=sys.stderr, flush=True)
    hdr = ["model", "transform", "MB", "params", "Δ params", "quant params", "MACs", "truth MACs", "Δ MACs",
           "unknown", "unsupported"] + (["onnx-tool MACs (Δ)"] if have_ot else [])
    print("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr))
    print("\n".join("| " + " | ".join(row) + " |" for row in rows))
    print("\nTruth params: " + ", ".join(f"{n} {ref[n]['onnx_params']:,}" for n in a.models.split(",")))
    print("\n".join("- " + note for note in notes))
    print("\nFailed transformations:\n" + "\n".join(f"- {n} {t}: {e}" for n, t, e in failures) if failures else "")


if __name__ == "__main__":
    main()
