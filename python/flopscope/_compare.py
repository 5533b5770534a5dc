"""``flopscope.compare`` and ``flopscope.report``: several models side by side, and the report
page or one chart of a model, as ``flopscope compare`` and ``flopscope report`` make them (the
documents are the CLI's Rust exporters)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union

from . import Profile, UsageError, WriteError, _is_torch_module, profile
from . import bench as _bench_module
from . import _flopscope as _rs


class Comparison:
    """Models side by side, as ``flopscope compare`` shows them."""

    __slots__ = ("_raw", "_diff")

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._diff: Optional[tuple] = None

    def diff(self, format: str = "table") -> str:
        """The layer-by-layer difference of the two models (``compare(..., diff=True)``, the
        CLI's ``--diff``): ``table`` (the 30 largest changes), ``markdown`` (50) or ``json``."""
        if self._diff is None:
            raise UsageError("this comparison was made without diff=True")
        return _rs.diff(*self._diff, format)

    def to_dict(self) -> dict:
        """The ``flopscope.compare/1`` document."""
        return json.loads(self._raw.json())

    def render(self, format: str = "table") -> str:
        """``table``, ``markdown``, ``csv``, ``json`` (the rows), ``latex``, or ``html`` (the
        page with the Pareto chart)."""
        return self._raw.render(format)

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """By extension: ``.html`` the page, ``.svg``/``.png`` the Pareto chart, ``.md``,
        ``.csv``, ``.json``, ``.tex``, ``.txt`` the table."""
        ext = os.path.splitext(os.fspath(path))[1].lower()
        if ext in (".svg", ".png"):
            return self._raw.chart(os.fspath(path))
        fmt = {".html": "html", ".htm": "html", ".md": "markdown", ".csv": "csv",
               ".json": "json", ".tex": "latex", ".txt": "table"}.get(ext)
        if fmt is None:
            raise UsageError(f"{os.fspath(path)}: write a comparison as .html, .svg, .png, "
                             ".md, .csv, .json, .tex or .txt")
        text = json.dumps(self.to_dict(), indent=2) + "\n" if fmt == "json" else self.render(fmt)
        _write(path, text)

    def __str__(self) -> str:
        return self.render("table")

    def __repr__(self) -> str:
        return f"<flopscope.Comparison of {len(self.to_dict()['entries'])} models>"


def _write(path: Union[str, "os.PathLike[str]"], text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise WriteError(f"{os.fspath(path)}: {e.strerror or e}") from None


def _device_target(device: Any, predict_backend: Any, dtype: Any, devices: Any,
                   params: Any) -> Any:
    """``compare``'s and ``report``'s prediction keywords (``--device``, ``--predict-backend``,
    ``--dtype``, ``--devices``, ``--params``) as a resolved target, or ``None`` without a
    device; checked before any model is profiled."""
    if device is not None:
        from ._predict import _target
        return _target(device, dtype, predict_backend, None, devices, params)
    if any(v is not None for v in (predict_backend, dtype, devices, params)):
        raise UsageError("predict_backend=, dtype=, devices= and params= are for a prediction: "
                         "give device= too")
    return None


def compare(models: Sequence[Any], *, names: Optional[Sequence[str]] = None,
            bench: Union[Sequence[Any], bool, None] = None, diff: bool = False,
            dims: Optional[Mapping[str, int]] = None,
            input_shape: Union[Sequence[int], Mapping[str, Sequence[int]], None] = None,
            classes: Optional[int] = None, device: Union[str, "os.PathLike[str]", None] = None,
            predict_backend: Optional[str] = None, dtype: Optional[str] = None,
            devices: Union[str, "os.PathLike[str]", None] = None,
            params: Union[str, "os.PathLike[str]", None] = None,
            attention: Optional[str] = None) -> Comparison:
    """Compares models (``Profile`` objects, or anything :func:`profile` takes without
    inputs: paths, bytes, built-in names, ``hf:`` names), as ``flopscope compare``.

    ``dims``, ``input_shape`` and ``classes`` (``--dim``, ``--input``, ``--classes``) size the
    models given by name or path, as :func:`profile` does, and so does ``attention``
    (``--attention``: ``"full"``, the default, or ``"causal-half"``). ``bench`` gives each model's
    ``BenchResult`` (or ``None``): latency then joins the table and the Pareto front;
    ``bench=True`` times each model given by path with ``flopscope bench``'s defaults (ONNX
    Runtime), as ``--bench``. ``device`` (``--device``: a catalog key, ``KEY:MODE``, ``local``
    or a device file) adds each model's predicted latency, throughput and memory fit, with
    ``predict_backend``, ``dtype``, ``devices`` and ``params`` as ``--predict-backend``,
    ``--dtype``, ``--devices`` and ``--params``. ``diff=True`` compares two versions of one
    model layer by layer (``--diff``): ``Comparison.diff`` then holds that table.
    """
    if not isinstance(diff, bool):
        raise UsageError(f"diff must be True or False, got {diff!r}")
    if diff and len(models) != 2:
        raise UsageError(f"diff=True compares two versions of one model, got {len(models)} models")
    target = _device_target(device, predict_backend, dtype, devices, params)
    sized = any(v is not None for v in (dims, input_shape, classes, attention))
    if sized and any(isinstance(m, Profile) for m in models):
        raise UsageError("a Profile keeps the shapes it was made at: dims=, input_shape=, "
                         "classes= and attention= are for models given by name or path")
    profiles = [m if isinstance(m, Profile) else
                profile(m, dims=dims, input_shape=input_shape, classes=classes,
                        attention=attention or "full") for m in models]
    labels = list(names) if names is not None else [p.source for p in profiles]
    if bench is True:
        runs = [_bench_file(m) for m in models]
    elif bench is None or bench is False:
        runs = [None] * len(profiles)
    else:
        runs = list(bench)
    if len(labels) != len(profiles) or len(runs) != len(profiles):
        raise UsageError(f"{len(profiles)} models, {len(labels)} names, {len(runs)} bench results")
    raws = [r._raw if r is not None else None for r in runs]
    preds = [_rs.predict(p._raw, target) for p in profiles] if target is not None else []
    c = Comparison(_rs.compare(labels, [p._raw for p in profiles], raws, preds))
    if diff:
        c._diff = (profiles[0]._raw, profiles[1]._raw)
    return c


def _bench_file(model: Any) -> Any:
    """``flopscope bench``'s default run of a model file (``compare(bench=True)``)."""
    if isinstance(model, Profile) or not isinstance(model, (str, os.PathLike)):
        raise UsageError("bench=True times model files (paths); for a Profile or a torch "
                         "module pass its flopscope.bench(...) result in bench=[...]")
    from . import _benchfile
    return _benchfile.bench_path(os.fspath(model))


def _time(model: Any, inputs: Any, input_shape: Any) -> Any:
    # flopscope.bench, which report's argument of the same name hides.
    return _bench_module(model, inputs, input_shape=input_shape)


def report(model: Any, path: Union[str, "os.PathLike[str]"], inputs: Any = None, *,
           bench: Any = None, chart: str = "layers",
           device: Union[str, "os.PathLike[str]", None] = None,
           predict_backend: Optional[str] = None, dtype: Optional[str] = None,
           devices: Union[str, "os.PathLike[str]", None] = None,
           params: Union[str, "os.PathLike[str]", None] = None, **options: Any) -> Profile:
    """Writes ``flopscope report``'s page (``.html``: summary, charts, treemap, memory, layer
    table, the training step when there is one, latency when ``bench`` is a ``BenchResult`` or
    ``True``, and the predicted time per layer with ``device=``) or one chart
    (``.svg``/``.png``: ``chart="layers"``, ``"ops"``, ``"memory"``, ``"roofline"``).

    ``model`` is a ``Profile`` or anything :func:`profile` takes; ``options`` are
    :func:`profile`'s keywords (``dims``, ``input_shape``, ``training``, ``roofline``,
    ``peak_gflops``/``bandwidth_gbs``, ``machine``, …), the CLI's flags of the same names.
    ``bench=True`` times a torch module with :func:`bench`'s defaults, or a model file with
    ``flopscope bench``'s (``--bench``). ``device``, ``predict_backend``, ``dtype``,
    ``devices`` and ``params`` are ``--device``, ``--predict-backend``, ``--dtype``,
    ``--devices`` and ``--params``, as :func:`predict` takes them. Returns the profile."""
    target = _device_target(device, predict_backend, dtype, devices, params)
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in (".svg", ".png", ".html", ".htm"):
        raise UsageError(f"{os.fspath(path)}: the report is written as .html, a chart as .svg "
                         "or .png")
    if isinstance(model, Profile) and (inputs is not None or options):
        raise UsageError("a Profile is reported at the shapes it was made at: give the model "
                         f"itself with {', '.join(sorted(options)) or 'inputs='}")
    p = model if isinstance(model, Profile) else profile(model, inputs, **options)
    if bench is True:
        if _is_torch_module(model):
            bench = _time(model, inputs, options.get("input_shape"))
        else:
            bench = _bench_file(model)
    if ext in (".svg", ".png"):
        _rs.profile_chart(p._raw, chart, os.fspath(path), bench._raw if bench else None)
    else:
        pred = _rs.predict(p._raw, target) if target is not None else None
        _write(path, _rs.report_html(p._raw, bench._raw if bench is not None else None, pred))
    return p
