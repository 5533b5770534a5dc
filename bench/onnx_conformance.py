"""Shape/dtype inference of flopscope against ONNX's operator conformance suite.

Every node test case shipped in the installed ``onnx`` wheel (``onnx.backend.test.case.node.
collect_testcases()``: 1,884 cases for onnx 1.23.2) loses what would give the answer away --
the declared types of its graph outputs (names kept) and all ``value_info`` -- and its graph
inputs are pinned to the shapes of its own input arrays (they already are, bar 4 symbolic
dims). Then (a) ``flopscope.profile(model_bytes, name=case)`` and (b) ONNX's own
``onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)`` infer the
graph outputs. A case is right for a tool when every graph output's dtype AND shape equal the
reference output's (numpy dtype -> ONNX-style name: float32, int64, bool, bfloat16, string).
A sequence output (a list of arrays) needs a sequence of the elements' dtype and, when they
share one, of their shape (flopscope's profile has no sequence type: it reports them
unknown); an optional type is looked through. flopscope keeps one float8 and one float4 type,
so for it float8e4m3fn, float8e5m2... compare as float8 and float4e2m1 as float4
(``--strict-dtypes``: exact names). A flopscope exception counts as wrong.

Prints the totals, then the operators ONNX gets and flopscope misses (cases, one example,
its reason: for flopscope, the first node whose output it does not know and why), then the
reverse. A case's operator is its node's op_type; a multi-node case (a function body,
``_expanded``) is labelled ``<Op> (expanded)`` after the case name.

Run from the repository root (the compiled extension must be in python/flopscope):

    python3 bench/onnx_conformance.py [--json results.json] [--top 30] [-k name] [--strict-dtypes]
                                      [--cli target/debug/flopscope]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import onnx
from onnx import helper, shape_inference

# The checkout's package when its extension is built there (maturin develop), else the
# installed one (pip install .).
_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python")
if any(f.startswith("_flopscope") and f.endswith((".so", ".pyd"))
       for f in os.listdir(os.path.join(_SRC, "flopscope"))):
    sys.path.insert(0, _SRC)
import flopscope  # noqa: E402

# ONNX element type code -> name in flopscope's (numpy's) spelling.
DTYPE = {code: name.lower() for name, code in onnx.TensorProto.DataType.items()}
DTYPE.update({onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64", 0: None})
SCHEMAS = sorted({s.name for s in onnx.defs.get_all_schemas_with_history()}, key=len, reverse=True)


def np_dtype(dt: np.dtype) -> str:
    if dt.kind in "OUS":
        return "string"
    return DTYPE[helper.np_dtype_to_tensor_dtype(dt)]


def expected(value) -> tuple:
    """(kind, dtype, shape, element shapes) of a reference output."""
    if isinstance(value, list):
        dts = {np_dtype(np.asarray(v).dtype) for v in value}
        return ("seq", dts.pop() if len(dts) == 1 else None, None,
                [tuple(np.shape(v)) for v in value])
    if isinstance(value, onnx.TensorProto):
        return ("tensor", DTYPE[value.data_type], tuple(value.dims), None)
    a = np.asarray(value)
    return ("tensor", np_dtype(a.dtype), tuple(a.shape), None)


def onnx_type(t: onnx.TypeProto) -> tuple:
    """(kind, dtype, shape) that ONNX inferred; unknown dims are None."""
    which = t.WhichOneof("value")
    if which == "optional_type":
        return onnx_type(t.optional_type.elem_type)
    if which == "sequence_type":
        _, dt, shape = onnx_type(t.sequence_type.elem_type)
        return ("seq", dt, shape)
    if which not in ("tensor_type", "sparse_tensor_type"):
        return (which, None, None)
    tt = getattr(t, which)
    shape = None
    if tt.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
    return ("tensor", DTYPE.get(tt.elem_type), shape)


def family(dt):
    return re.sub(r"^(float8|float4).*", r"\1", dt) if isinstance(dt, str) else dt


def fmt(kind, dt, shape) -> str:
    if shape is None and dt in (None, "unknown"):
        return "seq<unknown>" if kind == "seq" else "unknown"
    s = "?" if shape is None else "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"
    return f"{'seq<' if kind == 'seq' else ''}{dt or '?'}{s}{'>' if kind == 'seq' else ''}"


def mismatch(name, got, want, loose_dtype=False) -> str | None:
    """None when `got` (kind, dtype, shape) matches the reference `want`, else a reason."""
    kind, dt, shape = got
    wkind, wdt, wshape, elems = want
    if elems is not None and len(set(elems)) == 1:  # a sequence of alike elements
        wshape, elems = elems[0], None
    norm = family if loose_dtype else (lambda x: x)
    ok = kind == wkind and (wdt is None or norm(dt) == norm(wdt))
    if ok and elems is not None:  # elements of different shapes: the shape must fit each
        ok = shape is None or all(
            len(e) == len(shape) and all(d is None or d == x for d, x in zip(shape, e))
            for e in elems)
    elif ok:
        ok = shape == wshape
    return None if ok else f"{name}: got {fmt(kind, dt, shape)} want {fmt(wkind, wdt, wshape)}"


def strip(case) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(case.model)
    for o in m.graph.output:
        o.ClearField("type")
    del m.graph.value_info[:]
    for gi, arr in zip(m.graph.input, case.data_sets[0][0]):
        if gi.type.HasField("tensor_type") and isinstance(arr, np.ndarray):
            dims = gi.type.tensor_type.shape.dim
            if len(dims) == arr.ndim and any(not d.HasField("dim_value") for d in dims):
                for d, n in zip(dims, arr.shape):
                    d.dim_value = n
    return m


def op_label(case) -> str:
    nodes = case.model.graph.node
    if len(nodes) == 1:
        return nodes[0].op_type
    key = re.sub(r"_expanded.*$", "", case.name[5:]).replace("_", "").lower()
    op = next((s for s in SCHEMAS if key.startswith(s.lower())), None)
    return f"{op or '+'.join(dict.fromkeys(n.op_type for n in nodes))} (expanded)"


def profile_dict(case, data: bytes, cli: str | None) -> dict:
    """flopscope's profile of one case as its JSON document (Python package, or the CLI)."""
    if cli is None:
        return flopscope.profile(data, name=case.name).to_dict()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, case.name + ".onnx")
        with open(path, "wb") as f:
            f.write(data)
        r = subprocess.run([cli, "profile", path, "-f", "json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode)
    return json.loads(r.stdout)


def cost_unknown(p: dict) -> list:
    """Operators of the case whose cost flopscope did not count."""
    return sorted({l["op"] for l in p["layers"] if l["flops"] is None})


def run_flopscope(case, data: bytes, want: dict, loose: bool, cli: str | None,
                  unknown: list) -> str | None:
    """None when every output is right, else why not; appends to `unknown` the operators
    whose cost stayed unknown."""
    try:
        p = profile_dict(case, data, cli)
        got = {o["name"]: o for o in p["outputs"]}
    except Exception as e:  # noqa: BLE001 -- every failure is a result
        return f"{type(e).__name__}: {e}".replace("\n", " ")
    unknown.extend(cost_unknown(p))
    reasons = []
    for name, w in want.items():
        o = got.get(name)
        if o is None:
            reasons.append(f"{name}: not among the profile's outputs")
            continue
        shape = None if o["shape"] is None else tuple(o["shape"])
        kind = "seq" if o.get("sequence") else "tensor"
        r = mismatch(name, (kind, o["dtype"], shape), w, loose_dtype=loose)
        if r:
            reasons.append(r)
    if not reasons:
        return None
    lost = next((l for l in p["layers"] if None in l["outputs"]), None)
    if lost is None:
        return "; ".join(reasons)
    # The first node, in execution order, whose output shape flopscope does not know.
    why = {u["op"].split("::")[-1]: u["reason"] for u in p["unsupported"]}.get(
        lost["op"], "not reported")
    where = f" (node {lost['name']})" if len(case.model.graph.node) > 1 else ""
    return f"{lost['op']}{where}: {why} -- " + "; ".join(reasons)


def run_onnx(model, want: dict) -> str | None:
    try:
        inferred = shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {e}".replace("\n", " ")
    got = {o.name: onnx_type(o.type) for o in inferred.graph.output}
    reasons = [mismatch(n, got[n], w) for n, w in want.items()]
    return "; ".join(r for r in reasons if r) or None


def table(title, rows, top):
    groups: dict = {}
    for r in rows:
        groups.setdefault(r["op"], []).append(r)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    print(f"\n{title}: {len(rows)} cases, {len(groups)} operators")
    print(f"{'operator':<34} {'cases':>5}  example: reason")
    for op, rs in ranked[:top]:
        ex = rs[0]
        reason = ex["onnx_error"] if ex["flopscope_ok"] else ex["flopscope_error"]
        if len(reason) > 150:
            reason = reason[:147] + "..."
        print(f"{op:<34} {len(rs):>5}  {ex['case']}: {reason}")
    rest = ranked[top:]
    if rest:
        print(f"... and {len(rest)} more operators ({sum(len(v) for _, v in rest)} cases)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", metavar="PATH", help="write every case's result to PATH")
    ap.add_argument("--top", type=int, default=30, help="operators listed per table (30)")
    ap.add_argument("-k", metavar="TEXT", help="only cases whose name contains TEXT")
    ap.add_argument("--strict-dtypes", action="store_true",
                    help="flopscope's float8/float4 must name the exact ONNX variant")
    ap.add_argument("--cli", metavar="BIN",
                    help="profile each case with this flopscope binary instead of the package")
    args = ap.parse_args()

    t0 = time.perf_counter()
    with warnings.catch_warnings():  # the case generators overflow casts on purpose
        warnings.simplefilter("ignore")
        np.seterr(all="ignore")
        from onnx.backend.test.case.node import collect_testcases
        cases = [c for c in collect_testcases() if not args.k or args.k in c.name]
    t1 = time.perf_counter()

    results = []
    for case in cases:
        model = strip(case)
        outs = case.data_sets[0][1]
        want = {o.name: expected(v) for o, v in zip(model.graph.output, outs)}
        unknown: list = []
        fs_err = run_flopscope(case, model.SerializeToString(), want, not args.strict_dtypes,
                               args.cli, unknown)
        ox_err = run_onnx(model, want)
        results.append({
            "case": case.name, "op": op_label(case), "nodes": len(case.model.graph.node),
            "expected": {n: fmt(*w[:3]) if w[0] == "tensor" else f"seq<{w[1]}>{w[3]}"
                         for n, w in want.items()},
            "flopscope_ok": fs_err is None, "flopscope_error": fs_err,
            "onnx_ok": ox_err is None, "onnx_error": ox_err,
            "cost_unknown": unknown,
        })
    t2 = time.perf_counter()

    fs = sum(r["flopscope_ok"] for r in results)
    ox = sum(r["onnx_ok"] for r in results)
    both = sum(r["flopscope_ok"] and r["onnx_ok"] for r in results)
    n = len(results)
    print(f"onnx {onnx.__version__} conformance node cases, flopscope {flopscope.__version__}"
          f" (collected in {t1 - t0:.1f}s, checked in {t2 - t1:.1f}s)")
    print("flopscope dtypes: " + ("exact" if args.strict_dtypes else
                                  "float8*/float4* compared by family (--strict-dtypes: exact)"))
    for label, v in [("cases", n), ("flopscope right", fs), ("ONNX right", ox),
                     ("both right", both), ("flopscope only", fs - both), ("ONNX only", ox - both),
                     ("neither", n - fs - ox + both)]:
        print(f"{label:<17} {v:>6}  ({100 * v / max(n, 1):5.1f}%)")
    costless = [r for r in results if r["flopscope_ok"] and r["cost_unknown"]]
    print(f"{'right, cost unknown':<17} {len(costless):>6}  "
          f"(outputs right but some node's cost not counted)")
    for r in costless[:args.top]:
        print(f"  {r['case']}: {', '.join(r['cost_unknown'])}")
    table("ONNX right, flopscope wrong",
          [r for r in results if r["onnx_ok"] and not r["flopscope_ok"]], args.top)
    table("flopscope right, ONNX wrong",
          [r for r in results if r["flopscope_ok"] and not r["onnx_ok"]], args.top)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"onnx": onnx.__version__, "flopscope": flopscope.__version__,
                       "cases": results}, f, indent=1)
        print(f"\nwrote {n} cases to {args.json}")


if __name__ == "__main__":
    main()
