"""flopscope: parameters, MACs, FLOPs and memory of neural networks, layer by layer.

Every number comes from the Rust core (the same code as the ``flopscope`` command); this
module only turns Python arguments into its options and its results into Python objects.
Importing it imports neither torch nor numpy.

>>> import flopscope
>>> p = flopscope.profile("resnet18")          # a built-in architecture
>>> p.params, p.macs
(11689512, 1814073344)
"""

from __future__ import annotations

import json
import os
from contextlib import nullcontext as _nullcontext
from dataclasses import asdict, dataclass
from collections.abc import Mapping, Sequence
from typing import Any, Optional, Tuple, Union

from . import _flopscope as _rs
from ._flopscope import (
    AccessDeniedError,
    BackendError,
    FlopscopeError,
    ModelError,
    ModelNotFoundError,
    NetworkError,
    ReadError,
    RenderError,
    ResourcesError,
    ShapeError,
    UnsupportedError,
    UsageError,
    WriteError,
)

__version__: str = _rs.__version__

__all__ = [
    "profile",
    "predict",
    "bench",
    "compare",
    "report",
    "Comparison",
    "zoo",
    "Profile",
    "Counted",
    "Explain",
    "Prediction",
    "Layer",
    "Module",
    "OpType",
    "Unsupported",
    "Formulas",
    "Training",
    "TrainingMemory",
    "FlopscopeError",
    "CaptureError",
    "ModelError",
    "UnsupportedError",
    "ShapeError",
    "UsageError",
    "ReadError",
    "ModelNotFoundError",
    "WriteError",
    "BackendError",
    "ResourcesError",
    "RenderError",
    "NetworkError",
    "AccessDeniedError",
    "__version__",
]

Shape = Optional[Tuple[int, ...]]



class CaptureError(FlopscopeError, RuntimeError):
    """A torch module's forward pass could not be recorded; the message names the module and
    the operation that failed."""


@dataclass(frozen=True, slots=True)
class Layer:
    """One node of the graph, in execution order (a row of ``layers[]`` in the JSON)."""

    name: str
    op: str
    domain: str
    scope: Tuple[str, ...]
    inputs: Tuple[Shape, ...]
    outputs: Tuple[Shape, ...]
    params: int
    param_bytes: int
    macs: Optional[int]
    flops: Optional[int]
    bytes_read: int
    bytes_written: int
    activation_bytes: int


@dataclass(frozen=True, slots=True)
class Module:
    """Layers rolled up by module path (``Profile.by_module``), as the CLI's ``--depth``."""

    name: str
    op: str
    output: str
    params: int
    macs: Optional[int]
    flops: Optional[int]
    nodes: int


@dataclass(frozen=True, slots=True)
class OpType:
    """Totals of one operator type (a row of ``by_op_type[]``)."""

    op: str
    count: int
    params: int
    macs: int
    flops: int
    activation_bytes: int
    cost_unknown: int


