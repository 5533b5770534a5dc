"""Records a ``torch.nn.Module``'s forward pass as a ``flopscope.trace/1`` document.

Every ATen call is seen under a ``TorchDispatchMode`` (as ``FlopCounterMode`` sees them), on
fake tensors by default: no arithmetic runs and no memory is allocated, so a model on the
``meta`` device or too large for this machine is recorded in a fraction of a second. The Rust
core turns each call into the ONNX node(s) with the same meaning and counts them with the
rules it uses for ONNX files (``docs/python.md``, "How a module is counted").

The model is not modified: parameters and buffers are swapped for fake copies only inside
``torch.func.functional_call``; module names come from two global forward hooks that are
removed afterwards.

Tracing changes process-wide state for its duration (the global module hooks, the oneDNN,
cuDNN and attention fast-path switches), so traces are serialised by one lock: threads that
profile at once each get the result they would get alone, and the hooks of a trace ignore
modules that other threads run meanwhile.

A training step (``training=True``) records, after the forward pass, the loss and the
backward pass autograd runs for it, on the same fake tensors: only the gradients something
needs (no input gradient for the first layer, no weight gradient for a frozen parameter,
nothing for what a ``torch.no_grad`` region computed). The gradients are taken with
``torch.autograd.grad``, so no ``.grad`` is written, not even on a real-tensor pass. The
tensors autograd saves for backward are seen by a ``saved_tensors_hooks`` pair during the
forward pass and the loss; their bytes, each storage once and the parameters' and buffers'
left out, go into the trace as ``saved_activation_bytes``.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import threading
import weakref
from typing import Any, Optional

import torch
from torch.utils import _pytree as pytree
from torch.utils import _python_dispatch
from torch.utils._python_dispatch import TorchDispatchMode

from . import _fakes, _observe, _packed

SCHEMA = "flopscope.trace/1"

# One trace at a time in this process: tracing registers global module hooks, flips global
# backend switches and restores them after (see `_plain_kernels`); two traces interleaved would
# see each other's modules and restore each other's switches to the wrong values. Reentrant, so
# that a forward pass that profiles something itself does not deadlock.
_LOCK = threading.RLock()

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
_DEVICE = torch.ops.prim.device.default
_KEEP = {torch.ops.aten.scaled_dot_product_attention.default, _DEVICE}


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[dict] = []
        self.calls: list[dict] = []
        self.ids: dict[int, int] = {}
        self.stack: list[Optional[str]] = []
        self.schemas: dict[Any, list] = {}
        self.composite: dict[Any, bool] = {}
        # Fake pass: the outputs of calls seen before (`_fakes.Memo`), set once the modes are on.
        self.memo: Optional[_fakes.Memo] = None
        self.failed: Optional[str] = None
        # Training: the module scope of each autograd node the forward pass made, so that a
        # backward call is attributed to the module whose forward it differentiates.
        self.node_scope: Optional[dict] = None
        self.pending: list = []
        # Quantized modules' packed weights: each ScriptObject's tensors, as encoded arguments
        # (`_packed`), by the object's key.
        self.packed: dict[int, Any] = {}
        # The torch functions and module calls of the forward pass (`_observe`): each call
        # records the innermost function running as "fn".
        self.observer: Optional[_observe.Observer] = None

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
        # (Keeping each fake tensor alive instead would be cheaper, but torch.zeros() then
        # detaches its result: an extra call in the trace, convit.)
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
        if isinstance(x, torch.ScriptObject):
            return self.packed.get(_packed.key(x), str(x))
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

    def _composite(self, func: Any) -> bool:
        """Whether `func` has a CompositeImplicitAutograd kernel (what `decompose` runs) and is
        not kept whole; asked once per operator, so that the others (most calls) skip
        `decompose` and the re-entry of this mode around it."""
        c = self.composite.get(func)
        if c is None:
            dk = torch._C.DispatchKey.CompositeImplicitAutograd
            c = func not in _KEEP and (
                dk in func.py_kernels or torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), dk))
            self.composite[func] = c
        return c

    def settle(self, final: bool = False) -> None:
        """Maps the autograd nodes of recent calls' outputs to their scope. Autograd sets
        ``grad_fn`` after the dispatch returns, and after a few bookkeeping calls
        (``prim.device``), so each output waits for up to eight later calls for its node to
        appear (an in-place op's output: for it to change)."""
        keep = []
        for t, scope, ttl, before in self.pending:
            fn = t.grad_fn
            if fn is not None and fn is not before:
                self.node_scope.setdefault(fn, scope)
            elif ttl > 0 and not final:
                keep.append((t, scope, ttl - 1, before))
        self.pending = keep

    def scope(self) -> list:
        if self.stack or self.node_scope is None:
            return [s for s in self.stack if s]
        # A backward call: the scope of the forward call whose node autograd is running.
        node = torch._C._current_autograd_node()
        return list(self.node_scope.get(node, [])) if node is not None else []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.pending:
            self.settle()
        if (func is _DEVICE and self.memo is not None and type(args[0]) is _fakes.FakeTensor
                and not args[0].fake_mode.in_kernel_invocation):
            # `t.device` of a fake tensor: a third of all calls, answered as FakeTensorMode's
            # own handler (`_device_handler`) answers it.
            return args[0].fake_device
        # Under torch.inference_mode (and for tensor subclasses) composite operators such as
        # conv2d, linear or layer_norm reach the mode whole: record what they decompose into,
        # as FlopCounterMode does, so that every mode gives the same calls.
        if self._composite(func):
            with self:
                r = func.decompose(*args, **kwargs)
            if r is not NotImplemented:
                return r
        try:
            encoded = self.bind(func, args, kwargs)
            out = func(*args, **kwargs) if self.memo is None else self.memo.call(func, args, kwargs)
        except Exception as e:
            if self.failed is None:
                where = next((s for s in reversed(self.stack) if s), None)
                self.failed = f"{func}" + (f" in module '{where}'" if where else "")
            raise e
        leaves = pytree.tree_leaves(out)
        if not any(isinstance(t, torch.Tensor) for t in leaves):
            return out  # prim.device, .item(), size queries: nothing to count
        outputs = [self.add(t) if isinstance(t, torch.Tensor) else None for t in leaves]
        scope = self.scope()
        call = {"op": str(func), "args": encoded, "outputs": outputs, "scope": scope}
        if self.observer is not None and self.observer.stack:
            call["fn"] = self.observer.stack[-1]  # an index once the trace is done
        self.calls.append(call)
        if self.node_scope is not None and self.stack:
            self.pending += [(t, scope, 8, t.grad_fn) for t in leaves
                             if isinstance(t, torch.Tensor)]
        return out


def _module_hooks(model: torch.nn.Module, stack: list, obs: _observe.Observer, index: dict):
    """Global forward hooks that keep `stack` (the names of the modules running) and record
    each module call in `obs`; `index`: each module's position in the trace's `modules`."""
    names = {id(m): n for n, m in model.named_modules()}
    # The hooks are global: modules other threads run meanwhile are not this trace's.
    mine = threading.get_ident()

    def pre(mod, args):
        if threading.get_ident() == mine:
            stack.append(names.get(id(mod)))
            obs.module_pre(index.get(id(mod)), args)

    def post(mod, args, *rest):
        # (mod, args, kwargs, out); (mod, args, out) when forward raised (always_call).
        if stack and threading.get_ident() == mine:
            stack.pop()
            obs.module_post(rest[0] if len(rest) == 2 else None, rest[-1])

    from torch.nn.modules import module as M

    # (A global pre-hook takes no keyword arguments: they are read in the forward hook, where
    # an older torch does not give them either.)
    handles = [M.register_module_forward_pre_hook(pre)]
    try:
        handles.append(M.register_module_forward_hook(post, with_kwargs=True, always_call=True))
    except TypeError:
        handles.append(M.register_module_forward_hook(post, always_call=True))
    return handles


def home_device(model: torch.nn.Module) -> torch.device:
    """The device a module computes on: that of its first parameter or buffer; the CPU for a
    module on the meta device (its fake tensors are CPU ones) or without tensors."""
    for t in (*model.parameters(), *model.buffers()):
        return t.device if t.device.type != "meta" else torch.device("cpu")
    return torch.device("cpu")


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


class _Saved:
    """Bytes of the tensors autograd saves for backward, each storage once; the storages of
    parameters and buffers are the weights, not activations, and are left out."""

    def __init__(self, weights: list) -> None:
        from torch.multiprocessing.reductions import StorageWeakRef

        self._ref = StorageWeakRef
        self.weights = {StorageWeakRef(t.untyped_storage()) for t in weights}
        self.storages: dict = {}

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        key = self._ref(st)
        if key not in self.weights and key not in self.storages:
            self.storages[key] = int(st.nbytes())
        return t

    @staticmethod
    def unpack(t: torch.Tensor) -> torch.Tensor:
        return t

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self.pack, self.unpack)

    def total(self) -> int:
        return sum(self.storages.values())


