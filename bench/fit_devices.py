"""Fits the `gpu` profile of flopscope's time model (docs/predict.md) on timm's measured
inference tables (RTX 3090 and RTX 4090, AMP, batch 256-1024) and judges it across them.

Inputs: the two tables in bench/data/timm/ and the traces bench/timm_traces.py captured
(one per model, image size and batch size). Each trace goes once through
`flopscope predict TRACE --device rtx3090 --dtype amp --backend torch -f json`, whose
`layers[]` give every layer's class, FLOPs, bytes (already at 2 bytes per element) and
fusion, and whether it follows a permute/transpose view; those features are cached
(`--features`). The time model is then evaluated in numpy (bench/time_model.py: the same
arithmetic as crates/flopscope-core/src/predict/, which `--check N` verifies on the CLI)
and its parameters fitted by bounded least squares on the log of throughput (scipy's
trust-region reflective solver: ~20 bounded parameters, an objective smooth almost
everywhere, thousands of models: what it is made for). `--formula spec` fits the spec's
formula alone; the default, `proposed`, adds its three optional terms (strided-input copy,
soft roofline, L2 carry-over).

What it reports (stdout and bench/results/fit_devices.md): fit on one table and judged on
the other, both ways (median and 90th percentile of |predicted/measured - 1| of throughput,
Spearman rank correlation, n); the same in-sample; the baseline of the issue (a roofline on
timm's own GMAC and activation columns) fitted the same way; the median error by dominant
op class, size and model family; the models skipped and why; with `--variants`, each
change to the formula judged the same way. `--write` puts the profile fitted on both
tables and the cross-table error band into crates/flopscope-core/data/predict.json.

From the repository root, with `pip install -r bench/requirements.txt`, the package (for
the capture) and the CLI built (`cargo build -p flopscope-cli`):

    python3 bench/timm_traces.py --out /tmp/timm-traces      # ~40 min of one core, once
    python3 bench/fit_devices.py --traces /tmp/timm-traces [--variants] [--write] [--check 10]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

import numpy as np
from scipy.optimize import least_squares
from scipy.stats import spearmanr

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from time_model import CLASSES, L2_CARRY, PROPOSED, VARIANTS, Design, Variant, describe, pack, split, unpack  # noqa: E402
from timm_traces import TABLES, trace_name  # noqa: E402

PARAMS_JSON = os.path.join(ROOT, "crates", "flopscope-core", "data", "predict.json")
DEVICES_JSON = os.path.join(ROOT, "crates", "flopscope-core", "data", "devices.json")
DEVICES = {"rtx3090": TABLES[0], "rtx4090": TABLES[1]}
FORMULAS = {"spec": VARIANTS[0], "proposed": PROPOSED}
STRIDED_VIEWS = {"permute", "transpose"}
DEVICES_NAME = {"rtx3090": "RTX 3090", "rtx4090": "RTX 4090"}
# Sane ranges: eff in (0, 1], half >= 0 (GFLOP), mem_eff in (0, 1.5] (L2 can beat DRAM).
# Floors, generous and physical, not tuned: a streaming kernel reaches at least half the
# datasheet DRAM bandwidth, and a kernel at least a tenth of its class's peak per counted
# FLOP. Without them a one-device fit explains slow elementwise layers by a 1% compute
# efficiency or slow GEMMs by a 20% bandwidth: the same time on that device, but a wrong
# scaling to the other (compute and bandwidth grow by 2.3× and 1.08× from 3090 to 4090).
LO_EFF, LO_MEM = 0.1, 0.5
HI_HALF = 1e3


# --------------------------------------------------------------------------- data

def load_table(path: str) -> list[dict]:
    rows = []
    for r in csv.DictReader(open(path)):
        if not all(r.values()):
            continue  # one row of the 3090 table has no GMACs (the baseline needs them)
        rows.append({
            "model": r["model"], "img": int(r["infer_img_size"]), "batch": int(r["infer_batch_size"]),
            "sps": float(r["infer_samples_per_sec"]), "param_count": float(r["param_count"]),
            "gmacs": float(r["infer_gmacs"]), "macts": float(r["infer_macts"]),
        })
    return rows


def device_figures(key: str) -> dict:
    """The catalog's fp16 (fp32 accumulate) and fp32 peaks (FLOP/s), bandwidth (B/s), L2."""
    for d in json.load(open(DEVICES_JSON))["devices"]:
        if d["key"] == key:
            return {"p16": d["peak_tflops"]["fp16"] * 1e12, "p32": d["peak_tflops"]["fp32"] * 1e12,
                    "bw": d["memory_bandwidth_gbs"] * 1e9, "l2": d.get("l2_mb", 0) * 2**20}
    raise SystemExit(f"fit_devices: device {key} not in {DEVICES_JSON}")