@dataclass(frozen=True, slots=True)
class Unsupported:
    """Nodes of one operator whose cost is unknown (the totals are then lower bounds)."""

    op: str
    count: int
    reason: str
    examples: Tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Formulas:
    """Totals as exact polynomials in the dims left symbolic, e.g. ``1814073344·batch``."""

    symbols: Tuple[str, ...]
    macs: str
    flops: str
    activation_bytes: str
    bytes_read: str
    bytes_written: str
    checked_at: Tuple[Tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class TrainingMemory:
    """Memory of one training step on one GPU, in bytes (``Training.memory``)."""

    weights_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    activations_bytes: int
    peak_bytes: int


@dataclass(frozen=True, slots=True)
class Training:
    """One training step (``Profile.training``): forward and backward compute and memory.

    For a torch module profiled with ``training=True`` the backward is the one autograd ran
    (see docs/training-python.md): ``backward_macs`` counts each gradient that was computed,
    ``memory.activations_bytes`` the tensors autograd saved for backward; weights, gradients
    and optimizer state follow ``optimizer`` and ``precision`` per trainable parameter.
    """

    optimizer: str
    precision: str
    recompute: str
    gpus: int
    zero_stage: int
    trainable_params: int
    frozen_params: int
    forward_macs: int
    backward_macs: int
    macs: int
    forward_flops: int
    backward_flops: int
    optimizer_flops: int
    flops: int
    memory: TrainingMemory
    tokens_per_step: Optional[int] = None
    flops_per_token: Optional[float] = None
    time: Optional[dict] = None

    @classmethod
    def _from(cls, d: dict) -> "Training":
        names = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in d.items() if k in names}
        mem = d["memory"]
        kw["memory"] = TrainingMemory(
            **{k: mem[k] for k in TrainingMemory.__dataclass_fields__})
        return cls(**kw)

    def to_dict(self) -> dict:
        """The ``training`` section of the ``flopscope.profile/1`` document."""
        d = asdict(self)
        for k in ("tokens_per_step", "flops_per_token", "time"):
            if d[k] is None:
                del d[k]
        return d


def _shape(s: Any) -> Shape:
    return None if s is None else tuple(s)


