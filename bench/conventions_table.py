"""Each counting tool's own totals beside `flopscope.profile(..., convention=TOOL)`.

Runs the tools of tests/python/conventions_ref.py (thop, fvcore, ptflops, torchinfo, calflops,
DeepSpeed's flops profiler, torch's FlopCounterMode) on its models, one subprocess per tool,
two at a time, each with one torch thread, and writes bench/results/conventions_tools.json:
the installed versions and, per model and tool, the tool's figures (`macs`, `flops`,
`params`; null where the tool does not report one), the tool call's wall time (`seconds`,
without imports and model building), the subprocess's wall time per model
(`process_seconds`), or the tool's `error`. Where the installed flopscope takes
`convention=`, each cell also gets `flopscope` (its figures, or its error), profiled in this
process in the autograd mode the tool itself ran in.

It prints two Markdown tables: the tools' totals, and per cell "equal" or what differs
("macs: tool X / flopscope Y (Δ)"), "n/a" while flopscope has no `convention=`.

Run from the repository root with the tools installed (scripts/test-deps.sh):

    python3 bench/conventions_table.py                      # every model, every tool
    python3 bench/conventions_table.py --models resnet18,gru --tools thop,fvcore
    python3 bench/conventions_table.py --reuse              # flopscope again, tools from the JSON
    python3 bench/conventions_table.py --variants           # and each cell again, 2 threads, seed 1
"""

from __future__ import annotations

import argparse
import importlib.metadata
import inspect
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))

import conventions_ref as ref  # noqa: E402

FIGURES = ("macs", "flops", "params")


def versions() -> dict:
    """The installed version of every pinned distribution (None where one is missing)."""
    out = {}
    for dist in ref.PINNED:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = None
    return out


def flopscope_convention(tool: str, name: str) -> dict:
    """flopscope's figures for model `name` in `tool`'s convention, or `{"error": ...}`."""
    import flopscope
    import torch

    model, args, kwargs, _ = ref.build(name)
    try:
        with torch.set_grad_enabled(ref.grad_for(tool, name)):
            p = flopscope.profile(model, kwargs if kwargs else args, convention=tool)
        return {k: getattr(p, k) for k in FIGURES}
    except Exception as e:  # noqa: BLE001 -- reported in its cell
        return {"error": f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"}


def has_conventions() -> bool:
    try:
        import flopscope
    except ImportError:
        return False
    return "convention" in inspect.signature(flopscope.profile).parameters


def fmt(v) -> str:
    return "—" if v is None else f"{v:,}"


def totals_table(results: dict, models, tools) -> str:
    """Markdown: each tool's MACs / FLOPs / params as it reports them."""
    rows = ["| model | " + " | ".join(tools) + " |", "|---" * (len(tools) + 1) + "|"]
    for m in models:
        cells = []
        for t in tools:
            r = results[m][t]
            if "error" in r:
                cells.append("error: " + r["error"][:80])
            else:
                cells.append(" / ".join(fmt(r[k]) for k in FIGURES))
        rows.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def compare_cell(r: dict) -> str:
    """'equal', 'n/a', or what differs between the tool and flopscope."""
    if "error" in r:
        return "tool error"
    fs = r.get("flopscope")
    if fs is None:
        return "n/a"
    if "error" in fs:
        return "flopscope error: " + fs["error"][:60]
    diffs = []
    for k in FIGURES:
        if r[k] != fs.get(k):
            if r[k] is None or fs.get(k) is None:
                diffs.append(f"{k}: tool {fmt(r[k])} / flopscope {fmt(fs.get(k))}")
            else:
                diffs.append(
                    f"{k}: tool {fmt(r[k])} / flopscope {fmt(fs[k])} (Δ {fs[k] - r[k]:+,})"
                )
    return "equal" if not diffs else "; ".join(diffs)


def compare_table(results: dict, models, tools) -> str:
    rows = ["| model | " + " | ".join(tools) + " |", "|---" * (len(tools) + 1) + "|"]
    for m in models:
        rows.append(f"| {m} | " + " | ".join(compare_cell(results[m][t]) for t in tools) + " |")
    return "\n".join(rows)


def inconsistent(results: dict, models, tools) -> list[str]:
    """One line per cell whose variants (run_tools(variants=True)) differ from its figures."""
    lines = []
    for m in models:
        for t in tools:
            r = results[m][t]
            base = {k: r.get(k) for k in FIGURES} if "error" not in r else {"error": r["error"]}
            for tag, v in r.get("variants", {}).items():
                v = {k: v.get(k) for k in FIGURES} if "error" not in v else {"error": v["error"]}
                if v != base:
                    lines.append(f"- {m} / {t}: {tag} gives {v}, not {base}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(ref.MODELS), help="comma-separated model names")
    ap.add_argument("--tools", default=",".join(ref.TOOLS), help="comma-separated tool names")
    ap.add_argument("--jobs", type=int, default=2, help="tool subprocesses at a time (default 2)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "conventions_tools.json"))
    ap.add_argument(
        "--variants",
        action="store_true",
        help="also run every cell again, with 2 threads and with seed 1 (about 4x as long)",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="read the tools' figures from --out instead of running the tools",
    )
    a = ap.parse_args()
    models, tools = a.models.split(","), a.tools.split(",")
    for t in tools:
        if t not in ref.TOOLS:
            sys.exit(f"unknown tool {t!r}; known: {', '.join(ref.TOOLS)}")
    for m in models:
        if m not in ref.MODELS:
            sys.exit(f"unknown model {m!r}; known: {', '.join(ref.MODELS)}")

    out = Path(a.out)
    if a.reuse:
        doc = json.loads(out.read_text())
        results = doc["results"]
        missing = [(m, t) for m in models for t in tools if t not in results.get(m, {})]
        if missing:
            sys.exit(f"{out} has no result for {missing[0]}: run without --reuse")
    else:
        t0 = time.perf_counter()
        got = ref.run_tools(
            [(t, m) for m in models for t in tools], jobs=a.jobs, variants=a.variants
        )
        wall = time.perf_counter() - t0
        doc = {
            "versions": versions(),
            "torch_threads": 1,
            "jobs": a.jobs,
            "wall_seconds": round(wall, 1),
            "results": {},
        }
        if out.exists():  # a partial run updates its cells of a file from the same versions
            old = json.loads(out.read_text())
            if old.get("versions") == doc["versions"]:
                doc["results"] = old["results"]
        results = doc["results"]
        for m in models:
            for t in tools:
                results.setdefault(m, {})[t] = got[(t, m)]

    if has_conventions():
        for m in models:
            for t in tools:
                results[m][t]["flopscope"] = flopscope_convention(t, m)
    else:
        for m in models:
            for t in tools:
                results[m][t].pop("flopscope", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")

    print("## Tools' totals (MACs / FLOPs / params as each reports them; — = not reported)\n")
    print(totals_table(results, models, tools))
    print("\n## flopscope convention=TOOL against the tool\n")
    print(compare_table(results, models, tools))
    if a.variants:
        print("\n## Cells not consistent with themselves (again / 2 threads / seed 1)\n")
        odd = inconsistent(results, models, tools)
        print("\n".join(odd) if odd else f"none of {len(models) * len(tools)} cells")
    if not a.reuse:
        print(f"\ntools: {doc['wall_seconds']} s wall with {a.jobs} jobs", file=sys.stderr)


if __name__ == "__main__":
    main()
