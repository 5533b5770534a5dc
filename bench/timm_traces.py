"""Captures flopscope's trace of every model in timm's measured inference tables, at each
table's image size and batch size, for bench/fit_devices.py.

For every (model, image size, batch size) of the union of the given tables (by default the
two copied in bench/data/timm/), the model is built without weights on the meta device
(`timm.create_model(name, pretrained=False)`, with `img_size=H` when H is not the model's
default input size and the model takes it) and traced once with an input of shape
(B, 3, H, H); the trace is written gzipped to `OUT/<model>-<H>-<B>.json.gz`, and one row
per capture (status, `sum(numel)` to compare with the table's `param_count`, error) to
`OUT/index.csv`. Models run in a child process per chunk with a timeout, exactly as
bench/capture_zoo.py runs its zoo (its runner is reused). Traces already in OUT are kept,
so an interrupted run resumes.

Run from the repository root with the package and timm installed
(`pip install . && pip install -r bench/requirements.txt`); it takes about half an hour on
one core:

    python3 bench/timm_traces.py --out /tmp/timm-traces
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_zoo  # noqa: E402 — the runner (one child per chunk, watchdog) is shared

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = [
    os.path.join(HERE, "data", "timm", "benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv"),
    os.path.join(HERE, "data", "timm", "benchmark-infer-amp-nchw-pt291-cu128-4090.csv"),
]
FIELDS = ["name", "img", "batch", "status", "numel", "capture_s", "error"]


def trace_name(name: str, img: int, batch: int) -> str:
    """The file a capture is kept in; bench/fit_devices.py finds traces by this name."""
    return f"{name}-{img}-{batch}.json.gz"


def wanted(tables: list[str]) -> list[list]:
    """Each distinct (model, image size, batch size) of the tables, as the runner's items
    `["timm", model, H, B]`, in a stable order."""
    seen = set()
    for path in tables:
        for r in csv.DictReader(open(path)):
            seen.add((r["model"], int(r["infer_img_size"]), int(r["infer_batch_size"])))
    return [["timm", n, h, b] for n, h, b in sorted(seen)]


def build(name: str, img: int):
    """The model on the meta device, eval, built for square inputs of side `img`."""
    import timm
    import torch

    with torch.device("meta"):
        cfg = timm.get_pretrained_cfg(name)
        cfg = cfg.to_dict() if cfg is not None else {}
        default = cfg.get("test_input_size") or cfg.get("input_size") or (3, 224, 224)
        if img not in (default[-1], cfg.get("input_size", (0,))[-1]):
            # Models with a fixed grid (ViTs) take the size at build time; CNNs refuse the
            # keyword and run at any size.
            try:
                return timm.create_model(name, pretrained=False, img_size=img).eval()
            except TypeError:
                pass
        return timm.create_model(name, pretrained=False).eval()


def one(name: str, img: int, batch: int, out: str) -> dict:
    """Builds and traces one model; the row says what happened."""
    import torch
    from flopscope import _torch

    row = {"name": name, "img": img, "batch": batch, "status": "build-failed"}
    try:
        m = build(name, img)
        row.update(status="built", numel=sum(p.numel() for p in m.parameters()))
        t0 = time.perf_counter()
        with torch.no_grad():
            data, _ = _torch.capture(m, (torch.empty(batch, 3, img, img, device="meta"),), {}, name)
        row["capture_s"] = round(time.perf_counter() - t0, 3)
        with gzip.open(os.path.join(out, trace_name(name, img, batch)), "wb", compresslevel=3) as f:
            f.write(data)
        row["status"] = "captured"
    except Exception as e:  # noqa: BLE001 — any failure is a result to record
        row["error"] = f"{type(e).__name__}: {e}".replace("\n", " ")[:400]
    return row


def worker(todo: str, results: str, progress: str, out: str) -> None:
    """capture_zoo's worker protocol: one JSON line per item of `todo` appended to `results`."""
    import torch

    torch.set_num_threads(1)
    for i, (_, name, img, batch) in enumerate(json.load(open(todo))):
        with open(progress, "w") as f:
            f.write(f"{i} {time.time()}")
        row = one(name, img, batch, out)
        with open(results, "a") as f:
            f.write(json.dumps(row) + "\n")


def reindex(out: str, old: dict) -> None:
    """Adds to `old` (index rows by key) a row for each trace file of `out` it lacks."""
    import flopscope

    for f in sorted(os.listdir(out)):
        if not f.endswith(".json.gz"):
            continue
        name, img, batch = f[: -len(".json.gz")].rsplit("-", 2)
        key = (name, int(img), int(batch))
        if key not in old or old[key]["status"] != "captured":
            data = gzip.open(os.path.join(out, f)).read()
            old[key] = {"name": name, "img": img, "batch": batch, "status": "captured",
                        "numel": flopscope.profile(data, name=name).params}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:6])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the traces and index.csv")
    ap.add_argument("--tables", nargs="+", default=TABLES, help="timm benchmark CSVs")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds per model")
    ap.add_argument("--chunk", type=int, default=25, help="models per child process")
    ap.add_argument("--limit", type=int, help="the first N captures only")
    ap.add_argument("--reindex", action="store_true",
                    help="first add every trace in OUT that index.csv lacks (a run stopped early, or "
                         "another folder's traces moved in), its parameters counted from the trace")
    ap.add_argument("--reverse", action="store_true",
                    help="last model first (a second run into another folder meets the first halfway)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    index = os.path.join(a.out, "index.csv")
    old = {}
    if os.path.exists(index):
        for r in csv.DictReader(open(index)):
            old[(r["name"], int(r["img"]), int(r["batch"]))] = r
    if a.reindex:
        reindex(a.out, old)
    items = wanted(a.tables)[:: -1 if a.reverse else 1][: a.limit]
    todo = [it for it in items if not (
        tuple(it[1:]) in old and old[tuple(it[1:])]["status"] == "captured"
        and os.path.exists(os.path.join(a.out, trace_name(*it[1:]))))]
    print(f"{len(items)} captures, {len(items) - len(todo)} already done", file=sys.stderr)
    t0 = time.time()
    rows = capture_zoo.run_all(todo, a.timeout, a.chunk, a.out, float("inf"), script=os.path.abspath(__file__))
    for it, r in zip(todo, rows):  # one row per item, in order; a killed child's has no size
        r.update(img=it[2], batch=it[3])
        old[(r["name"], int(r["img"]), int(r["batch"]))] = r
    with open(index, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows({k: r.get(k, "") for k in FIELDS} for _, r in sorted(old.items()))
    done = sum(r["status"] == "captured" for r in old.values())
    print(f"captured {done} of {len(old)}; this run {len(rows)} in {time.time() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
