"""``BenchResult`` and the timing of a model file (``flopscope.bench(path)``,
``compare(bench=True)``): ``flopscope bench``'s Rust code runs it; no torch is imported."""

from __future__ import annotations

import json
import os
from typing import Any, Optional

from . import _flopscope as _rs


class BenchResult:
    """Latency and throughput of a module on each backend and batch size."""

    __slots__ = ("_raw", "max_abs_diff", "device")

    def __init__(self, raw: Any, max_abs_diff: dict, device: str) -> None:
        self._raw = raw
        #: Largest absolute difference of each backend's outputs from eager torch's.
        self.max_abs_diff = max_abs_diff
        #: Where the runs ran (``cpu``, or the CUDA device's name).
        self.device = device

    def to_dict(self) -> dict:
        """The ``flopscope.bench/1`` document, as ``flopscope bench -f json`` writes it."""
        return json.loads(self._raw.json())

    @property
    def runs(self) -> list[dict]:
        """One dict per backend × batch size: ``latency_ms`` statistics, ``fps``, samples."""
        return self.to_dict()["runs"]

    def render(self, format: str = "table") -> str:
        """The report as ``flopscope bench -f FORMAT`` writes it (``html``: the page)."""
        return self._raw.render(format)

    def to_pandas(self) -> Any:
        """One row per run (pandas is imported only here)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        rows = []
        for r in self.runs:
            row = {k: v for k, v in r.items() if k not in ("latency_ms", "samples_ms", "layers")}
            row.update({f"{k}_ms": v for k, v in r["latency_ms"].items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        return self.render("table")

    def __repr__(self) -> str:
        parts = [f"{r['backend']} b{r['batch']}: {r['latency_ms']['median']:.3f} ms" for r in self.runs]
        return f"<flopscope.BenchResult {self.device}: {', '.join(parts)}>"

    def _repr_html_(self) -> str:
        # The statistics and a latency histogram per run, drawn in Rust as inline SVG.
        return self._raw.html_fragment()


def bench_path(path: str, backends: tuple = ("onnxruntime",), threads: int = 1,
               warmup: int = 10, runs: Optional[int] = None, max_time: Optional[float] = None,
               precision: Optional[float] = None, seed: int = 0) -> BenchResult:
    """Times an ONNX file as ``flopscope bench FILE`` does: ``backends`` (``--backend``:
    ``onnxruntime``, ``tract``), ``threads`` (``--threads``, default 1), ``warmup``, ``runs``,
    ``max_time`` (``--time``, seconds), ``precision`` (a fraction: ``0.01`` is ``--precision
    1%``) and ``seed``."""
    from . import UsageError, _count

    if not os.path.isfile(path):
        raise UsageError(
            f"{os.fspath(path)}: bench(path) times a model file, and there is none; a built-in "
            f"model is timed, with seeded random weights, by `flopscope bench {os.fspath(path)}`")
    if isinstance(backends, str):
        backends = (backends,)
    threads = _count(threads, "threads")
    if threads < 1:
        raise UsageError(f"threads must be ≥ 1, got {threads}")
    if runs is not None and _count(runs, "runs") < 1:
        raise UsageError(f"runs must be ≥ 1, got {runs}")
    raw, _, _ = _rs.bench_file(os.fspath(path), list(backends), threads, _count(warmup, "warmup"),
                               runs, max_time, precision, _count(seed, "seed"))
    return BenchResult(raw, {}, "cpu")
