"""Records a ``torch.nn.Module``'s forward pass as a ``flopscope.trace/1`` document.

Every ATen call is seen under a ``TorchDispatchMode`` (as ``FlopCounterMode`` sees them), on
fake tensors by default: no arithmetic runs and no memory is allocated, so a model on the
``meta`` device or too large for this machine is recorded in a fraction of a second. The Rust
core turns each call into the ONNX node(s) with the same meaning and counts them with the
rules it uses for ONNX files (``docs/python.md``, "How a module is counted").

The model is not modified: parameters and buffers are swapped for fake copies only inside
``torch.func.functional_call``; module names come from two global forward hooks that are
removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import weakref
from typing import Any, Optional

import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode

SCHEMA = "flopscope.trace/1"

# Exceptions that say a forward pass needs real data (a Python `if` on a tensor's value, an
# output whose shape depends on the values): on fake tensors these cannot run.
_DATA_DEPENDENT = tuple(
    getattr(torch._subclasses.fake_tensor, n)
    for n in ("DataDependentOutputException", "DynamicOutputShapeException")
    if hasattr(torch._subclasses.fake_tensor, n)
)


class CaptureFailed(Exception):
    """The forward pass failed while recording; says in which module and operation."""

    def __init__(self, message: str, data_dependent: bool) -> None:
        super().__init__(message)
        self.data_dependent = data_dependent


def _number(x: float) -> float:
    # JSON has no infinities: ±max is as good as ±inf for a constant that costs nothing.
    if math.isnan(x):
        return 0.0
    if math.isinf(x):
        return math.copysign(1.7976931348623157e308, x)
    return x


# Composite operators kept whole: the core translates them as a unit (the attention kernel a
# backend picks is what runs; its math decomposition would be counted differently).
_KEEP = {
    torch.ops.aten.scaled_dot_product_attention.default,
    torch.ops.prim.device.default,
}


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[dict] = []
        self.calls: list[dict] = []
        self.ids: dict[int, int] = {}
        self.stack: list[Optional[str]] = []
        self.schemas: dict[Any, list] = {}
        self.failed: Optional[str] = None

    def add(self, t: torch.Tensor, role: str = "value", name: str = "", frozen: bool = False) -> int:
        i = len(self.values)
        v = {"dtype": str(t.dtype).removeprefix("torch."), "shape": [int(d) for d in t.shape]}
        if role != "value":
            v["role"] = role
        if name:
            v["name"] = name
        if frozen:
            v["frozen"] = True
        self.values.append(v)
        key = id(t)
        if key not in self.ids:
            # Forget the id when the tensor dies, so that a new tensor reusing it is not taken
            # for the old one (and a real-tensor pass keeps no activation alive).
            weakref.finalize(t, self.ids.pop, key, None)
        self.ids[key] = i
        return i

    def ref(self, t: torch.Tensor) -> dict:
        i = self.ids.get(id(t))
        if i is None:  # made outside any recorded call: a constant the forward pass captured
            i = self.add(t, "const")
        return {"v": i}

    def encode(self, x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return self.ref(x)
        if isinstance(x, (list, tuple)):
            return [self.encode(y) for y in x]
        if x is None or isinstance(x, (bool, int, str)):
            return x
        if isinstance(x, float):
            return _number(x)
        if isinstance(x, torch.SymInt):
            return int(x)
        if isinstance(x, torch.SymFloat):
            return _number(float(x))
        return str(x).removeprefix("torch.")  # dtype, device, layout, memory format

    def bind(self, func: Any, args: tuple, kwargs: dict) -> dict:
        spec = self.schemas.get(func)
        if spec is None:
            spec = [
                (a.name, a.kwarg_only, a.has_default_value(), a.default_value if a.has_default_value() else None)
                for a in func._schema.arguments
            ]
            self.schemas[func] = spec
        out = {}
        for i, (name, kw_only, has_default, default) in enumerate(spec):
            if not kw_only and i < len(args):
                v = args[i]
            elif name in kwargs:
                v = kwargs[name]
            else:
                v = default if has_default else None
            out[name] = self.encode(v)
        return out

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        # Under torch.inference_mode (and for tensor subclasses) composite operators such as
        # conv2d, linear or layer_norm reach the mode whole: record what they decompose into,
        # as FlopCounterMode does, so that every mode gives the same calls.
        if func not in _KEEP:
            with self:
                r = func.decompose(*args, **kwargs)
            if r is not NotImplemented:
                return r
        try:
            encoded = self.bind(func, args, kwargs)
            out = func(*args, **kwargs)
        except Exception as e:
            if self.failed is None:
                where = next((s for s in reversed(self.stack) if s), None)
                self.failed = f"{func}" + (f" in module '{where}'" if where else "")
            raise e
        leaves = pytree.tree_leaves(out)
        if not any(isinstance(t, torch.Tensor) for t in leaves):
            return out  # prim.device, .item(), size queries: nothing to count
        outputs = [self.add(t) if isinstance(t, torch.Tensor) else None for t in leaves]
        self.calls.append(
            {
                "op": str(func),
                "args": encoded,
                "outputs": outputs,
                "scope": [s for s in self.stack if s],
            }
        )
        return out


def _module_hooks(model: torch.nn.Module, stack: list):
    names = {id(m): n for n, m in model.named_modules()}

    def pre(mod, args):
        stack.append(names.get(id(mod)))

    def post(mod, args, out):
        if stack:
            stack.pop()

    from torch.nn.modules import module as M

    return [
        M.register_module_forward_pre_hook(pre),
        M.register_module_forward_hook(post, always_call=True),
    ]


def _fake(mode, t: torch.Tensor) -> torch.Tensor:
    if t.device.type == "meta":
        with mode:
            f = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="cpu")
        return f.requires_grad_(t.requires_grad) if t.is_floating_point() else f
    return mode.from_tensor(t)


@contextlib.contextmanager
def _plain_kernels():
    """Switches off, while tracing, the fused CPU/GPU paths that compute the same products
    through opaque kernels: the nn.TransformerEncoderLayer/MultiheadAttention fast path (whose
    padded form uses nested tensors, which cannot be traced) and the oneDNN/cuDNN RNN kernels
    (LSTM and GRU then run as their matmuls). The counts are those of the same arithmetic."""
    # The switches themselves (the backends' `flags()` context managers also reset precision
    # settings, with a warning).
    mha = torch.backends.mha.get_fastpath_enabled()
    mkldnn, cudnn = torch._C._get_mkldnn_enabled(), torch._C._get_cudnn_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    torch._C._set_mkldnn_enabled(False)
    torch._C._set_cudnn_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(mha)
        torch._C._set_mkldnn_enabled(mkldnn)
        torch._C._set_cudnn_enabled(cudnn)


def trace(model: torch.nn.Module, args: tuple, kwargs: dict, name: str, fake: bool = True) -> bytes:
    """The trace document of one forward pass of ``model(*args, **kwargs)``, as JSON bytes.

    Raises ``CaptureFailed`` naming the operation and module when the pass fails.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode

    rec = _Recorder()
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    mode = FakeTensorMode(allow_non_fake_inputs=True) if fake else None
    if mode is not None:
        convert = lambda t: _fake(mode, t)  # noqa: E731
    else:
        # A real pass must not move BatchNorm statistics: it gets copies of the buffers.
        convert = lambda t: t  # noqa: E731
    swapped = {}
    for n, p in params.items():
        f = convert(p)
        rec.add(f, "param", n, frozen=not p.requires_grad)
        swapped[n] = f
    for n, b in buffers.items():
        f = convert(b) if fake else b.clone()
        rec.add(f, "buffer", n)
        swapped[n] = f

    def as_input(path, x):
        if not isinstance(x, torch.Tensor):
            return x
        f = convert(x)
        # Positional arguments are `input` (`input_1`, … when several), keyword ones their
        # keyword; a tensor nested in a list or dict adds its index or key.
        top, key = path[0].idx, path[1]
        if top == 1:
            label = str(key.key)
        else:
            label = "input" if len(args) == 1 else f"input_{key.idx}"
        rec.add(f, "input", label + pytree.keystr(path[2:]))
        return f

    if not fake:
        # A real pass must not change the caller's tensors either (an in-place op on an input).
        args, kwargs = pytree.tree_map(
            lambda t: t.clone() if isinstance(t, torch.Tensor) else t, (tuple(args), dict(kwargs)))
    args, kwargs = pytree.tree_map_with_path(as_input, (tuple(args), dict(kwargs)))
    handles = _module_hooks(model, rec.stack)
    try:
        ctx = mode if mode is not None else contextlib.nullcontext()
        with ctx, rec, _plain_kernels():
            out = torch.func.functional_call(model, swapped, args, kwargs, tie_weights=True, strict=False)
    except Exception as e:
        dd = isinstance(e, _DATA_DEPENDENT) or "data-dependent" in str(e).lower()
        what = rec.failed or "the forward pass"
        msg = f"could not trace {type(model).__name__}: {what} failed: {type(e).__name__}: {_first_line(e)}"
        hop = re.search(r"HigherOrderOperator (\w+)", str(e))
        if hop:
            where = next((m for m in reversed(rec.stack) if m), None)
            msg = (f"could not trace {type(model).__name__}: torch.{hop.group(1)}"
                   + (f" in module '{where}'" if where else "")
                   + " is a higher-order operator, which cannot be traced yet: export the "
                   "model with torch.onnx.export and profile the file")
        raise CaptureFailed(msg, dd) from e
    finally:
        for h in handles:
            h.remove()
    outputs = [rec.ids[id(t)] for t in pytree.tree_leaves(out) if isinstance(t, torch.Tensor) and id(t) in rec.ids]
    doc = {
        "schema": SCHEMA,
        "name": name,
        "producer": f"torch {torch.__version__}",
        "values": rec.values,
        "calls": rec.calls,
        "outputs": outputs,
    }
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else ""
