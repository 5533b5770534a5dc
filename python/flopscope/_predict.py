"""``flopscope.predict``: a model's time on a device it may not run on (docs/predict.md).

The model is profiled by :func:`flopscope.profile` (every kind of model it takes, with the same
arguments); the time model, the device catalog and every document are the Rust core's, the
code of ``flopscope predict``.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Sequence, Union

from . import Profile, UsageError, _count, profile
from . import _flopscope as _rs
from ._flopscope import Prediction

_Path = Union[str, "os.PathLike[str]"]


def _name(v: Any, what: str) -> Optional[str]:
    if v is None or isinstance(v, str):
        return v
    raise UsageError(f"{what} must be a name (str), got {v!r}")


def _file(v: Any, what: str) -> Optional[str]:
    if v is None:
        return None
    if isinstance(v, (str, os.PathLike)):
        return os.fspath(v)
    raise UsageError(f"{what} must be a path, got {v!r}")


def predict(
    model: Any,
    inputs: Any = None,
    *,
    input_shape: Union[Sequence[Any], Mapping[str, Sequence[int]], None] = None,
    dims: Optional[Mapping[str, int]] = None,
    device: Union[str, "os.PathLike[str]"],
    dtype: Optional[str] = None,
    backend: Optional[str] = None,
    threads: Optional[int] = None,
    devices: Optional[_Path] = None,
    params: Optional[_Path] = None,
    classes: Optional[int] = None,
    name: Optional[str] = None,
    attention: Optional[str] = None,
) -> Prediction:
    """Predicts a model's latency and throughput on a device, as ``flopscope predict``.

    ``model``, ``inputs``, ``input_shape``, ``dims`` and ``name`` are what :func:`profile`
    takes (a torch module, a file or checkpoint, a built-in name, an ``hf:`` name, bytes, an
    ``onnx.ModelProto``), or a :class:`Profile` already made. ``device`` is a catalog key or
    alias (``"rtx4090"``, ``"h100-sxm"``; ``flopscope devices`` lists them), ``"KEY:MODE"`` for
    a power mode (``"jetson-agx-orin:30W"``), or a device file (``flopscope calibrate``
    writes one). ``dtype`` is ``"fp32"``, ``"tf32"``, ``"fp16"``, ``"bf16"``, ``"amp"``
    (autocast), ``"int8"`` or ``"fp8"``; ``None`` predicts the model as stored. ``backend``
    (``"torch"``, ``"torch.compile"``, ``"onnxruntime"``) decides what runs fused: by default
    ONNX Runtime on CPUs, PyTorch eager on GPUs. ``threads`` is for CPU devices (default: the
    calibration's, else every core). ``devices`` is a catalog file adding or replacing devices
    (default: ``$FLOPSCOPE_DEVICES``), ``params`` a ``flopscope.predict-params/1`` file
    replacing the built-in time-model parameters.

    ``classes`` sets a built-in image model's outputs (``--classes``); ``attention`` is
    ``--attention`` (``"full"``, the default, or ``"causal-half"``), as :func:`profile` takes it.

    The device and options are checked before the model is profiled: a bad one is a
    ``UsageError`` with the CLI's one-line message, a missing file a ``ReadError``.
    """
    target = _target(device, dtype, backend, threads, devices, params)
    if isinstance(model, Profile):
        if any(v is not None for v in (inputs, input_shape, dims, name, classes, attention)):
            raise UsageError("a Profile is predicted at the shapes it was made at: give the "
                             "model itself with inputs=, input_shape=, dims=, classes=, name= "
                             "or attention=")
        p = model
    else:
        p = profile(model, inputs, input_shape=input_shape, dims=dims, name=name, classes=classes,
                    attention=attention or "full")
    return _rs.predict(p._raw, target)


def _target(device: Any, dtype: Any, backend: Any, threads: Any, devices: Any,
            params: Any) -> Any:
    """The resolved device and options (``predict``'s, and ``compare``'s and ``report``'s
    ``device=``), checked before any model is profiled."""
    for what, v in (("dtype", dtype), ("backend", backend)):
        _name(v, what)
    if isinstance(device, os.PathLike):
        device = os.fspath(device)
    if not isinstance(device, str):
        raise UsageError(f"device must be a device name or a device file, got {device!r}")
    if threads is not None:
        threads = _count(threads, "threads")
        if threads < 1:
            raise UsageError(f"threads must be ≥ 1, got {threads}")
    return _rs.predict_target(device, dtype, backend, threads,
                              _file(devices, "devices"), _file(params, "params"))