def default_loss(out: Any) -> torch.Tensor:
    """The loss a training step is recorded with when none is given: the sum of every
    floating-point output that requires grad (``out.sum()`` for one output): every output
    element receives a gradient of 1."""
    leaves = [t for t in pytree.tree_leaves(out)
              if isinstance(t, torch.Tensor) and t.is_floating_point() and t.requires_grad]
    if not leaves:
        raise CaptureFailed(
            "no output requires grad: every parameter is frozen, or the forward pass ran "
            "under torch.no_grad, so a training step has no backward pass", False)
    loss = leaves[0].sum()
    for t in leaves[1:]:
        loss = loss + t.sum()
    return loss


def trace(model: torch.nn.Module, args: tuple, kwargs: dict, name: str, fake: bool = True,
          training: bool = False, loss_fn: Any = None) -> bytes:
    """The trace document of one forward pass of ``model(*args, **kwargs)``, as JSON bytes;
    with ``training``, of the forward pass, ``loss_fn(output)`` (``default_loss`` when None)
    and the backward pass of that loss.

    Raises ``CaptureFailed`` naming the operation and module when the pass fails. Traces
    run one at a time (``_LOCK``).
    """
    with _LOCK:
        return _trace(model, args, kwargs, name, fake, training, loss_fn)