# --------------------------------------------------------------------------- features

def run_predict(binary: str, trace_gz: str, device: str, params: str | None = None) -> dict:
    """The CLI's prediction for one trace (the CLI reads plain JSON traces: unzip first)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
        with gzip.open(trace_gz) as f:
            shutil.copyfileobj(f, tmp)
        tmp.flush()
        cmd = [binary, "predict", tmp.name, "--device", device, "--dtype", "amp",
               "--backend", "torch", "-f", "json"]
        if params:
            cmd += ["--params", params]
        out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}")
    return json.loads(out.stdout)


def features(binary: str, traces: str, cache: str, keys: list[tuple]) -> tuple[dict, dict]:
    """Per trace key (model, img, batch): arrays of the layers that take time — class index,
    FLOPs, bytes, fused — from the cache or the CLI; and the keys that failed, with why."""
    os.makedirs(cache, exist_ok=True)
    feats, failed = {}, {}
    t0, fresh = time.time(), 0
    for i, key in enumerate(keys):
        name = trace_name(*key)
        npz = os.path.join(cache, name.replace(".json.gz", ".npz"))
        if os.path.exists(npz):
            z = np.load(npz)
            feats[key] = {k: z[k] for k in z.files}
            continue
        try:
            p = run_predict(binary, os.path.join(traces, name), "rtx3090")
        except (RuntimeError, json.JSONDecodeError) as e:
            failed[key] = f"predict failed: {e}"[:200]
            continue
        # Whether the layer before a kernel (in profile order) is a permute or transpose view:
        # the kernel then reads a strided tensor (a variant charges the copy this costs).
        prev, strided = "", []
        for l in p["layers"]:
            strided.append(prev in STRIDED_VIEWS)
            if l["op"] != "Constant":
                prev = l["op"]
        ls = [l for l, _ in zip(p["layers"], strided) if l["class"] != "view"]
        strided = [st for l, st in zip(p["layers"], strided) if l["class"] != "view"]
        f = {
            "strided": np.array(strided, dtype=bool),
            "cls": np.array([CLASSES.index(l["class"]) for l in ls], dtype=np.int8),
            "flops": np.array([float(l["flops"] or 0) for l in ls]),
            "bytes": np.array([float(l["bytes"] or 0) for l in ls]),
            "fused": np.array([bool(l["fused"]) for l in ls]),
        }
        np.savez(npz, **f)
        feats[key] = f
        fresh += 1
        if fresh % 100 == 0:
            print(f"  features: {i + 1}/{len(keys)} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    return feats, failed


# Launch overhead per kernel (µs): at the tables' batch sizes (256-1024) kernels run for
# milliseconds and the overhead is not identifiable (fitted freely it goes to 0, which would
# predict batch-1 latency as pure roofline). Pinned to the usual eager-mode figure: a CUDA
# launch plus PyTorch's dispatch, ~5 µs on a current desktop CPU.
OVERHEAD_US = 5.0
# Largest half-efficiency size (GFLOP). Fitted freely, `half` becomes a fixed cost per kernel
# ((F + half) / (P·eff): hundreds of µs at batch 1024) that stands in for effects of shape, and
# would make every small layer at batch 1 absurdly slow. 1 GFLOP keeps it physical: a
# 1024³ GEMM (2.1 GFLOP) runs at two thirds of the class efficiency.
MAX_HALF = 1.0


def constraints(free: bool) -> tuple[dict, tuple]:
    """Pinned parameters (index → value) and the bounds of all of them: the shipped fit
    (`free` False) or the one that lets overhead, half and the floors go where the tables
    pull them."""
    pinned = {1 + 3 * CLASSES.index("data"): 1.0, 2 + 3 * CLASSES.index("data"): 0.0}
    if not free:  # `data` layers have no FLOPs: their eff and half never act
        pinned[0] = OVERHEAD_US
    half, lo_eff, lo_mem = (HI_HALF, 1e-3, 1e-3) if free else (MAX_HALF, LO_EFF, LO_MEM)
    return pinned, (np.array([0.0] + [lo_eff, 0.0, lo_mem] * len(CLASSES)),
                    np.array([200.0] + [1.0, half, 1.5] * len(CLASSES)))


STARTS = [np.array([5.0] + [0.5, 0.5, 0.7] * len(CLASSES)),
          np.array([5.0] + [0.8, 0.05, 1.0] * len(CLASSES))]


def fit(sets: list[tuple], v: Variant = VARIANTS[0], starts: list | None = None,
        free: bool = False, max_nfev: int = 200) -> np.ndarray:
    """Bounded least squares of log(predicted / measured throughput) over every (design,
    device, clock factor, measured samples/s, batch) set; the profile's parameters followed
    by the variant's own."""
    pinned, (lo_all, hi_all) = constraints(free)
    mask = np.array([i not in pinned for i in range(len(lo_all))])
    n = int(mask.sum())

    def full(x):
        theta = np.array([pinned.get(i, 0.0) for i in range(len(mask))])
        theta[mask] = x[:n]
        return theta, x[n:]

    def resid(x):
        theta, extra = full(x)
        return np.concatenate([np.log(batch / v.latency(d, theta, extra, dev, k)) - np.log(sps)
                               for d, dev, k, sps, batch in sets])

    lo = np.concatenate([lo_all[mask], [e[1] for e in v.extra]])
    hi = np.concatenate([hi_all[mask], [e[2] for e in v.extra]])
    best = None
    for start in starts or STARTS:
        x0 = np.concatenate([np.clip(start[:len(mask)][mask], lo[:n], hi[:n]), [e[3] for e in v.extra]])
        r = least_squares(resid, x0, bounds=(lo, hi), x_scale="jac", max_nfev=max_nfev, ftol=1e-6, xtol=1e-6)
        if best is None or r.cost < best.cost:
            best = r
    theta, extra = full(best.x)
    return np.concatenate([theta, extra])