_SAVE_FORMATS = {
    ".json": "json",
    ".csv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}


class Profile:
    """The profile of one model: totals, layers, operator types, formulas, warnings.

    Holds the Rust profile itself: ``str()``, ``save()`` and ``_repr_html_()`` render it with
    the CLI's exporters without re-parsing anything.
    """

    __slots__ = ("_raw", "_doc", "_trace")

    def __init__(self, raw: _rs.Profile, trace: Optional[bytes] = None) -> None:
        self._raw = raw
        self._doc: Optional[dict] = None
        # A traced module's flopscope.trace/1 document: what conventions read.
        self._trace = trace

    def save_trace(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes a traced module's ``flopscope.trace/1`` document (what it was profiled
        from) to ``path``, for ``flopscope profile PATH --convention NAME`` or ``flopscope
        compare PATH --conventions a,b`` on the command line."""
        if self._trace is None:
            raise UsageError("save_trace() is for a profile of a torch.nn.Module; this one was "
                             "profiled from a file")
        with open(path, "wb") as f:
            f.write(self._trace)

    def as_convention(self, name: str) -> "Counted":
        """This model counted as tool ``name`` counts it (``"thop"``, ``"fvcore"``,
        ``"ptflops"``, ``"torchinfo"``, ``"calflops"``, ``"deepspeed"``,
        ``"flopcountermode"``, or ``"exact"``): a :class:`Counted` with the tool's ``macs``,
        ``flops`` and ``params`` (``None`` where the tool has no such figure). Other tools
        count a torch module, so only ``"exact"`` applies to a file. The rules apply to the
        recorded pass; ``profile(module, inputs, convention=name)`` also records it in the
        modes the tool runs the model in (see docs/conventions.md)."""
        from . import _conventions

        return _conventions.explain(self._trace, self._raw, [_conventions.check_one(name)]).conventions[0]

    def explain(self, *names: str) -> "Explain":
        """This model under several conventions (default: all of them) in one table: totals,
        operator families, and where each departs from the exact count (``str()`` of the
        result; ``.markdown``; ``.differences``), as ``flopscope compare MODEL --conventions``."""
        from . import _conventions

        ns = _conventions.check(list(names))
        return _conventions.explain(self._trace, self._raw, ns)

    def _data(self) -> dict:
        # Parsed once, for the typed views; to_dict() returns a fresh copy.
        if self._doc is None:
            self._doc = json.loads(self._raw.json())
        return self._doc

    @property
    def source(self) -> str:
        """The model's path, the name given with its bytes, or the built-in name."""
        return self._raw.source

    @property
    def params(self) -> int:
        """Parameters: floating-point initializers, each counted once."""
        return self._raw.params

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one forward pass (with ``training=True`` too: the step's
        are in ``training``)."""
        return self._raw.macs

    @property
    def flops(self) -> int:
        """Floating-point operations of one forward pass: 2 × MACs + every other operation
        (with ``training=True`` too: the step's are in ``training``)."""
        return self._raw.flops

    @property
    def param_bytes(self) -> int:
        """Bytes of the parameters."""
        return self._raw.param_bytes

    @property
    def activation_bytes(self) -> int:
        """Bytes of every node output (all activations written once)."""
        return self._raw.activation_bytes

    @property
    def peak_activation_bytes(self) -> int:
        """Largest total of live activations during a sequential execution."""
        return self._raw.peak_activation_bytes

    @property
    def totals(self) -> dict:
        """Every total of the JSON's ``totals`` section."""
        return dict(self._data()["totals"])

    @property
    def param_breakdown(self) -> Optional[dict]:
        """Parameters by role (``embeddings``, ``head``, ``attention``, ``norms``,
        ``dense_mlp``, ``router``, ``shared_experts``, ``routed_experts``, ``other``), the
        routed ``experts`` E and ``experts_per_token`` k, ``total`` and ``active`` (what one
        token uses: total − routed experts × (E − k)/E); ``None`` for a model whose tensor
        names do not say their role (an ONNX file, a module that is not a Hugging Face model).
        See docs/counting.md, "Active and total parameters"."""
        b = self._data().get("param_breakdown")
        return dict(b) if b is not None else None

    @property
    def dims(self) -> dict:
        """The size used for each symbolic dim (``bindings`` in the JSON)."""
        return dict(self._data()["bindings"])

    @property
    def formulas(self) -> Optional[Formulas]:
        """Totals as polynomials in the dims left unbound; ``None`` when every dim was bound."""
        f = self._data().get("formulas")
        if f is None:
            return None
        return Formulas(
            symbols=tuple(f["symbols"]),
            macs=f["macs"]["text"],
            flops=f["flops"]["text"],
            activation_bytes=f["activation_bytes"]["text"],
            bytes_read=f["bytes_read"]["text"],
            bytes_written=f["bytes_written"]["text"],
            checked_at=tuple(tuple(p) for p in f["checked_at"]),
        )

    @property
    def layers(self) -> list[Layer]:
        """One row per node, in execution order."""
        return [
            Layer(
                name=l["name"],
                op=l["op"],
                domain=l.get("domain", ""),
                scope=tuple(l["scope"]),
                inputs=tuple(_shape(s) for s in l["inputs"]),
                outputs=tuple(_shape(s) for s in l["outputs"]),
                params=l["params"],
                param_bytes=l["param_bytes"],
                macs=l["macs"],
                flops=l["flops"],
                bytes_read=l["bytes_read"],
                bytes_written=l["bytes_written"],
                activation_bytes=l["activation_bytes"],
            )
            for l in self._data()["layers"]
        ]

    def by_module(self, depth: int = 1) -> list[Module]:
        """Layers rolled up by module path cut at ``depth`` (the CLI's ``--depth``).

        A node whose module path (``Layer.scope``) has at least ``depth`` parts is summed into
        the row ``/part1/.../partN``; a node with a shorter path, or none (graph-level nodes,
        exports without module names), stays on a row of its own under its node name. Rows
        keep the order of their first node; ``macs``/``flops`` are ``None`` when a node of the
        row has an unknown cost.
        """
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise UsageError(f"depth must be an integer ≥ 1, got {depth!r}")
        return [Module(*row) for row in self._raw.modules(depth)]

    def by_op_type(self) -> list[OpType]:
        """Totals per operator type, most FLOPs first."""
        return [OpType(**r) for r in self._data()["by_op_type"]]

    @property
    def unsupported(self) -> list[Unsupported]:
        """Operators whose cost is unknown, with up to five example nodes each."""
        return [
            Unsupported(op=u["op"], count=u["count"], reason=u["reason"],
                        examples=tuple(u["examples"]))
            for u in self._data()["unsupported"]
        ]

    @property
    def buffers(self) -> int:
        """Floating-point state that is not a parameter (BatchNorm running statistics, a torch
        module's buffers)."""
        return int(self.totals["buffers"])

    @property
    def frozen_params(self) -> int:
        """Parameters with ``requires_grad=False`` (a torch module; 0 for files)."""
        return int(self.totals["frozen_params"])

    @property
    def trainable_params(self) -> int:
        """Parameters that are trained: ``params - frozen_params``."""
        return self.params - self.frozen_params

    @property
    def training(self) -> Optional[Training]:
        """One training step's compute and memory (``profile(..., training=True)``); ``None``
        otherwise, or when the source has no backward pass to count (a warning says so)."""
        t = self._raw.training_json()
        return None if t is None else Training._from(json.loads(t))

    @property
    def roofline(self) -> Optional[dict]:
        """The roof the profile was placed under (``profile(..., roofline=True)``, a device
        spec or a machine file) and the whole model's place under it: the ``roofline``
        section of ``to_dict()``; each layer's is in ``to_dict()["layers"]``. ``None``
        without one."""
        return self._data().get("roofline")

    @property
    def warnings(self) -> list[str]:
        """Anything to know about these numbers (unbound dims, unknown costs…)."""
        return list(self._data()["warnings"])

    def to_dict(self) -> dict:
        """The ``flopscope.profile/1`` document, exactly as ``flopscope profile -f json``."""
        return json.loads(self._raw.json())

    def to_pandas(self) -> Any:
        """One row per layer as a ``pandas.DataFrame`` (pandas is imported only here)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError(
                "Profile.to_pandas() needs pandas: pip install pandas (or flopscope[pandas])"
            ) from e
        columns = [f for f in Layer.__dataclass_fields__]
        return pd.DataFrame([asdict(l) for l in self.layers], columns=columns)

    def render(self, format: str = "table", *, depth: Optional[int] = None,
               top: Optional[int] = None) -> str:
        """The text of ``flopscope profile -f FORMAT [--depth N] [--top N]``: ``table``,
        ``markdown``, ``csv``, ``json`` or ``html`` (depth and top apply to table and markdown)."""
        return self._raw.render(format, depth, top)

    def save(self, path: Union[str, "os.PathLike[str]"], *, depth: Optional[int] = None,
             top: Optional[int] = None) -> None:
        """Writes the profile in the format its extension names: ``.json`` (the
        ``flopscope.profile/1`` document), ``.csv``, ``.md``, ``.html`` (the self-contained
        report page) or ``.txt`` (the table)."""
        ext = os.path.splitext(os.fspath(path))[1].lower()
        fmt = _SAVE_FORMATS.get(ext)
        if fmt is None:
            raise UsageError(
                f"cannot tell the format of {os.fspath(path)!r} from its extension "
                f"(use one of {', '.join(sorted(_SAVE_FORMATS))})"
            )
        self._raw.save(os.fspath(path), fmt, depth, top)

    def __str__(self) -> str:
        return self._raw.render("table", None, None)

    def __repr__(self) -> str:
        return repr(self._raw)

    def _repr_html_(self) -> str:
        return self._raw.html_fragment()


def _is_torch_module(obj: Any) -> bool:
    # Without importing torch: a torch.nn.Module has `torch.nn...Module` in its MRO.
    for cls in type(obj).__mro__:
        if cls.__name__ == "Module" and (cls.__module__ or "").startswith("torch.nn"):
            return True
    return False


def _count(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        try:
            import operator

            v = operator.index(v)  # numpy integers
        except TypeError:
            raise UsageError(f"{what} must be an integer, got {v!r}") from None
    return int(v)


def _dims(dims: Optional[Mapping[str, int]]) -> list[tuple[str, int]]:
    if dims is None:
        return []
    if not isinstance(dims, Mapping):
        raise UsageError(f"dims must be a dict {{name: size}}, got {type(dims).__name__}")
    out = []
    for k, v in dims.items():
        if not isinstance(k, str):
            raise UsageError(f"dims keys must be dim names (str), got {k!r}")
        n = _count(v, f"dims[{k!r}]")
        if n < 1:
            raise UsageError(f"dims expects {{name: size}} with size ≥ 1, got {k!r}: {n}")
        out.append((k, n))
    return out


def _shape_arg(shape: Any, what: str) -> list[int]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise UsageError(f"{what} must be a tuple of sizes, got {shape!r}")
    out = []
    for d in shape:
        n = _count(d, what)
        if n < 0:
            raise UsageError(f"{what} must hold sizes ≥ 0, got {shape!r}")
        out.append(n)
    return out


def _inputs(input_shape: Any) -> list[tuple[Optional[str], list[int]]]:
    if input_shape is None:
        return []
    if isinstance(input_shape, Mapping):
        return [(str(k), _shape_arg(v, f"input_shape[{k!r}]")) for k, v in input_shape.items()]
    return [(None, _shape_arg(input_shape, "input_shape"))]


def profile(
    model: Any,
    inputs: Any = None,
    *,
    input_shape: Union[Sequence[int], Mapping[str, Sequence[int]], None] = None,
    dims: Optional[Mapping[str, int]] = None,
    classes: Optional[int] = None,
    name: Optional[str] = None,
    training: bool = False,
    optimizer: str = "adam",
    precision: str = "fp32",
    recompute: str = "none",
    loss_fn: Any = None,
    gpus: Optional[int] = None,
    zero: Optional[int] = None,
    tokens: Union[int, str, None] = None,
    mfu: Optional[float] = None,
    peak_gflops: Optional[float] = None,
    bandwidth_gbs: Optional[float] = None,
    machine: Union[str, "os.PathLike[str]", None] = None,
    roofline: bool = False,
    attention: str = "full",
    convention: Optional[str] = None,
) -> Any:
    """Profiles a model: parameters, MACs, FLOPs and memory, layer by layer.

    ``model`` is a path (``str`` or ``os.PathLike``: an ONNX file, a safetensors file or
    checkpoint folder, a GGUF file), a remote model read from its headers only
    (``"hf:ORG/NAME[@REV][/FILE.gguf]"`` or an ``https://`` URL; see docs/remote.md), the
    bytes of a model (``bytes``, ``bytearray``, ``memoryview``), an ``onnx.ModelProto``
    (anything with ``SerializeToString()``), or the name of a built-in architecture
    (``"resnet18"``; a ``str`` that is not an existing path).

    ``dims`` binds symbolic dims (``{"batch": 1, "seq": 128}``); ``input_shape`` gives the full
    shape of the only input (``(1, 3, 224, 224)``) or of named inputs (``{"x": (1, 3, 224,
    224)}``); ``classes`` sets a built-in image model's outputs; ``name`` is what bytes are
    called in the profile and in errors. ``inputs`` (example inputs) is for torch modules,
    which come with the PyTorch front-end: a tensor is the one argument, a ``tuple`` the
    positional arguments, a ``dict`` the keyword arguments, and a ``list`` is one argument
    when ``forward`` takes exactly one required positional argument (``model([img1, img2])``
    for torchvision's detection models), the positional arguments otherwise.

    Errors are ``FlopscopeError`` subclasses with the CLI's one-line message:
    ``ModelError`` (a ``ValueError``) for a malformed model, ``ModelNotFoundError`` (a
    ``FileNotFoundError``) for a missing file, ``UsageError`` (a ``ValueError``) for a bad
    argument, ``NetworkError`` (a ``ConnectionError``) when a remote model cannot be fetched
    and ``AccessDeniedError`` (also a ``PermissionError``) when its server refuses the token.

    ``training=True`` profiles one training step: ``Profile.training`` has its forward and
    backward MACs and FLOPs and its memory (weights, gradients, optimizer state, activations
    saved for backward, peak), for ``optimizer`` (``"sgd"``, ``"sgd-momentum"``, ``"adam"``,
    ``"adamw"``) and ``precision`` (``"fp32"``, ``"bf16-mixed"``, ``"fp16-mixed"``). For a torch
    module the backward pass is recorded as autograd runs it, on ``loss_fn(output)`` (the sum of
    the outputs by default): frozen parameters, ``torch.no_grad`` regions and inputs that need
    no gradient are what they are in a real step. The totals (``macs``, ``flops``, …) stay
    the forward pass's, for a module as for a file; ``Profile.training`` is the step, and a
    module's layers are the recorded nodes, forward then backward. ``recompute`` (``"none"``, ``"selective"``, ``"full"``) is for models whose
    recomputation is modelled; a torch module's is recorded as it runs (wrap blocks in
    ``torch.utils.checkpoint``), so it takes ``"none"``. ``gpus`` (data-parallel GPUs the state
    is split over), ``zero`` (ZeRO stage 0–3), ``tokens`` (an int, or ``"300B"``), ``mfu`` (a
    fraction in (0, 1]) and ``peak_gflops`` (one GPU's peak, for the training time) are the
    CLI's ``--gpus``, ``--zero``, ``--tokens``, ``--mfu`` and ``--peak-gflops``; any of
    ``gpus``, ``zero``, ``tokens`` and ``mfu`` implies ``training=True``, as its flag does. See
    docs/training-python.md.

    A roofline (``Profile.roofline``, per layer in ``to_dict()``): ``roofline=True`` for this
    machine (measured once, as ``flopscope machine``, then cached), ``peak_gflops=`` with
    ``bandwidth_gbs=`` for a device spec, or ``machine=`` a saved ``flopscope machine -f json``
    file — the CLI's ``--roofline``, ``--peak-gflops``/``--bandwidth-gbs`` and ``--machine``.
    With ``training``, ``peak_gflops`` alone is the training time's GPU peak, as on the CLI.

    ``attention`` is the CLI's ``--attention``: ``"full"`` counts a causal attention's whole
    score matrix, ``"causal-half"`` half of it, as FlashAttention's benchmark and MaxText do
    (docs/counting.md, "Causal attention"). A Hugging Face module's ``Profile.param_breakdown``
    has its parameters by role and those one token uses (mixtures of experts).

    ``convention`` (``"thop"``, ``"fvcore"``, ``"ptflops"``, ``"torchinfo"``, ``"calflops"``,
    ``"deepspeed"``, ``"flopcountermode"``, ``"exact"``) returns the model counted as that tool
    counts it (a :class:`Counted`, as ``Profile.as_convention``), the module recorded in the
    modes the tool runs it in (eval mode for all but fvcore and FlopCounterMode, under
    ``torch.no_grad()`` for thop and torchinfo); see docs/conventions.md.
    """
    if convention is not None:
        from . import _conventions

        conv = _conventions.check_one(convention)
        if training or any(v is not None for v in (gpus, zero, tokens, mfu)) or roofline:
            raise UsageError("convention= counts one forward pass as a tool does: no training "
                             "or roofline keywords with it")
        with _conventions.modes(model, conv) if _is_torch_module(model) else _nullcontext():
            # `attention` reaches the exact count; the tools count every score.
            p = _profile(model, inputs, input_shape, dims, classes, name, None, recompute,
                         loss_fn, attention)
        return p.as_convention(conv)
    if not isinstance(roofline, bool):
        raise UsageError(f"roofline must be True or False, got {roofline!r}")
    if any(v is not None for v in (gpus, zero, tokens, mfu)):
        training = True if training is False else training
    step = _training(training, optimizer, precision, recompute, gpus, zero, tokens,
                     peak_gflops, mfu)
    roof = _roof(roofline, peak_gflops, bandwidth_gbs, machine, step is not None)
    if not isinstance(attention, str):
        raise UsageError(f"attention must be 'full' or 'causal-half', got {attention!r}")
    p = _profile(model, inputs, input_shape, dims, classes, name, step, recompute, loss_fn,
                 attention)
    if roof is not None:
        p = Profile(_rs.with_roofline(p._raw, *roof))
    return p


def _roof(roofline: bool, peak: Any, bandwidth: Any, machine: Any,
          training: bool) -> Optional[tuple]:
    """The roof asked for, as ``with_roofline``'s arguments, refused as the CLI refuses its
    flags' combinations."""
    if bandwidth is not None and peak is None:
        raise UsageError("bandwidth_gbs= needs peak_gflops= (a device spec is both)")
    for what, v in (("peak_gflops", peak), ("bandwidth_gbs", bandwidth)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise UsageError(f"{what} must be a number, got {v!r}")
    if roofline and (peak is not None or machine is not None):
        raise UsageError("roofline=True measures this machine: give it, or a device spec "
                         "(peak_gflops=, bandwidth_gbs=), or machine=, not several")
    if machine is not None and peak is not None:
        raise UsageError("machine= is a measured roof: give it or peak_gflops=, not both")
    if machine is not None:
        if not isinstance(machine, (str, os.PathLike)):
            raise UsageError(f"machine must be a path, got {machine!r}")
        return (None, None, os.fspath(machine))
    if peak is not None and bandwidth is not None:
        return (float(peak), float(bandwidth), None)
    if peak is not None and not training:
        raise UsageError("peak_gflops= needs bandwidth_gbs= for a device spec (alone, with "
                         "training=True, it is the GPU peak of the training time)")
    if roofline:
        return (None, None, None)
    return None


def _profile(model: Any, inputs: Any, input_shape: Any, dims: Any, classes: Any,
             name: Optional[str], step: Optional[dict], recompute: Any,
             loss_fn: Any, attention: str = "full") -> Profile:
    if _is_torch_module(model):
        if step is not None and step["recompute"].lower() != "none":
            raise UsageError(
                f"recompute={recompute!r} for a torch module: the capture records the backward "
                "pass as autograd runs it, so recomputation is whatever the module does; wrap "
                "its blocks in torch.utils.checkpoint to record it, and keep recompute='none'")
        from . import _torch

        return _torch.profile_module(model, inputs, input_shape, dims, classes, name, step,
                                     loss_fn, attention)
    if loss_fn is not None:
        raise UsageError("loss_fn= is for a torch module profiled with training=True")
    if inputs is not None:
        raise UsageError(
            "inputs= are example inputs for a torch module; for a model file give "
            "input_shape= or dims="
        )
    d = _dims(dims)
    i = _inputs(input_shape)
    if classes is not None:
        classes = _count(classes, "classes")
        if classes < 1:
            raise UsageError(f"classes must be ≥ 1, got {classes}")
    if isinstance(model, str):
        raw = _rs.profile_spec(model, d, i, classes, step, attention)
    elif isinstance(model, os.PathLike):
        raw = _rs.profile_path(os.fspath(model), d, i, classes, step, attention)
    elif isinstance(model, (bytes, bytearray, memoryview)):
        raw = _rs.profile_bytes(bytes(model), name or "<bytes>", d, i, classes, step,
                                attention)
    elif callable(getattr(model, "SerializeToString", None)):
        data = model.SerializeToString()
        if not isinstance(data, bytes):
            raise UsageError(f"{type(model).__name__}.SerializeToString() returned no bytes")
        raw = _rs.profile_bytes(data, name or f"<{type(model).__name__}>", d, i, classes, step,
                                attention)
    else:
        raise UsageError(
            "model must be a path, the bytes of a model, an onnx.ModelProto or a built-in "
            f"name, got {type(model).__module__}.{type(model).__qualname__}"
        )
    return Profile(raw)


def _training(training: Any, optimizer: Any, precision: Any, recompute: Any, gpus: Any = None,
              zero: Any = None, tokens: Any = None, peak_gflops: Any = None,
              mfu: Any = None) -> Optional[dict]:
    if not isinstance(training, bool):
        raise UsageError(f"training must be True or False, got {training!r}")
    for what, v in (("optimizer", optimizer), ("precision", precision), ("recompute", recompute)):
        if not isinstance(v, str):
            raise UsageError(f"{what} must be a name (str), got {v!r}")
    if not training:
        return None
    if gpus is not None and _count(gpus, "gpus") < 1:
        raise UsageError(f"gpus must be ≥ 1, got {gpus}")
    if zero is not None and not 0 <= _count(zero, "zero") <= 3:
        raise UsageError(f"zero must be a ZeRO stage 0 to 3, got {zero}")
    if tokens is not None and not isinstance(tokens, str):
        tokens = _count(tokens, "tokens")
    for what, v in (("peak_gflops", peak_gflops), ("mfu", mfu)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise UsageError(f"{what} must be a number, got {v!r}")
    # The names and ranges are checked by the core, which knows them (UsageError lists them).
    return {"optimizer": optimizer, "precision": precision, "recompute": recompute,
            "gpus": None if gpus is None else int(gpus),
            "zero": None if zero is None else int(zero), "tokens": tokens,
            "peak_gflops": None if peak_gflops is None else float(peak_gflops),
            "mfu": None if mfu is None else float(mfu)}


def bench(model: Any, inputs: Any = None, **options: Any) -> Any:
    """Times a ``torch.nn.Module``: latency and throughput per backend and batch size.

    ``inputs``/``input_shape=`` as for :func:`profile`. Options: ``backends=("torch",)``
    (also ``"torch.compile"``), ``device=`` (the model's own by default; the model is never
    moved), ``threads=``, ``batch_sizes=[1, 8]``, ``warmup=10`` runs, and when to stop:
    ``runs=``, ``max_time=`` seconds, ``precision=`` (relative half-width of the median's 95%
    confidence interval); by default at least 10 runs and 3 s, or 1,000 runs. ``flush_l2=True``
    clears the GPU's L2 cache between CUDA runs. On CPU each run is one ``perf_counter_ns``
    interval; on CUDA a pair of CUDA events with a synchronisation.

    A model file (a path) is timed as ``flopscope bench FILE`` times it, on seeded random
    inputs: ``backends=("onnxruntime",)`` (also ``"tract"``), ``threads=1``, ``warmup=10``,
    ``runs=``, ``max_time=``, ``precision=``, ``seed=0``.

    Returns a ``BenchResult``: ``str()`` is the ``flopscope bench`` table, ``to_dict()`` the
    ``flopscope.bench/1`` document, ``max_abs_diff`` each backend's largest output difference
    from eager torch.
    """
    if isinstance(model, (str, os.PathLike)):
        from . import _benchfile

        if inputs is not None:
            raise UsageError("inputs= are for a torch module; a model file is fed seeded "
                             "random inputs of its declared shapes, as `flopscope bench FILE`")
        return _benchfile.bench_path(model, **options)
    if not _is_torch_module(model):
        raise UsageError(
            "flopscope.bench times a torch.nn.Module or a model file (a path), got "
            f"{type(model).__module__}.{type(model).__qualname__}"
        )
    from . import _bench

    return _bench.bench(model, inputs, **options)


def zoo() -> list[str]:
    """The names of the built-in architectures (``flopscope zoo`` lists them with counts)."""
    return list(_rs.zoo_names())


# Last: they call profile() and read Profile, defined above.
from ._compare import Comparison, compare, report  # noqa: E402
from ._conventions import Counted, Explain  # noqa: E402
from ._predict import Prediction, predict  # noqa: E402