def _add_packed(rec: _Recorder, model: torch.nn.Module) -> list:
    """Names the tensors of the module's packed quantized weights as (untrained) parameters
    and maps each packed object to them; returns the tensors, kept alive while tracing so that
    no other tensor takes their ids."""
    keep = []
    for name, obj, dtype in _packed.objects(model):
        parts = _packed.unpack(obj, dtype)
        if parts is None:
            continue
        enc = {}
        for k, v in parts.items():
            if isinstance(v, torch.Tensor):
                enc[k] = {"v": rec.add(v, "param", f"{name}.{k}", frozen=True)}
                keep.append(v)
            else:
                enc[k] = v  # a convolution's window attributes; None for no bias
        rec.packed[_packed.key(obj)] = enc
    return keep


def _trace(model: torch.nn.Module, args: tuple, kwargs: dict, name: str, fake: bool,
           training: bool, loss_fn: Any) -> bytes:
    from torch._subclasses.fake_tensor import FakeTensorMode

    rec = _Recorder()
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    mode = FakeTensorMode(allow_non_fake_inputs=True) if fake else None
    packed = _add_packed(rec, model)
    if mode is not None and packed:
        # The fake-tensor cache compares arguments, and a packed object cannot be compared.
        mode.cache_enabled = False
    if mode is not None:
        device = home_device(model)
        shared = _fakes.shared_storages([*params.values(), *buffers.values(),
                                         *(t for t in pytree.tree_leaves((args, kwargs))
                                           if isinstance(t, torch.Tensor))])
        convert = lambda t: _fakes.fake(mode, t, device, shared)  # noqa: E731
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
    fed: list[torch.Tensor] = []

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
        fed.append(f)
        return f

    if not fake:
        # A real pass must not change the caller's tensors either (an in-place op on an input).
        args, kwargs = pytree.tree_map(
            lambda t: t.clone() if isinstance(t, torch.Tensor) else t, (tuple(args), dict(kwargs)))
    args, kwargs = pytree.tree_map_with_path(as_input, (tuple(args), dict(kwargs)))
    modules, index = _observe.modules_table(model)
    obs = rec.observer = _observe.Observer(rec.calls)
    handles = _module_hooks(model, rec.stack, obs, index)
    saved = _Saved(list(swapped.values())) if training else None
    backward_start = None
    ctx = mode if mode is not None else contextlib.nullcontext()
    if training:
        rec.node_scope = {}
    try:
        with contextlib.ExitStack() as stack:
            if training:
                # A training step computes gradients whatever the caller's grad mode is.
                stack.enter_context(torch.inference_mode(False))
                stack.enter_context(torch.enable_grad())
            stack.enter_context(ctx)
            stack.enter_context(rec)
            stack.enter_context(_plain_kernels())
            if (mode is not None and mode.cache_enabled and all(
                    m is mode or m is rec for m in _python_dispatch._get_current_dispatch_mode_stack())):
                # Calls answered from the memo skip the modes under this one: none but the fake
                # one may be there (a caller's FlopCounterMode around profile() sees every call).
                rec.memo = _fakes.Memo(mode)
            grad_enabled = torch.is_grad_enabled()
            # The forward pass and the loss are observed; the backward pass is not.
            with saved.hooks() if saved is not None else contextlib.nullcontext(), obs:
                obs.on = True
                out = torch.func.functional_call(model, swapped, args, kwargs, tie_weights=True,
                                                  strict=False)
                if training:
                    rec.settle()
                    loss = (loss_fn or default_loss)(out)
                    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                        raise CaptureFailed("loss_fn must return a tensor of one element, got "
                                            f"{type(loss).__name__}", False)
                    if not loss.requires_grad:
                        raise CaptureFailed(
                            "the loss does not require grad: every parameter is frozen, or the "
                            "forward pass ran under torch.no_grad", False)
                obs.on = False
            if training:
                rec.settle(final=True)
                backward_start = len(rec.calls)
                # What loss.backward() differentiates: every leaf that requires grad (trained
                # parameters, inputs given with requires_grad), without writing `.grad`.
                leaves = [t for t in [*swapped.values(), *fed] if t.requires_grad and t.is_leaf]
                torch.autograd.grad(loss, leaves, allow_unused=True)
    except CaptureFailed:
        raise
    except Exception as e:
        dd = isinstance(e, _DATA_DEPENDENT) or "data-dependent" in str(e).lower()
        what = rec.failed or ("the backward pass" if backward_start is not None
                              else "the forward pass")
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
        rec.node_scope = None
        rec.pending = []
        rec.memo = None
        obs.on = False
        rec.observer = None
    outputs = [rec.ids[id(t)] for t in pytree.tree_leaves(out) if isinstance(t, torch.Tensor) and id(t) in rec.ids]
    doc = {
        "schema": SCHEMA,
        "name": name,
        "producer": f"torch {torch.__version__}",
        "values": rec.values,
        "calls": rec.calls,
        "outputs": outputs,
        "grad_enabled": grad_enabled,
        "modules": modules,
        **obs.finish(rec.calls),
    }
    if training:
        doc["backward_start"] = backward_start
        doc["saved_activation_bytes"] = saved.total()
    # (No cycle check: the document is built here, of fresh lists and dicts.)
    return json.dumps(doc, separators=(",", ":"), allow_nan=False, check_circular=False).encode()


def _first_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else ""