def to_profile(theta_all, v: Variant, basis: str) -> dict:
    """The `gpu` profile of predict.json for fitted parameters (the variant's own, such as
    `strided_copy`, as keys of their own)."""
    theta, extra = split(theta_all, v)
    ovh, eff, half, mem = unpack(theta)
    out = {"basis": basis, "overhead_us": round(float(ovh), 3)}
    out.update({name: round(float(x), 4) for (name, *_), x in zip(v.extra, extra)})
    if v is PROPOSED:
        out["l2_carry"] = L2_CARRY
    out["ops"] = {c: {"eff": round(float(eff[i]), 4), "half_gflop": round(float(half[i]), 4),
                      "mem_eff": round(float(mem[i]), 4)} for i, c in enumerate(CLASSES)}
    return out


# --------------------------------------------------------------------------- scores

def scores(pred_sps: np.ndarray, sps: np.ndarray) -> dict:
    err = np.abs(pred_sps / sps - 1) * 100
    return {"median": float(np.median(err)), "p90": float(np.percentile(err, 90)),
            "spearman": float(spearmanr(pred_sps, sps).statistic), "n": int(len(sps)),
            "bias": float(np.median(pred_sps / sps - 1) * 100)}


def baseline_fit(rows: list[dict], dev: dict) -> np.ndarray:
    """The issue's baseline: time/sample = max(2·GMACs / (peak·a), k·macts·2 B / (BW·b)),
    peak = the fp16 tensor peak. k and b enter only as k/b: two free parameters (a, k/b)."""
    g = np.array([r["gmacs"] for r in rows]) * 2e9
    m = np.array([r["macts"] for r in rows]) * 2e6
    y = np.log(np.array([r["sps"] for r in rows]))

    def resid(p):
        return -np.log(np.maximum(g / (dev["p16"] * p[0]), m * p[1] / dev["bw"])) - y
    # The memory term can start inactive (zero gradient): try a few starting k/b.
    fits = [least_squares(resid, np.array([0.5, kb]), bounds=([1e-4, 1e-3], [1.0, 1e3])) for kb in (1, 4, 16, 64)]
    return min(fits, key=lambda r: r.cost).x


