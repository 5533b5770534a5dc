"""What a ``flopscope.trace/1`` document carries besides the ATen calls, for the counting
conventions of other tools (thop, fvcore, ptflops, torchinfo, calflops, DeepSpeed,
``FlopCounterMode``), which see a model through its modules or its ``torch`` functions:

- ``functions``: every torch-function call of the forward pass (and the loss), with its
  arguments' shapes and its nesting, seen by a ``TorchFunctionMode`` (``Observer``) that
  re-enters itself so that the calls a Python function makes (``F.multi_head_attention_forward``
  calling ``F.linear``) are seen too; each ATen call records the innermost one as ``fn``;
- ``modules``: the module tree with each module's own parameters, buffers and plain attributes;
- ``module_calls``: each module call with its arguments and output, and the ranges of ATen
  calls and functions made inside it;
- ``grad_enabled``: the grad mode the forward pass ran in.

Arguments are encoded self-contained (``encode``): a tensor as its shape and dtype. The field
definitions are in ``docs/counting.md`` ("The trace format").
"""

from __future__ import annotations

import dis
import linecache
import math
import re
import sys
import threading
import types
from collections.abc import Mapping
from typing import Any, Optional

import torch
from torch.overrides import TorchFunctionMode

# What `with mode:` and `torch.overrides.redispatch_function` run, without their Python
# wrappers (a few microseconds a call, on every recorded function). An older torch without
# `_skip_one_hop_torch_function` runs a Python function whole: its inner calls are not seen.
_push = torch._C._push_on_torch_function_stack
_pop = torch._C._pop_torch_function_stack
_skip_one_hop = getattr(torch._C, "_skip_one_hop_torch_function", None)

_MAX = 1.7976931348623157e308
_DTYPES: dict = {}


def _dtype(d: torch.dtype) -> str:
    s = _DTYPES.get(d)
    if s is None:
        s = _DTYPES[d] = str(d).removeprefix("torch.")
    return s


def encode(x: Any) -> Any:
    """The self-contained JSON form of an argument or output: a tensor as ``{"shape", "dtype"}``,
    lists and tuples as arrays, a mapping (a Hugging Face ``ModelOutput`` too) as
    ``{"dict": [[key, value], ...]}``, numbers and strings as they are, a ``torch.dtype``,
    device, slice or ``...`` as ``str(x)``, a function by its name, any other object by its
    type's name (in angle brackets: an object's own ``str`` can be costly, or run torch
    code)."""
    # By exact type first: this runs for every argument of every recorded call.
    f = _BY_TYPE.get(type(x))
    if f is not None:
        return f(x)
    return _encode_other(x)


def _tensor(x: torch.Tensor) -> dict:
    d = _DTYPES.get(x.dtype) or _dtype(x.dtype)
    try:
        # (Fake tensors here have static shapes: plain ints.)
        return {"shape": list(x.shape), "dtype": d}
    except RuntimeError:  # a nested tensor has no single shape
        return {"shape": None, "dtype": d}


def _float(x: float) -> float:
    return 0.0 if math.isnan(x) else math.copysign(_MAX, x) if math.isinf(x) else float(x)


def _seq(x: Any) -> list:
    out = []
    for y in x:
        t = type(y)
        out.append(y if t is int or t is bool or y is None else encode(y))
    return out


def _same(x: Any) -> Any:
    return x


_BY_TYPE: dict = {torch.Tensor: _tensor, torch.nn.Parameter: _tensor, int: _same, bool: _same,
                  str: _same, type(None): _same, float: _float, tuple: _seq, list: _seq,
                  torch.Size: list, torch.dtype: str, torch.device: str,
                  slice: str, type(Ellipsis): str}  # x[:, 0:2, ...]: "slice(0, 2, None)", "Ellipsis"


