"""How long `flopscope.profile(model, x)` takes beside a real forward pass under PyTorch's
`FlopCounterMode`, per timm model family, at batch 1 and at a large batch.

For a fixed sample of timm architectures (the zoo order of bench/capture_zoo.py: timm's
names shuffled with `random.Random(0)`; the first `--n` that build on CPU with at most
`--max-params` parameters), each model is built without pretrained weights (random
initialisation, eval mode) with an input `torch.randn(1, *input_size)` (its pretrained
config's size) and timed three ways, interleaved round by round so that all see the same
load (the machine is shared):

  (a)  `flopscope.profile(model, x)` under `torch.no_grad()`: fake tensors, the default;
  (a0) the same with an older build of the package (`--before DIR`, a copy of an installed
       `flopscope` folder), when given: its counts must equal (a)'s for every model;
  (b)  the baseline: `model(x)` on real tensors under
       `torch.utils.flop_counter.FlopCounterMode(display=False)` and `torch.no_grad()`.

Each is called once untimed first (imports, first-call set-up, FakeTensorMode's process-wide
cache), then `--runs` times; a model's time is the best of those runs. Every `--large-every`th
model is also timed at batch `--batch` (the baseline once: it takes seconds). Workers run
`torch.set_num_threads(--threads)` (1 by default, as bench/capture_zoo.py: two cores shared by
several users) in a child process per chunk of models, with a timeout per model.

Output: a markdown report (per family: models, median times, median ratio (a)/(b); overall
median and p90 of the ratio; the large-batch table) and one CSV row per model.
`--breakdown` instead times where the capture's time goes on a few models (fake copies of
the weights, the forward pass split into FakeTensorMode's dispatch, the recorder and the
module's own Python, JSON, the Rust count), in CPU time of the thread.

Run from the repository root with the package and timm installed
(`pip install . && pip install -r bench/requirements.txt`):

    python3 bench/capture_speed.py --before /tmp/flopscope-before --out bench/results/capture_speed.md
    python3 bench/capture_speed.py --breakdown resnet50,vit_base_patch16_224 --before /tmp/flopscope-before
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.util
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_zoo  # noqa: E402 — the zoo order and the runner (one child per chunk, watchdog)

FIELDS = ["name", "family", "status", "params", "input", "a_s", "a0_s", "b_s", "ratio",
          "counts_equal", "macs", "flops", "torch_flops", "batch", "big_a_s", "big_a0_s",
          "big_b_s", "big_counts_equal", "error"]


def load_before(path: str):
    """The package in folder `path` (a copy of an installed `flopscope`), imported as
    `flopscope_before` beside the installed one (once per process)."""
    if "flopscope_before" in sys.modules:
        return sys.modules["flopscope_before"]
    spec = importlib.util.spec_from_file_location(
        "flopscope_before", os.path.join(path, "__init__.py"), submodule_search_locations=[path])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["flopscope_before"] = mod
    spec.loader.exec_module(mod)
    return mod


def baseline(model, x) -> int:
    """(b): a real forward pass under FlopCounterMode; its FLOP total."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(x)
    return fc.get_total_flops()


def profiled(fs, model, x):
    import torch

    with torch.no_grad():
        return fs.profile(model, x)


def timed(fns: dict, runs: int) -> dict:
    """Best wall time of each function over `runs` rounds, the order rotated each round."""
    best = {k: float("inf") for k in fns}
    keys = list(fns)
    for r in range(runs):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            t0 = time.perf_counter()
            fns[k]()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def counts(p) -> tuple:
    return (p.params, p.macs, p.flops)