def baseline_sps(rows, dev, p) -> np.ndarray:
    g = np.array([r["gmacs"] for r in rows]) * 2e9
    m = np.array([r["macts"] for r in rows]) * 2e6
    return 1.0 / np.maximum(g / (dev["p16"] * p[0]), m * p[1] / dev["bw"])


def family(model: str) -> str:
    """A model's family: its name up to the first digit or underscore (`resnet50d` → resnet)."""
    return re.split(r"[\d_]", model, maxsplit=1)[0] or model


# --------------------------------------------------------------------------- report

def pct(x: float) -> str:
    return f"{x:.1f}%"


def score_row(label: str, s: dict) -> str:
    return (f"| {label} | {pct(s['median'])} | {pct(s['p90'])} | {s['spearman']:.3f} | "
            f"{s['bias']:+.1f}% | {s['n']} |")


HEAD = ("| fitted on → judged on | median abs error | p90 abs error | Spearman | median signed error | n |\n"
        "|---|---|---|---|---|---|")


def breakdown(title: str, groups: dict, min_n: int = 1) -> list[str]:
    """One table row per group: n, median signed and absolute error (in %)."""
    lines = [f"| {title} | n | median signed error | median abs error |", "|---|---|---|---|"]
    for g, errs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        if len(errs) < min_n:
            continue
        e = np.array(errs)
        lines.append(f"| {g} | {len(e)} | {np.median(e):+.1f}% | {np.median(np.abs(e)):.1f}% |")
    return lines


def dominant(share_row: np.ndarray) -> str:
    i = int(np.argmax(share_row))
    return CLASSES[i] if share_row[i] >= 0.5 else "mixed"


