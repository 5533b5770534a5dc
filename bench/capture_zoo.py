"""The PyTorch capture over a zoo it was not tuned to: every architecture `timm.list_models()`
names, plus torchvision's detection, segmentation and video models, each built without
weights and profiled once with `flopscope.profile(model, ...)` at batch 1, in eval mode.

Per model it records whether the model was built (on the meta device, else on CPU), the
capture's wall time, `params` against `sum(p.numel())`, the operators without a rule
(`Profile.unsupported`) and any error; it prints a summary (architectures tried / built /
captured, each operator without a rule with the number of models it appears in, time per
model: median, p90, max) and writes one CSV row per model.

Models run in a child process per chunk, one child at a time (the machine is shared): a
model that runs past `--timeout` seconds gets its child killed, is recorded as a timeout,
and the next child starts after it.

The order is torchvision's models, then timm's in a seeded random order; `--budget SECONDS`
stops starting new models after that long, so a budget gives an unbiased sample of the zoo.
With `--traces DIR` each model's trace is kept (gzipped), and `--recount BEFORE.csv` later
counts those traces again with the installed build (new rules, same capture: the Python
recorder is unchanged between the two), which takes seconds instead of the capture's hour.

Run from the repository root, with the package and timm installed
(`pip install . && pip install -r bench/requirements.txt`):

    python3 bench/capture_zoo.py --csv before.csv --traces /tmp/traces [--budget 3600]
    python3 bench/capture_zoo.py --csv after.csv --traces /tmp/traces --recount before.csv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

FIELDS = [
    "name", "source", "status", "device", "input", "build_s", "capture_s", "count_s",
    "params", "numel", "params_match", "macs", "flops", "unsupported", "error",
]

# A model built on CPU needs its weights in memory: beyond this many (counted on the meta
# device first) it is not tried, so that one model cannot exhaust a shared machine.
CPU_PARAM_LIMIT = 150_000_000


def torchvision_models() -> list[tuple[str, str]]:
    import torchvision.models as tvm

    out = []
    for kind in ("detection", "segmentation", "video"):
        for name in tvm.list_models(module=getattr(tvm, kind)):
            out.append((f"torchvision.{kind}", name))
    return out


def all_models() -> list[tuple[str, str]]:
    import timm

    names = timm.list_models()
    random.Random(0).shuffle(names)
    return torchvision_models() + [("timm", n) for n in names]


def build(source: str, name: str, device: str):
    """The model (eval, no weights) and its example inputs `(args, input_text)`."""
    import torch

    with torch.device(device):
        if source == "timm":
            import timm

            m = timm.create_model(name, pretrained=False)
            size = tuple((getattr(m, "pretrained_cfg", None) or {}).get("input_size", (3, 224, 224)))
            x = torch.randn(1, *size) if device == "cpu" else torch.empty(1, *size)
            return m.eval(), (x,), "1x" + "x".join(map(str, size))
        import torchvision.models as tvm

        kw = {"weights": None}
        if source != "torchvision.video":
            kw["weights_backbone"] = None
        m = tvm.get_model(name, **kw).eval()
        if source == "torchvision.detection":
            # A list of images; the model's transform resizes them to its own size.
            img = torch.randn(3, 480, 640) if device == "cpu" else torch.empty(3, 480, 640)
            return m, ([img],), "[3x480x640]"
        if source == "torchvision.segmentation":
            shape = (1, 3, 520, 520)
        else:
            shape = (1, 3, 16, 224, 224) if name.startswith(("mvit", "s3d", "swin3d")) else (1, 3, 16, 112, 112)
        x = torch.randn(*shape) if device == "cpu" else torch.empty(*shape)
        return m, (x,), "x".join(map(str, shape))


def one(source: str, name: str, traces: str | None) -> dict:
    """Builds and profiles one model: meta device first, CPU when the meta one fails.

    `flopscope.profile(model, args)` is taken in its two steps (the recorder's trace, then
    the count of that trace, exactly what it does for a module) so that the trace can be
    kept and the two times told apart: `capture_s` is both, `count_s` the count alone."""
    import torch
    import flopscope
    from flopscope import _torch

    row = {"name": name, "source": source, "status": "build-failed"}
    errors = []
    numel = None
    for device in ("meta", "cpu"):
        if device == "cpu" and numel is not None and numel > CPU_PARAM_LIMIT:
            errors.append(f"cpu: not tried ({numel} parameters > {CPU_PARAM_LIMIT})")
            break
        try:
            t0 = time.perf_counter()
            m, args, text = build(source, name, device)
            row["build_s"] = round(time.perf_counter() - t0, 3)
        except Exception as e:  # noqa: BLE001 — any failure is a result to record
            errors.append(f"{device} build: {type(e).__name__}: {e}")
            continue
        numel = sum(p.numel() for p in m.parameters())
        row.update(device=device, input=text, numel=numel, status="built")
        try:
            t0 = time.perf_counter()
            with torch.no_grad():
                data, _ = _torch.capture(m, args, {}, name)
            t1 = time.perf_counter()
            p = flopscope.profile(data, name=name)
            t2 = time.perf_counter()
            row["capture_s"], row["count_s"] = round(t2 - t0, 3), round(t2 - t1, 3)
            if traces:
                with gzip.open(os.path.join(traces, f"{name}.json.gz"), "wb", compresslevel=3) as f:
                    f.write(data)
        except Exception as e:  # noqa: BLE001
            errors.append(f"{device} capture: {type(e).__name__}: {e}")
            del m
            continue
        row.update(status="captured", params=p.params, params_match=p.params == numel)
        row.update(counts(p))
        errors = []
        break
    row["error"] = " | ".join(errors).replace("\n", " ")[:600]
    return row


def counts(p) -> dict:
    return {"macs": p.macs, "flops": p.flops,
            "unsupported": ";".join(sorted({u.op for u in p.unsupported}))}


def recount(before: str, traces: str) -> list[dict]:
    """The rows of `before`, each captured model counted again from its kept trace."""
    import flopscope

    rows = list(csv.DictReader(open(before)))
    for r in rows:
        r["params_match"] = r["params_match"] == "True"
        if r["status"] != "captured":
            continue
        data = gzip.open(os.path.join(traces, f"{r['name']}.json.gz")).read()
        t0 = time.perf_counter()
        p = flopscope.profile(data, name=r["name"])
        t = time.perf_counter() - t0
        # The capture's time with this count in place of the one the first run made.
        r["capture_s"] = round(float(r["capture_s"]) - float(r["count_s"]) + t, 3)
        r["count_s"] = round(t, 3)
        r.update(counts(p))
    return rows


def worker(todo: str, results: str, progress: str, traces: str) -> None:
    """Runs the models of the file `todo`, appending one JSON line each to `results`; before
    each, writes its index to `progress` (the parent's watchdog reads it)."""
    import torch

    torch.set_num_threads(1)
    models = json.load(open(todo))
    for i, (source, name) in enumerate(models):
        with open(progress, "w") as f:
            f.write(f"{i} {time.time()}")
        row = one(source, name, traces or None)
        with open(results, "a") as f:
            f.write(json.dumps(row) + "\n")


def run_all(models, timeout: float, chunk: int, traces: str, budget: float,
            script: str = __file__) -> list[dict]:
    """Runs `models` (items that start with source and name) through `script --worker`, one
    child per chunk; another script (bench/timm_traces.py) passes itself with its own items."""
    rows: list[dict] = []
    tmp = tempfile.mkdtemp(prefix="zoo-")
    todo, results, progress = (os.path.join(tmp, f) for f in ("todo.json", "out.jsonl", "progress"))
    start, t0 = 0, time.time()
    while start < len(models) and time.time() - t0 < budget:
        part = models[start:start + chunk]
        json.dump(part, open(todo, "w"))
        for f in (results, progress):
            if os.path.exists(f):
                os.remove(f)
        child = subprocess.Popen(
            [sys.executable, script, "--worker", todo, results, progress, traces or ""])
        killed_at = None
        while child.poll() is None:
            time.sleep(0.5)
            try:
                i, since = open(progress).read().split()
            except (OSError, ValueError):
                continue
            if time.time() - float(since) > timeout:
                child.kill()
                child.wait()
                killed_at = int(i)
        done = [json.loads(line) for line in open(results)] if os.path.exists(results) else []
        rows += done
        n = len(done)
        if n < len(part):  # the child died on model n (killed, or crashed)
            source, name = part[n][:2]
            why = f"timeout after {timeout:.0f} s" if killed_at == n else f"worker exited {child.returncode}"
            rows.append({"name": name, "source": source, "status": "timeout" if killed_at == n else "crashed", "error": why})
            n += 1
        start += n
        print(f"{start}/{len(models)} models", file=sys.stderr, flush=True)
    return rows


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def summary(rows: list[dict]) -> str:
    by = Counter(r["status"] for r in rows)
    built = sum(by[s] for s in ("built", "captured"))
    lines = [
        f"architectures tried {len(rows)}, built {built}, captured {by['captured']}, "
        f"timeouts {by['timeout']}, crashed {by['crashed']}",
    ]
    cap = [r for r in rows if r["status"] == "captured"]
    for src in sorted({r["source"] for r in rows}):
        mine = [r for r in rows if r["source"] == src]
        lines.append(f"  {src}: tried {len(mine)}, captured {sum(r['status'] == 'captured' for r in mine)}")
    ops = Counter(op for r in cap for op in (r["unsupported"] or "").split(";") if op)
    with_any = sum(bool(r["unsupported"]) for r in cap)
    lines.append(f"operators without a rule: {len(ops)} ({with_any} of {len(cap)} captured models have one)")
    lines += [f"  {op:40s} {n} models" for op, n in ops.most_common()]
    t = [float(r["capture_s"]) for r in cap]
    if t:
        lines.append(
            f"capture time per model: median {statistics.median(t):.3f} s, p90 {pct(t, 0.9):.3f} s, "
            f"max {max(t):.3f} s ({max(cap, key=lambda r: float(r['capture_s']))['name']})"
        )
    meta = sum(r.get("device") == "meta" for r in cap)
    lines.append(f"captured on the meta device {meta}, on CPU {len(cap) - meta}")
    bad = [r for r in cap if not r["params_match"]]
    lines.append(f"params != sum(numel): {len(bad)}" + "".join(f"\n  {r['name']}: {r['params']} vs {r['numel']}" for r in bad))
    fails = [r for r in rows if r["status"] != "captured"]
    if fails:
        lines.append("not captured:")
        lines += [f"  {r['name']} ({r['status']}): {(r.get('error') or '')[:200]}" for r in fails]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:6])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", required=True, help="per-model results")
    ap.add_argument("--summary", help="also write the summary to this file")
    ap.add_argument("--only", help="regular expression on model names")
    ap.add_argument("--limit", type=int, help="the first N models only")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per model")
    ap.add_argument("--chunk", type=int, default=20, help="models per child process")
    ap.add_argument("--budget", type=float, default=float("inf"),
                    help="start no model after this many seconds")
    ap.add_argument("--traces", help="folder for each model's trace (gzipped JSON)")
    ap.add_argument("--skip", metavar="CSV", help="leave out the models of an earlier run")
    ap.add_argument("--recount", metavar="BEFORE_CSV",
                    help="count the traces of an earlier run again instead of capturing")
    a = ap.parse_args()
    t0 = time.time()
    if a.recount:
        rows = recount(a.recount, a.traces)
    else:
        models = all_models()
        if a.only:
            models = [m for m in models if re.search(a.only, m[1])]
        if a.skip:
            done = {r["name"] for r in csv.DictReader(open(a.skip))}
            models = [m for m in models if m[1] not in done]
        if a.limit:
            models = models[:a.limit]
        if a.traces:
            os.makedirs(a.traces, exist_ok=True)
        rows = run_all(models, a.timeout, a.chunk, a.traces, a.budget)
    zoo = "" if a.recount else (
        f"zoo: {len(models)} architectures ({sum(m[0] == 'timm' for m in models)} timm, "
        f"{sum(m[0] != 'timm' for m in models)} torchvision); tried within the budget: {len(rows)}\n")
    os.makedirs(os.path.dirname(os.path.abspath(a.csv)), exist_ok=True)
    with open(a.csv, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows({k: r.get(k, "") for k in FIELDS} for r in rows)
    text = zoo + summary(rows) + f"\nwall time {time.time() - t0:.0f} s"
    print(text)
    if a.summary:
        open(a.summary, "w").write(text + "\n")


if __name__ == "__main__":
    main()