def one(name: str, big: bool, opts: dict) -> dict:
    import timm
    import torch

    import flopscope

    before = load_before(opts["before"]) if opts["before"] else None
    row = {"name": name, "status": "build-failed"}
    try:
        with torch.device("meta"):
            n = sum(p.numel() for p in timm.create_model(name).parameters())
        row["params"] = n
        if n > opts["max_params"]:
            row["status"] = "too-large"
            return row
        torch.manual_seed(0)
        m = timm.create_model(name, pretrained=False).eval()
        size = tuple((getattr(m, "pretrained_cfg", None) or {}).get("input_size", (3, 224, 224)))
        x = torch.randn(1, *size, generator=torch.Generator().manual_seed(0))
        row["input"] = "x".join(map(str, size))
    except Exception as e:  # noqa: BLE001 — any failure is a result to record
        row["error"] = f"{type(e).__name__}: {e}"[:300]
        return row
    try:
        fns = {"a": lambda: profiled(flopscope, m, x), "b": lambda: baseline(m, x)}
        if before:
            fns["a0"] = lambda: profiled(before, m, x)
        first = {k: f() for k, f in fns.items()}  # untimed: imports and first-call set-up
        best = timed(fns, opts["runs"])
        p = first["a"]
        row.update(status="ok", a_s=best["a"], b_s=best["b"], ratio=best["a"] / best["b"],
                   macs=p.macs, flops=p.flops, torch_flops=first["b"])
        if before:
            row.update(a0_s=best["a0"], counts_equal=counts(p) == counts(first["a0"]))
        if big:
            xb = torch.randn(opts["batch"], *size, generator=torch.Generator().manual_seed(0))
            big_fns = {"a": lambda: profiled(flopscope, m, xb)}
            if before:
                big_fns["a0"] = lambda: profiled(before, m, xb)
            outs = {k: f() for k, f in big_fns.items()}
            bb = timed(big_fns, opts["runs"])
            t0 = time.perf_counter()
            baseline(m, xb)
            row.update(batch=opts["batch"], big_a_s=bb["a"], big_b_s=time.perf_counter() - t0)
            if before:
                row.update(big_a0_s=bb["a0"], big_counts_equal=counts(outs["a"]) == counts(outs["a0"]))
    except Exception as e:  # noqa: BLE001
        row.update(status="failed", error=f"{type(e).__name__}: {e}"[:300])
    return row


def worker(todo: str, results: str, progress: str, opts: str) -> None:
    """capture_zoo's worker protocol: one JSON line per item of `todo` appended to `results`."""
    import torch

    o = json.loads(opts)
    torch.set_num_threads(o["threads"])
    for i, (_, name, big) in enumerate(json.load(open(todo))):
        with open(progress, "w") as f:
            f.write(f"{i} {time.time()}")
        row = one(name, big, o)
        with open(results, "a") as f:
            f.write(json.dumps(row) + "\n")


def families() -> dict:
    """timm's module (family) of each model name: `resnet`, `vision_transformer`, …"""
    import timm

    return {n: mod for mod in timm.list_modules() for n in timm.list_models(module=mod)}


def pct(xs: list, q: float) -> float:
    return capture_zoo.pct(xs, q)