def variants_table(sets: dict, theta: dict, v: Variant) -> list[str]:
    """Each formula of VARIANTS fitted on one table and judged on the other, both ways."""
    other = {"rtx3090": "rtx4090", "rtx4090": "rtx3090"}
    out = ["", "## Changes to the formula", "",
            "Each variant is the spec's formula plus one term (`proposed`: three together), fitted and judged "
            "exactly as above, starting from the fit above "
            "(the numbers a Rust model adopting it would give).", "",
            "| variant | what | 3090 → 4090 median / p90 / Spearman | 4090 → 3090 median / p90 / Spearman "
            "| extra parameters (fit on 3090; on 4090) |", "|---|---|---|---|---|"]
    for w in VARIANTS:
        cells, extras = [], []
        for fit_on in DEVICES:
            judged = other[fit_on]
            # From the main fit's profile, a few dozen steps: enough to rank the changes.
            th = fit([sets[fit_on]], w, starts=[split(theta[fit_on], v)[0]], max_nfev=40)
            d, fig, k, sps, batch = sets[judged]
            s = scores(batch / w.latency(d, *split(th, w), fig, k), sps)
            cells.append(f"{pct(s['median'])} / {pct(s['p90'])} / {s['spearman']:.3f}")
            extras.append(describe(th, w) or "-")
        out.append(f"| {w.name} | {w.why} | {cells[0]} | {cells[1]} | {'; '.join(extras)} |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--traces", required=True, help="the folder bench/timm_traces.py wrote")
    ap.add_argument("--features", help="feature cache (default: TRACES/features)")
    ap.add_argument("--binary", default=os.environ.get("FLOPSCOPE", os.path.join(ROOT, "target", "debug", "flopscope")),
                    help="the flopscope CLI (default: target/debug/flopscope, or $FLOPSCOPE)")
    ap.add_argument("--md", default=os.path.join(HERE, "results", "fit_devices.md"), help="the results file")
    ap.add_argument("--formula", choices=sorted(FORMULAS), default="proposed",
                    help="the formula fitted and written: the spec's, or the spec's with the three "
                         "terms of time_model.PROPOSED (both are what the Rust model computes)")
    ap.add_argument("--variants", action="store_true",
                    help="also judge every formula variant (time_model.VARIANTS), both ways: minutes more")
    ap.add_argument("--write", action="store_true", help="write the fitted profile and band into predict.json")
    ap.add_argument("--check", type=int, default=0, metavar="N",
                    help="also compare the CLI's latency with this model's on N models (same formula?)")
    a = ap.parse_args()
    t_start = time.time()
    cache = a.features or os.path.join(a.traces, "features")

    tables = {dev: load_table(path) for dev, path in DEVICES.items()}
    index = {}
    for r in csv.DictReader(open(os.path.join(a.traces, "index.csv"))):
        index[(r["name"], int(r["img"]), int(r["batch"]))] = r
    skipped: dict[str, Counter] = {dev: Counter() for dev in DEVICES}
    keep: dict[str, list[dict]] = {dev: [] for dev in DEVICES}
    for dev, rows in tables.items():
        for r in rows:
            key = (r["model"], r["img"], r["batch"])
            ix = index.get(key)
            if ix is None or ix["status"] != "captured":
                why = "not captured: " + (ix["status"] + " " + ix["error"][:60] if ix else "no trace")
                skipped[dev][re.sub(r"'[^']*'", "'…'", why)] += 1
            elif round(int(ix["numel"]) / 1e6, 2) != r["param_count"]:
                skipped[dev]["built with another parameter count than the table's (timm changed)"] += 1
            else:
                r["key"] = key
                keep[dev].append(r)
    keys = sorted({r["key"] for rows in keep.values() for r in rows})
    print(f"{len(keys)} traces to featurise", file=sys.stderr)
    feats, failed = features(a.binary, a.traces, cache, keys)
    for dev in DEVICES:
        for r in keep[dev]:
            if r["key"] in failed:
                skipped[dev]["flopscope predict failed"] += 1
        keep[dev] = [r for r in keep[dev] if r["key"] in feats and len(feats[r["key"]]["cls"])]

    figs = {dev: device_figures(dev) for dev in DEVICES}
    small = min(keys, key=lambda k: os.path.getsize(os.path.join(a.traces, trace_name(*k))))
    clock = {dev: run_predict(a.binary, os.path.join(a.traces, trace_name(*small)), dev)["clock_factor"]
             for dev in DEVICES}
    sets = {}
    for dev, rows in keep.items():
        d = Design([r["key"] for r in rows], feats)
        sets[dev] = (d, figs[dev], clock[dev], np.array([r["sps"] for r in rows]),
                     np.array([r["batch"] for r in rows], dtype=float))

    v = FORMULAS[a.formula]

    def predict_sps(theta, dev):
        d, fig, k, _, batch = sets[dev]
        return batch / v.latency(d, *split(theta, v), fig, k)

    t0 = time.time()
    theta = {dev: fit([sets[dev]], v) for dev in DEVICES}
    theta["both"] = fit(list(sets.values()), v)
    free = {dev: fit([sets[dev]], v, starts=[theta[dev][:len(STARTS[0])]], free=True) for dev in DEVICES}
    fit_s = time.time() - t0
    other = {"rtx3090": "rtx4090", "rtx4090": "rtx3090"}
    cross = {dev: scores(predict_sps(theta[other[dev]], dev), sets[dev][3]) for dev in DEVICES}
    insample = {dev: scores(predict_sps(theta[dev], dev), sets[dev][3]) for dev in DEVICES}
    both = {dev: scores(predict_sps(theta["both"], dev), sets[dev][3]) for dev in DEVICES}
    base_p = {dev: baseline_fit(keep[dev], figs[dev]) for dev in DEVICES}
    base_cross = {dev: scores(baseline_sps(keep[dev], figs[dev], base_p[other[dev]]), sets[dev][3]) for dev in DEVICES}
    base_in = {dev: scores(baseline_sps(keep[dev], figs[dev], base_p[dev]), sets[dev][3]) for dev in DEVICES}
    # The band printed with every gpu/amp prediction: both cross-table directions pooled.
    pooled = np.concatenate([np.abs(predict_sps(theta[other[dev]], dev) / sets[dev][3] - 1) * 100 for dev in DEVICES])
    band = {"profile": "gpu", "dtype": "amp", "median_pct": round(float(np.median(pooled)), 1),
            "p90_pct": round(float(np.percentile(pooled, 90)), 1), "n": int(len(pooled)),
            "basis": "timm's measured AMP tables (RTX 3090, RTX 4090, batch 256-1024): fitted on one, "
                     "judged on the other, both ways pooled (bench/fit_devices.py)"}

    # Where the cross-table errors are: by dominant class, family, size.
    by_class, by_family, by_size = defaultdict(list), defaultdict(list), defaultdict(list)
    for dev in DEVICES:
        d, fig, k, sps, batch = sets[dev]
        err = (predict_sps(theta[other[dev]], dev) / sps - 1) * 100
        share = d.class_share(split(theta[other[dev]], v)[0], fig, k)
        for r, e, s in zip(keep[dev], err, share):
            by_class[dominant(s)].append(e)
            by_family[family(r["model"])].append(e)
            g = r["gmacs"]
            by_size["< 0.5 GMAC" if g < 0.5 else "0.5-2" if g < 2 else "2-10" if g < 10 else "10-50" if g < 50 else ">= 50"].append(e)

    out = ["# The GPU time model fitted on timm's measured tables", "",
           "Generated by `python3 bench/fit_devices.py --traces DIR` (traces from "
           "`python3 bench/timm_traces.py --out DIR`). Throughput error = predicted / measured - 1, "
           "samples/s at the table's batch size, AMP, PyTorch eager (`--backend torch`). "
           f"Formula: `{v.name}` ({v.why}).", "",
           "## Fitted on one table, judged on the other (the honest number)", "", HEAD,
           score_row("RTX 3090 → RTX 4090", cross["rtx4090"]), score_row("RTX 4090 → RTX 3090", cross["rtx3090"]),
           "", f"Pooled (the `gpu`/`amp` error band): median {pct(band['median_pct'])}, "
           f"p90 {pct(band['p90_pct'])}, n {band['n']}.", "",
           "With the launch overhead, the half-efficiency sizes and the efficiency floors left free "
           f"(overhead ≥ 0, half ≤ {HI_HALF:.0f} GFLOP, eff and mem_eff ≥ 0.001) instead of overhead = "
           f"{OVERHEAD_US} µs, half ≤ {MAX_HALF} GFLOP, eff ≥ {LO_EFF}, mem_eff ≥ {LO_MEM}: "
           + "; ".join(f"{DEVICES_NAME[o]} → {DEVICES_NAME[dev]} {pct(s['median'])} / {pct(s['p90'])} / {s['spearman']:.3f}"
                       for dev, o, s in [(dev, other[dev], scores(predict_sps(free[other[dev]], dev), sets[dev][3]))
                                         for dev in DEVICES])
           + " (median / p90 / Spearman). One table cannot tell compute from bandwidth time, nor see the "
           "overhead and half sizes, which matter at batch 1.", "",
           "## In-sample", "", HEAD,
           score_row("RTX 3090 → RTX 3090", insample["rtx3090"]), score_row("RTX 4090 → RTX 4090", insample["rtx4090"]),
           score_row("both → RTX 3090", both["rtx3090"]), score_row("both → RTX 4090", both["rtx4090"]), "",
           "## Baseline: roofline on timm's GMAC and activation columns", "",
           "time/sample = max(2·GMACs / (peak·a), k·macts·2 bytes / (bandwidth·b)), datasheet fp16 tensor peak "
           "and bandwidth; k and b only appear as k/b, so two parameters are fitted. Same models as above.", "", HEAD,
           score_row("RTX 3090 → RTX 4090", base_cross["rtx4090"]), score_row("RTX 4090 → RTX 3090", base_cross["rtx3090"]),
           score_row("RTX 3090 → RTX 3090", base_in["rtx3090"]), score_row("RTX 4090 → RTX 4090", base_in["rtx4090"]), "",
           f"Baseline parameters: RTX 3090 a={base_p['rtx3090'][0]:.3f} k/b={base_p['rtx3090'][1]:.2f}; "
           f"RTX 4090 a={base_p['rtx4090'][0]:.3f} k/b={base_p['rtx4090'][1]:.2f}.", "",
           "## Where the cross-table errors are", "",
           "Both directions pooled; a model's dominant class is the one with at least half its predicted time "
           "(else `mixed`).", ""]
    out += breakdown("dominant class", by_class) + [""]
    out += breakdown("GMACs per sample", by_size) + [""]
    out += breakdown("family (n ≥ 10)", by_family, 10) + [""]
    out += ["## Fitted parameters", "", "| fitted on | overhead µs | " + " | ".join(
        f"{c} eff / half GFLOP / mem_eff" for c in CLASSES) + " |", "|---" * (2 + len(CLASSES)) + "|"]
    for name, th in list(theta.items()) + [(f"{d} (free)", th) for d, th in free.items()]:
        ovh, eff, half, mem = unpack(split(th, v)[0])
        out.append(f"| {name} | {ovh:.2f} | " + " | ".join(
            f"{eff[i]:.3f} / {half[i]:.3g} / {mem[i]:.3f}" for i in range(len(CLASSES))) + " |"
            + (f" {describe(th, v)}" if v.extra else ""))
    out += variants_table(sets, theta, v) if a.variants else []
    out += ["", f"Clock factors (power model, not fitted): RTX 3090 {clock['rtx3090']:.3f}, "
            f"RTX 4090 {clock['rtx4090']:.3f}.", "", "## Models", ""]
    for dev in DEVICES:
        out.append(f"- {dev}: {len(tables[dev])} rows in the table, {len(keep[dev])} judged; skipped "
                   f"{sum(skipped[dev].values())}:")
        out += [f"  - {n} {why}" for why, n in skipped[dev].most_common()]
    out += ["", f"Fit time {fit_s:.0f} s (five fits); whole run {time.time() - t_start:.0f} s."]
    text = "\n".join(out) + "\n"
    print(text)
    os.makedirs(os.path.dirname(a.md), exist_ok=True)
    open(a.md, "w").write(text)

    if a.check:
        check(a, theta["both"], v, sets, keep)
    if a.write:
        p = json.load(open(PARAMS_JSON))
        p["profiles"]["gpu"] = to_profile(theta["both"], v, "least squares on log throughput over timm's measured "
                                          "AMP tables for the RTX 3090 and RTX 4090 (bench/fit_devices.py)")
        p["error_bands"] = [b for b in p.get("error_bands", [])
                            if (b.get("profile"), b.get("dtype")) != ("gpu", "amp")] + [band]
        with open(PARAMS_JSON, "w") as f:
            f.write(dump_params(p))
        print(f"wrote the gpu profile and the gpu/amp band into {PARAMS_JSON}", file=sys.stderr)