def _encode_other(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        _BY_TYPE.setdefault(type(x), _tensor)  # FakeTensor, a subclass: the same from now on
        return _tensor(x)
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return _float(x)
    if isinstance(x, (list, tuple)):  # a named tuple, torch.return_types
        return _seq(x)
    if isinstance(x, Mapping):
        return {"dict": [[k if isinstance(k, (str, int)) else str(k), encode(v)] for k, v in x.items()]}
    if isinstance(x, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        try:
            return encode({torch.SymInt: int, torch.SymFloat: float}.get(type(x), bool)(x))
        except Exception:  # noqa: BLE001 — an unbacked size has no value: its expression
            return str(x)
    if isinstance(x, (torch.dtype, torch.device, torch.layout, torch.memory_format)):
        return str(x)
    if callable(x) and hasattr(x, "__qualname__"):
        return name_of(x)
    return f"<{type(x).__module__}.{type(x).__qualname__}>"


def _has_tensor(x: Any) -> bool:
    if isinstance(x, torch.Tensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_tensor(y) for y in x)
    if isinstance(x, Mapping):
        return any(_has_tensor(y) for y in x.values())
    return False


# Canonical names by identity (equality for bound builtins): torch.nn.functional first, then
# torch, then torch.Tensor; built once, on the first trace.
_NAMES: dict = {}
_NAMES_LOCK = threading.Lock()


def _table() -> dict:
    with _NAMES_LOCK:
        if not _NAMES:
            import torch.nn.functional as F

            spaces = [("torch.nn.functional", [vars(F)]), ("torch", [vars(torch)]),
                      ("torch.Tensor", [vars(c) for c in torch.Tensor.__mro__ if c is not object])]
            table: dict = {}
            for prefix, dicts in spaces:
                own: dict = {}
                for d in dicts:
                    for n, obj in d.items():
                        if isinstance(obj, (type, types.ModuleType)) or not callable(obj):
                            continue
                        try:
                            # Of several names for one object, its own (`__name__`) wins.
                            if obj not in own or n == getattr(obj, "__name__", None):
                                own[obj] = f"{prefix}.{n}"
                        except TypeError:  # unhashable
                            continue
                for obj, n in own.items():
                    table.setdefault(obj, n)
            _NAMES.update(table)
    return _NAMES


def name_of(func: Any) -> str:
    """The canonical name of a torch function (``torch.nn.functional.linear``,
    ``torch.matmul``, ``torch.Tensor.add``); module and qualified name for others."""
    try:
        n = _table().get(func)
    except TypeError:
        n = None
    if n is None:
        mod = getattr(func, "__module__", None) or getattr(
            getattr(func, "__objclass__", None), "__module__", "")
        n = f"{mod}.{getattr(func, '__qualname__', repr(func))}".lstrip(".")
    return n


# Tensor operators (`a @ b`, `x += y`) reach __torch_function__ as the method they run
# (Tensor.matmul, Tensor.add_): the instruction that called them tells them apart, since tools
# that patch `torch.Tensor.matmul` do not see `@`. By the binary operator's name: the dunder
# and the method names it may arrive as.
_BINARY = {
    "ADD": ("__add__", "add"), "SUBTRACT": ("__sub__", "sub"), "MULTIPLY": ("__mul__", "mul"),
    "TRUE_DIVIDE": ("__truediv__", "div"), "FLOOR_DIVIDE": ("__floordiv__", "floor_divide"),
    "MATRIX_MULTIPLY": ("__matmul__", "matmul"), "REMAINDER": ("__mod__", "remainder"),
    "POWER": ("__pow__", "pow"), "AND": ("__and__", "bitwise_and"),
    "OR": ("__or__", "bitwise_or"), "XOR": ("__xor__", "bitwise_xor"),
    "LSHIFT": ("__lshift__", "__lshift__"), "RSHIFT": ("__rshift__", "__rshift__"),
}


def _operator_table() -> dict:
    """(opcode, oparg or None) -> {method name: operator name}, for this Python version."""
    out: dict = {}
    nb = getattr(dis, "_nb_ops", None)
    op = dis.opmap.get("BINARY_OP")
    if op is not None and nb:  # Python 3.11+: BINARY_OP with the operator as argument
        for i, (nm, _) in enumerate(nb):
            inplace = nm.startswith("NB_INPLACE_")
            base = nm.removeprefix("NB_INPLACE_").removeprefix("NB_")
            if base in _BINARY:
                dunder, method = _BINARY[base]
                if inplace:
                    out[(op, i)] = {method + "_": "__i" + dunder[2:]}
                else:
                    out[(op, i)] = {method: dunder}
    else:  # Python 3.10: one opcode per operator
        for base, (dunder, method) in _BINARY.items():
            if f"BINARY_{base}" in dis.opmap:
                out[(dis.opmap[f"BINARY_{base}"], None)] = {method: dunder}
            if f"INPLACE_{base}" in dis.opmap:
                out[(dis.opmap[f"INPLACE_{base}"], None)] = {method + "_": "__i" + dunder[2:]}
    for un, (dunder, method) in {"UNARY_NEGATIVE": ("__neg__", "neg"),
                                 "UNARY_INVERT": ("__invert__", "bitwise_not")}.items():
        if un in dis.opmap:
            out[(dis.opmap[un], None)] = {method: dunder}
    return out


_OPS = _operator_table()
_OPCODES = {k[0] for k in _OPS}
_TENSOR_METHOD = (types.MethodDescriptorType, types.WrapperDescriptorType)


def _operator(func: Any, frame: Any) -> Optional[str]:
    """``torch.Tensor.__matmul__`` (etc.) when the instruction running in `frame` is the
    operator that called `func`; None otherwise."""
    if frame is None:
        return None
    code = frame.f_code.co_code
    i = frame.f_lasti
    if i < 0 or i + 1 >= len(code) or code[i] not in _OPCODES:
        return None
    m = _OPS.get((code[i], code[i + 1])) or _OPS.get((code[i], None))
    d = m and m.get(getattr(func, "__name__", ""))
    return f"torch.Tensor.{d}" if d else None


# func -> canonical name, or "" for calls not recorded (property reads), across traces.
_SEEN: dict = {}


# Frames that are the machinery between a call and this mode, not the caller.
_MACHINERY = {torch.overrides.__file__, __file__}


def _by_name(func: Any, attr: str, frame: Any) -> bool:
    """Whether the code that called `func` looked it up by name when it called it
    (``F.gelu(x)``, ``torch.matmul(a, b)``, or a call inside ``torch.nn.functional`` itself):
    tools that monkey-patch ``torch.nn.functional`` and ``torch`` see only such calls, not
    one through a reference kept from before they patched (``self.act = F.gelu`` in
    ``__init__``, then ``self.act(x)``). Told from the callee expression of the calling
    instruction in the caller's source (``co_positions``); without source, from the names
    the caller's code loads."""
    code = getattr(func, "__code__", None)
    callee = None
    while frame is not None:
        if frame.f_code.co_filename in _MACHINERY or frame.f_code is code:
            frame = frame.f_back
            continue
        key = (frame.f_code, frame.f_lasti)
        callee = _CALLEES.get(key, False)
        if callee is False:
            callee = _CALLEES[key] = _callee(frame)
        # torch's own dispatch of the call (a Python function handing itself to
        # handle_torch_function, boolean_dispatch picking an implementation) is not the caller.
        if callee in _DISPATCH and frame.f_code.co_filename in _TORCH_FILES:
            frame = frame.f_back
            continue
        break
    if frame is None:
        return True
    g = frame.f_globals
    internal = g.get("__name__") in ("torch", "torch.nn.functional")
    if callee is None:
        return attr in frame.f_code.co_names and (g.get(attr) is not func or internal)
    if "." not in callee:  # a bare name: a global bound before any patch, unless torch's own
        return callee == attr and internal
    return callee.rsplit(".", 1)[1] == attr


# The module-level functions some tool monkey-patches (calflops', DeepSpeed's and ptflops'
# patch lists): only for these does it matter how the caller reached them.
_PATCHED = {"torch.nn.functional." + n for n in (
    "linear conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d relu prelu "
    "elu leaky_relu relu6 silu gelu batch_norm layer_norm instance_norm group_norm avg_pool1d "
    "avg_pool2d avg_pool3d max_pool1d max_pool2d max_pool3d adaptive_avg_pool1d "
    "adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d "
    "adaptive_max_pool3d upsample interpolate softmax embedding scaled_dot_product_attention"
).split()} | {"torch." + n for n in "matmul mm bmm addmm baddbmm mul add einsum".split()}
_CALLEES: dict = {}
_DISPATCH = {"handle_torch_function", "if_true", "if_false"}
_TORCH_FILES = {torch.nn.functional.__file__, torch._jit_internal.__file__}
_CALLEE = re.compile(r"\s*([A-Za-z_][\w.]*)\s*\(")


def _callee(frame: Any) -> Optional[str]:
    """The dotted name called by the instruction `frame` is running (``F.gelu``,
    ``self.act``), from the source span Python records for it; None when unknown."""
    try:
        line, end, col, ecol = list(frame.f_code.co_positions())[frame.f_lasti // 2]
    except (AttributeError, IndexError, ValueError):
        return None
    if line is None or col is None:
        return None
    src = linecache.getline(frame.f_code.co_filename, line)
    m = _CALLEE.match(src[col:ecol] if end == line and ecol is not None else src[col:])
    return m.group(1) if m else None


class Event:
    """One torch-function call: its name, encoded arguments and output, the enclosing call,
    and the ATen calls dispatched while it ran ([first, end))."""

    __slots__ = ("name", "args", "kwargs", "out", "parent", "first", "end", "keep", "idx",
                 "stored")

    def __init__(self, name: str, args: Any, kwargs: Any, parent: Optional["Event"], first: int) -> None:
        self.name, self.args, self.kwargs, self.parent = name, args, kwargs, parent
        self.first = self.end = first
        self.keep = False
        self.idx: Optional[int] = None
        self.stored = False


class ModuleCall:
    """One module call: the module's index in `modules`, its encoded arguments and output,
    the enclosing call, and the ATen calls and events made inside it ([first, end) each)."""

    __slots__ = ("m", "args", "kwargs", "out", "parent", "same", "first", "end", "ffirst", "fend")


class Observer(TorchFunctionMode):
    """Records torch-function calls (``functions``) and module calls (``module_calls``)
    while ``on``; ``calls`` is the recorder's list of ATen calls, whose length dates them."""

    def __init__(self, calls: list) -> None:
        super().__init__()
        self.calls = calls
        self.events: list[Event] = []
        self.stack: list[Event] = []
        self.funcs: list = []  # the function each stack entry runs, to spot a re-dispatch
        self.on = False
        self.module_calls: list[ModuleCall] = []
        self.mstack: list[Optional[ModuleCall]] = []

    def __torch_function__(self, func, types_, args=(), kwargs=None):
        kwargs = kwargs or {}
        try:
            name = _SEEN.get(func)
        except TypeError:
            name = None
        if name is None:
            name = "" if getattr(func, "__name__", "") in ("__get__", "__set__") else name_of(func)
            try:
                _SEEN[func] = name
            except TypeError:
                pass
        funcs = self.funcs
        if not name or not self.on or (funcs and funcs[-1] is func):
            # A getter, a call outside the recorded passes, or a Python function's own
            # dispatch of itself (Tensor.unflatten calling super().unflatten).
            return func(*args, **kwargs)
        stored = False
        if type(func) in _TENSOR_METHOD:
            name = _operator(func, sys._getframe(1)) or name
        elif name in _PATCHED:
            stored = not _by_name(func, name.rsplit(".", 1)[-1], sys._getframe(1))
        stack = self.stack
        ev = Event(name, [encode(a) for a in args],
                   {k: encode(v) for k, v in kwargs.items()} if kwargs else {},
                   stack[-1] if stack else None, len(self.calls))
        ev.stored = stored
        self.events.append(ev)
        stack.append(ev)
        funcs.append(func)
        try:
            if type(func) is types.FunctionType and _skip_one_hop is not None:
                # A Python function: run its body with this mode on (skipping the dispatch to
                # this mode its first line does), so that the torch functions it calls are seen.
                _push(self)
                try:
                    out = _skip_one_hop(func, types_, args, kwargs)
                finally:
                    _pop()
            else:
                out = func(*args, **kwargs)
        finally:
            stack.pop()
            funcs.pop()
            ev.end = len(self.calls)
        if _has_tensor(out):
            ev.keep = True
            ev.out = encode(out)
        return out

    def module_pre(self, m: Optional[int], args: tuple) -> None:
        if not self.on or m is None:
            self.mstack.append(None)
            return
        c = ModuleCall()
        with torch._C.DisableTorchFunction():  # reading shapes must not reach this mode
            c.args = [encode(a) for a in args]
        c.m, c.kwargs, c.out = m, {}, None
        # One tensor as query, key and value (self-attention): what nn.MultiheadAttention's
        # fused inference path requires, which shapes alone cannot tell.
        c.same = len(args) >= 3 and args[0] is args[1] and args[1] is args[2]
        c.parent = next((p for p in reversed(self.mstack) if p is not None), None)
        c.first = c.end = len(self.calls)
        c.ffirst = c.fend = len(self.events)
        self.module_calls.append(c)
        self.mstack.append(c)

    def module_post(self, kwargs: Optional[dict], out: Any) -> None:
        if not self.mstack:
            return
        c = self.mstack.pop()
        if c is None:
            return
        with torch._C.DisableTorchFunction():
            c.kwargs = {k: encode(v) for k, v in kwargs.items()} if kwargs else {}
            c.out = encode(out)
        c.end, c.fend = len(self.calls), len(self.events)

    def finish(self, calls: list) -> dict:
        """The document's ``functions`` and ``module_calls``; turns each ATen call's ``fn``
        (the innermost event when it was dispatched) into that event's index, in place.

        Calls whose output holds no tensor are left out: their nested calls and ATen calls
        belong to the nearest recorded enclosing call."""
        kept = 0
        before = [0] * (len(self.events) + 1)  # recorded events before each position
        for i, e in enumerate(self.events):
            before[i] = kept
            if e.keep:
                e.idx = kept
                kept += 1
        before[len(self.events)] = kept

        def index(e: Optional[Event]) -> Optional[int]:
            while e is not None and e.idx is None:
                e = e.parent
            return None if e is None else e.idx

        for call in calls:
            e = call.get("fn")
            if e is not None:
                i = index(e)
                if i is None:
                    del call["fn"]
                else:
                    call["fn"] = i
        functions = [{"fn": e.name, "args": e.args, "kwargs": e.kwargs, "out": e.out,
                      "parent": index(e.parent), "calls": [e.first, e.end],
                      **({"stored": True} if e.stored else {})}
                     for e in self.events if e.keep]
        ids = {id(c): i for i, c in enumerate(self.module_calls)}
        module_calls = [{"m": c.m, "args": c.args, "kwargs": c.kwargs, "out": c.out,
                         **({"same_qkv": True} if c.same else {}),
                         "parent": None if c.parent is None else ids[id(c.parent)],
                         "calls": [c.first, c.end], "functions": [before[c.ffirst], before[c.fend]]}
                        for c in self.module_calls]
        return {"functions": functions, "module_calls": module_calls}


def modules_table(model: torch.nn.Module) -> tuple[list, dict]:
    """The document's ``modules`` (``named_modules()`` order, root first) and the index of
    each module by ``id``. Parameter ids are positions in one de-duplicated list of the
    model's Parameter objects, so tied parameters share theirs."""
    mods = list(model.named_modules())
    index = {id(m): i for i, (_, m) in enumerate(mods)}
    names = {id(m): n for n, m in mods}
    pids: dict[int, int] = {}
    out = []
    for n, m in mods:
        # The dicts behind named_parameters/named_buffers/named_children(recurse=False),
        # read directly: those walk the module tree for each module (a tenth of a
        # ResNet-50's capture); None entries (bias=False) skipped, as there.
        params, seen = [], set()
        for pn, p in m._parameters.items():
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            pid = pids.setdefault(id(p), len(pids))
            params.append({"name": pn, "shape": list(p.shape), "id": pid,
                           "trainable": p.requires_grad})
        buffers = [{"name": bn, "shape": list(b.shape)}
                   for bn, b in m._buffers.items() if b is not None]
        children = []
        for c in m._modules.values():
            cn = None if c is None else names.get(id(c))
            if cn is not None and cn not in children:
                children.append(cn)
        out.append({"name": n, "type": f"{type(m).__module__}.{type(m).__qualname__}",
                    "children": children, "params": params, "buffers": buffers,
                    "attrs": _attrs(m)})
    return out, index


_PLAIN = (bool, int, float, str)
_EXACT = {bool, int, str, type(None)}


def _attrs(m: torch.nn.Module) -> dict:
    out = {}
    for k, v in m.__dict__.items():
        if k[0] == "_":
            continue
        t = type(v)
        if t in _EXACT:  # most attributes: taken as they are
            out[k] = v
        elif t is tuple or t is list:
            if all(type(y) in _EXACT for y in v):
                out[k] = list(v)
            elif all(y is None or isinstance(y, _PLAIN) for y in v):
                out[k] = encode(v)
        elif isinstance(v, _PLAIN):  # a float (nan, inf), an enum
            out[k] = encode(v)
    return out