def report(rows: list, a: argparse.Namespace, wall: float) -> str:
    import platform

    import torch

    ok = [r for r in rows if r["status"] == "ok"]
    has_before = bool(a.before)
    out = [f"# Capture speed: `flopscope.profile(module)` against a real forward pass under "
           f"`FlopCounterMode`\n",
           f"Made by `python3 bench/capture_speed.py {' '.join(sys.argv[1:])}`"
           + (f" in {wall:.0f} s. " if wall is not None else ". ") +
           f"torch {torch.__version__}, Python {platform.python_version()}, "
           f"{os.cpu_count()} cores, `torch.set_num_threads({a.threads})`; the machine was shared "
           f"(load average at the end: {os.getloadavg()[0]:.1f}), so every method was timed "
           f"in the same rounds, interleaved; a model's time is the best of {a.runs} runs after "
           f"one untimed call.\n",
           f"Sample: the first {len(ok)} timm models of the zoo order (bench/capture_zoo.py) "
           f"that build on CPU with at most {a.max_params:,} parameters "
           f"({sum(r['status'] == 'too-large' for r in rows)} larger ones skipped, "
           f"{sum(r['status'] in ('build-failed', 'failed', 'timeout', 'crashed') for r in rows)} "
           f"failed to build or run), batch 1, each at its pretrained input size.\n",
           "(a) `flopscope.profile(model, x)` under `no_grad` (fake tensors)"
           + ("; (a0) the same with the package before this change" if has_before else "")
           + "; (b) `model(x)` on real tensors under `FlopCounterMode(display=False)` and "
           "`no_grad`. Times are medians over the family's models; the ratio is the median of "
           "the models' (a)/(b).\n"]
    if has_before:
        eq = [r for r in ok if r.get("counts_equal")]
        out.append(f"Counts (params, MACs, FLOPs) of (a) equal to (a0)'s: {len(eq)} of "
                   f"{len(ok)} models" + ("" if len(eq) == len(ok) else " — DIFFER: " + ", ".join(
                       r["name"] for r in ok if not r.get("counts_equal"))) + ".\n")
    fam: dict = {}
    for r in ok:
        fam.setdefault(r["family"], []).append(r)
    head = "| family | models | (a) s |" + (" (a0) s |" if has_before else "") + " (b) s | (a)/(b) |" + (" (a0)/(b) |" if has_before else "")
    out.append(head)
    out.append("|---|---:|---:|" + ("---:|" if has_before else "") + "---:|---:|" + ("---:|" if has_before else ""))

    def line(label: str, rs: list) -> str:
        med = lambda k: statistics.median(r[k] for r in rs)  # noqa: E731
        s = f"| {label} | {len(rs)} | {med('a_s'):.3f} |"
        if has_before:
            s += f" {med('a0_s'):.3f} |"
        s += f" {med('b_s'):.3f} | {statistics.median(r['a_s'] / r['b_s'] for r in rs):.2f} |"
        if has_before:
            s += f" {statistics.median(r['a0_s'] / r['b_s'] for r in rs):.2f} |"
        return s

    for f in sorted(fam, key=lambda f: (-len(fam[f]), f)):
        out.append(line(f, fam[f]))
    out.append(line("**all**", ok))
    ratios = [r["a_s"] / r["b_s"] for r in ok]
    summary = (f"\nOverall (a)/(b): median {statistics.median(ratios):.2f}, p90 {pct(ratios, 0.9):.2f}; "
               f"(a) faster than (b) on {sum(x < 1 for x in ratios)} of {len(ratios)} models")
    if has_before:
        r0 = [r["a0_s"] / r["b_s"] for r in ok]
        sp = [r["a0_s"] / r["a_s"] for r in ok]
        summary += (f"; before: median {statistics.median(r0):.2f}, p90 {pct(r0, 0.9):.2f}, faster on "
                    f"{sum(x < 1 for x in r0)}. Speed-up (a0)/(a): median {statistics.median(sp):.2f}, "
                    f"p10 {pct(sp, 0.1):.2f}, p90 {pct(sp, 0.9):.2f}")
    out.append(summary + ".\n")
    big = [r for r in ok if r.get("big_a_s") is not None]
    if big:
        out.append(f"At batch {a.batch} (every {a.large_every}th model of the sample; (b) run once):\n")
        out.append("| model | family | (a) s |" + (" (a0) s |" if has_before else "") + " (b) s | (b)/(a) |")
        out.append("|---|---|---:|" + ("---:|" if has_before else "") + "---:|---:|")
        for r in big:
            out.append(f"| {r['name']} | {r['family']} | {r['big_a_s']:.3f} |"
                       + (f" {r['big_a0_s']:.3f} |" if has_before else "")
                       + f" {r['big_b_s']:.2f} | {r['big_b_s'] / r['big_a_s']:.0f}× |")
        sp = [r["big_b_s"] / r["big_a_s"] for r in big]
        out.append(f"\nAt batch {a.batch}, (a) is {statistics.median(sp):.0f}× faster than (b) "
                   f"(median; min {min(sp):.0f}×)"
                   + (f"; counts equal to (a0)'s on {sum(bool(r.get('big_counts_equal')) for r in big)} "
                      f"of {len(big)}" if has_before else "") + ".\n")
    bad = [r for r in rows if r["status"] not in ("ok", "too-large")]
    if bad:
        out.append("Not measured: " + "; ".join(f"{r['name']} ({r['status']}: {(r.get('error') or '')[:80]})"
                                                for r in bad) + "\n")
    return "\n".join(out)


def merged(paths: list, order: list, n: int) -> list:
    """The rows of several runs' CSV files, each model once, in the zoo order, up to the
    `n`th measured one: the sample one run would have measured."""
    by = {}
    for path in paths:
        for r in csv.DictReader(open(path)):
            for k in ("a_s", "a0_s", "b_s", "ratio", "big_a_s", "big_a0_s", "big_b_s"):
                r[k] = float(r[k]) if r.get(k) else None
            for k in ("counts_equal", "big_counts_equal"):
                r[k] = r.get(k) == "True"
            by.setdefault(r["name"], r)
    rows, ok = [], 0
    for name in order:
        if name in by and ok < n:
            rows.append(by[name])
            ok += by[name]["status"] == "ok"
    return rows