def dump_params(p: dict) -> str:
    """predict.json as the file writes it: indented, one line per class's efficiencies."""
    text = json.dumps(p, indent=2, ensure_ascii=False)
    one_line = r'\{\n\s+"eff": ([^,]+),\n\s+"half_gflop": ([^,]+),\n\s+"mem_eff": ([^\n]+)\n\s+\}'
    return re.sub(one_line, r'{"eff": \1, "half_gflop": \2, "mem_eff": \3}', text) + "\n"


def check(a, theta, v, sets, keep) -> None:
    """The CLI with these parameters against this model on a spread of models: the two must
    give the same latency (same formula, same features)."""
    base = json.load(open(PARAMS_JSON))
    prof = to_profile(theta, v, "check")
    base["profiles"]["gpu"] = prof
    # The CLI reads the rounded numbers of the file: so does this side.
    theta = np.concatenate([pack(prof["overhead_us"], prof["ops"]), [prof[name] for name, *_ in v.extra]])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(base, f)
    worst = 0.0
    for dev, (d, fig, k, _, _) in sets.items():
        lat = v.latency(d, *split(theta, v), fig, k)
        idx = np.linspace(0, len(lat) - 1, a.check).astype(int)
        for i in idx:
            key = keep[dev][i]["key"]
            p = run_predict(a.binary, os.path.join(a.traces, trace_name(*key)), dev, f.name)
            rel = abs(p["latency_ms"] / (lat[i] * 1e3) - 1)
            worst = max(worst, rel)
            if rel > 1e-6:
                print(f"  check {dev} {key}: CLI {p['latency_ms']:.6g} ms, numpy {lat[i] * 1e3:.6g} ms", file=sys.stderr)
    os.unlink(f.name)
    print(f"check: CLI vs numpy latency, worst relative difference {worst:.2e} over {2 * a.check} predictions")


if __name__ == "__main__":
    main()