def breakdown(names: list, before_dir: str, runs: int) -> str:
    """Where the capture's time goes, per model: CPU time of the thread, best of `runs`."""
    import timm
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    import flopscope
    from flopscope import _capture, _torch

    torch.set_num_threads(1)
    impls = [("after", flopscope, _capture)]
    if before_dir:
        b = load_before(before_dir)
        impls.insert(0, ("before", b, importlib.import_module("flopscope_before._capture")))
    clock = time.thread_time
    acc: dict = {}
    depth: dict = {}

    def wrap(owner, attr, key):
        f = getattr(owner, attr)

        def w(*a, **k):
            if depth.get(key):
                return f(*a, **k)  # nested: counted by the outer call
            depth[key] = 1
            t0 = clock()
            try:
                return f(*a, **k)
            finally:
                acc[key] = acc.get(key, 0.0) + clock() - t0
                depth[key] = 0
        setattr(owner, attr, w)
        return lambda: setattr(owner, attr, f)

    rows = ["| model | build | total ms | fake weights | fake dispatch | recorder | module code "
            "| JSON | Rust count | other |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        m = timm.create_model(name).eval()
        size = tuple((m.pretrained_cfg or {}).get("input_size", (3, 224, 224)))
        x = torch.randn(1, *size)
        for label, fs, cap in impls:
            undo = [wrap(FakeTensorMode, "__torch_dispatch__", "fake"),
                    wrap(cap._Recorder, "__torch_dispatch__", "rec"),
                    wrap(torch.func, "functional_call", "forward"),
                    wrap(cap.json, "dumps", "json"),
                    wrap(fs._rs, "profile_bytes", "rust")]
            conv = sys.modules[cap.__name__.rsplit(".", 1)[0] + "._fakes"] if hasattr(cap, "_fakes") else None
            undo.append(wrap(conv, "fake", "convert") if conv else wrap(cap, "_fake", "convert"))
            best = None
            with torch.no_grad():
                for _ in range(runs + 1):
                    acc.clear()
                    t0 = clock()
                    fs.profile(m, x)
                    acc["total"] = clock() - t0
                    if best is None or acc["total"] < best["total"]:
                        best = dict(acc)
            for u in undo:
                u()
            g = lambda k: best.get(k, 0.0) * 1e3  # noqa: E731
            other = g("total") - g("convert") - g("forward") - g("json") - g("rust")
            rows.append(f"| {name} | {label} | {g('total'):.1f} | {g('convert'):.1f} | {g('fake'):.1f} "
                        f"| {g('rec') - g('fake'):.1f} | {g('forward') - g('rec'):.1f} | {g('json'):.1f} "
                        f"| {g('rust'):.1f} | {other:.1f} |")
    del _torch
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:6])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=150, help="models in the sample")
    ap.add_argument("--before", help="folder of an older installed `flopscope` package to compare")
    ap.add_argument("--out", help="markdown report (default: print only)")
    ap.add_argument("--csv", help="one row per model")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per method (best kept)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-params", type=int, default=100_000_000)
    ap.add_argument("--batch", type=int, default=64, help="the large batch")
    ap.add_argument("--large-every", type=int, default=10, help="every Nth model also at --batch")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per model")
    ap.add_argument("--budget", type=float, default=float("inf"), help="start no chunk after this")
    ap.add_argument("--breakdown", metavar="MODELS", help="comma-separated models: time spans only")
    ap.add_argument("--offset", type=int, default=0,
                    help="start this many names into the zoo order (a second run in parallel)")
    ap.add_argument("--merge", nargs="+", metavar="CSV",
                    help="report on the rows of earlier runs' --csv files (same options) instead")
    a = ap.parse_args()
    if a.before:
        a.before = os.path.abspath(a.before)
    if a.breakdown:
        print(breakdown(a.breakdown.split(","), a.before, a.runs))
        return
    order = [n for src, n in capture_zoo.all_models() if src == "timm"]
    if a.merge:
        rows = merged(a.merge, order, a.n)
        text = report(rows, a, None)
        print(text)
        if a.out:
            open(a.out, "w").write(text + "\n")
        return
    fam = families()
    order = order[a.offset:]
    opts = json.dumps({"before": a.before, "runs": a.runs, "threads": a.threads,
                       "max_params": a.max_params, "batch": a.batch})
    rows: list = []
    t0, start, chunk = time.time(), 0, 10
    while sum(r["status"] == "ok" for r in rows) < a.n and start < len(order) and time.time() - t0 < a.budget:
        need = a.n - sum(r["status"] == "ok" for r in rows)
        part = order[start:start + min(chunk, need)]
        start += len(part)
        items = []
        for name in part:
            k = sum(r["status"] == "ok" for r in rows) + len(items)
            items.append(["timm", name, a.large_every > 0 and k % a.large_every == 0])
        # The worker takes its options as capture_zoo's fourth worker argument.
        got = capture_zoo.run_all(items, a.timeout, chunk, opts, float("inf"), script=os.path.abspath(__file__))
        for r in got:
            r["family"] = fam.get(r["name"], r["name"].split("_")[0])
        rows += got
    text = report(rows, a, time.time() - t0)
    print(text)
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        open(a.out, "w").write(text + "\n")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            w.writeheader()
            w.writerows({k: r.get(k, "") for k in FIELDS} for r in rows)
    if a.before and not all(r.get("counts_equal") for r in rows if r["status"] == "ok"):
        sys.exit("counts differ from the older build's")


if __name__ == "__main__":
    main()
