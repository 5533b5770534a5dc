"""Fake tensors made cheaply, for the capture (``_capture``).

``FakeTensorMode`` is general: it describes every real tensor in full to fake it (views,
subclasses, symbolic shapes) and builds a cache key of some fifteen fields per tensor for
every operator call. A model's forward pass needs little of that, and at batch 1 those costs
were most of the capture's time, more than a real forward pass under ``FlopCounterMode``
(``bench/results/capture_speed.md``). Two shortcuts, each exact:

- ``fake``: a plain tensor (dense, owning its whole storage, no ``.grad``) becomes the fake
  ``from_tensor`` would make, built directly; anything else still goes to ``from_tensor``.
- ``Memo``: the outputs of a call are remembered by the operator and its arguments' metadata,
  and a later call with the same key gets fresh fake outputs (or the aliased input) without a
  trip through the dispatcher and ``FakeTensorMode``. Only calls that ``FakeTensorMode``
  itself caches are remembered, under a key with every field of its own; the replay is what
  its cache hit returns.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode, in_kernel_invocation_manager
from torch.utils._mode_utils import no_dispatch

_UNSEEN = object()

# The dtypes of the CPU scalars whose value `FakeTensorConverter.from_real_tensor` keeps.
_MEMO_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.float64)


def fake(mode: FakeTensorMode, t: torch.Tensor, device: torch.device, shared: set) -> torch.Tensor:
    """The fake copy of a parameter, buffer or input. A meta tensor (a model built on the meta
    device, an `input_shape` placeholder) becomes a fake tensor on the model's device: a CUDA
    model's input must be on CUDA. `shared`: the storages several of the model's tensors use
    (`shared_storages`), left to `from_tensor`, which makes their fakes share one too."""
    if t.device.type == "meta":
        f = _new(mode, t, device)
        return f.requires_grad_(t.requires_grad) if t.is_floating_point() else f
    if not _plain(t) or t.untyped_storage()._cdata in shared:
        return mode.from_tensor(t)
    # What `from_tensor` makes of such a tensor, at a fifth of its cost (~0.2 ms a tensor
    # there: EfficientNet-B0's weights cost more than its whole real forward pass).
    f = _new(mode, t, t.device)
    if t.requires_grad:
        f.requires_grad_(True)
    if type(t) is torch.nn.Parameter:
        f._is_param = True  # isinstance(f, nn.Parameter), as for from_tensor's copy
    if getattr(t, "_is_buffer", False):
        f._is_buffer = True
    if t.dim() == 0 and type(t) is torch.Tensor and t.device.type == "cpu" and t.dtype in _MEMO_DTYPES:
        # from_tensor keeps such a scalar's value, so that `.item()` works on its fake
        # (BatchNorm's `num_batches_tracked` in training mode).
        v = t.item()
        if math.isfinite(v):
            f.item_memo = v
    return f


def _new(mode: FakeTensorMode, t: torch.Tensor, device: torch.device) -> FakeTensor:
    """A fake tensor of `t`'s shape, strides and dtype on `device`, with a storage of its own."""
    with no_dispatch():
        meta = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="meta")
        return FakeTensor(mode, meta, device)


def _plain(t: torch.Tensor) -> bool:
    """Whether `t` is a dense tensor that owns its whole storage and carries nothing else that
    `from_tensor` would copy: no view, subclass, quantization, conjugate or negative bit, no
    `.grad`, no gradient dtype of its own."""
    if type(t) not in (torch.Tensor, torch.nn.Parameter) or t.layout != torch.strided:
        return False
    if (t.is_quantized or t.is_nested or t.is_conj() or t.is_neg() or t._base is not None
            or torch._C._functorch.is_functorch_wrapped_tensor(t)):
        return False
    if t.grad is not None or t.storage_offset() != 0 or getattr(t, "grad_dtype", t.dtype) != t.dtype:
        return False
    return t.untyped_storage().nbytes() == _span(t.shape, t.stride()) * t.element_size()


def _span(shape, stride) -> int:
    """Elements of storage a dense tensor of this shape and stride spans from offset 0."""
    if any(n == 0 for n in shape):
        return 0
    return 1 + sum((n - 1) * s for n, s in zip(shape, stride))


def shared_storages(tensors) -> set:
    """The storages (by address) that more than one of `tensors` uses."""
    seen, shared = set(), set()
    for t in tensors:
        if t.device.type != "meta":
            k = t.untyped_storage()._cdata
            (shared if k in seen else seen).add(k)
    return shared


class Memo:
    """The outputs of operator calls on fake tensors, by operator and argument metadata, for
    one trace: `call` runs a call through `FakeTensorMode` the first time its key is seen and
    remembers it when a replay would be exact; later calls with that key are replayed."""

    def __init__(self, mode: FakeTensorMode) -> None:
        self.mode = mode
        # key -> entry, or None for a key whose calls are not replayed.
        self.entries: dict = {}

    def key(self, func: Any, args: tuple, kwargs: dict) -> Optional[tuple]:
        """The call's key (every field of `FakeTensorMode._cache_key`: the global defaults, and
        per tensor its dtype, shape, strides, device, offset, storage size, layout, grad and
        inference flags, conjugate and negative bits, quantization); with the tensor arguments
        in order. None when the call cannot be remembered (a real tensor, a symbolic size,
        a constant-valued fake, an unhashable argument)."""
        out = [func, torch.get_default_dtype(), torch._C._get_default_device(),
               torch.is_inference_mode_enabled()]
        tensors: list = []
        storages: dict = {}
        try:
            if not self._add(out, tensors, storages, args):
                return None
            if kwargs and not self._add(out, tensors, storages, tuple(kwargs.items())):
                return None
            k = tuple(out)
            hash(k)
        except TypeError:
            return None
        return k, tensors

    def _add(self, out: list, tensors: list, storages: dict, xs) -> bool:
        for x in xs:
            if type(x) is FakeTensor:
                if x.fake_mode is not self.mode or x.constant is not None:
                    return False
                st = x.untyped_storage()
                # Which earlier argument shares its storage, if any: a view's output must
                # alias the same argument on a replay.
                alias = storages.setdefault(st._cdata, len(tensors))
                out.append((x.dtype, tuple(x.shape), x.stride(), x.fake_device, x.storage_offset(),
                            st.nbytes(), alias, x.layout, x.requires_grad, x.is_inference(),
                            x.is_conj(), x.is_neg(), x.is_quantized))
                tensors.append(x)
            elif isinstance(x, (torch.Tensor, torch.SymInt, torch.SymFloat, torch.SymBool, dict)):
                return False
            elif isinstance(x, (list, tuple)):
                out.append((type(x), len(x)))
                if not self._add(out, tensors, storages, x):
                    return False
            elif isinstance(x, torch.device):
                if x.index is None and x.type != "cpu":
                    return False  # resolved against the current device: not a fixed key
                out.append(x)
            else:
                # 1 and 1.0 (and True) hash alike but give different dtypes.
                out.append((type(x), x))
        return True

    def call(self, func: Any, args: tuple, kwargs: dict) -> Any:
        """`func(*args, **kwargs)`, answered from memory when the same key was seen before."""
        k = self.key(func, args, kwargs)
        if k is None:
            return func(*args, **kwargs)
        key, tensors = k
        entry = self.entries.get(key, _UNSEEN)
        if entry is _UNSEEN:
            before = (bypasses(), cache_uses())
            out = func(*args, **kwargs)
            # Remembered when FakeTensorMode's cache took the call (it bypasses data-dependent
            # and dynamic-shape operators, in-place view changes, custom operators, …) and the
            # call left its arguments' metadata as it found them.
            cached = bypasses() == before[0] and cache_uses() > before[1]
            after = self.key(func, args, kwargs) if cached else None
            self.entries[key] = (self._entry(func, tensors, out)
                                 if after is not None and after[0] == key else None)
            return out
        if entry is None:
            return func(*args, **kwargs)
        kind, outs = entry
        made = [None if o is None else self._make(o, tensors) for o in outs]
        return made[0] if kind is None else kind(made)

    def _make(self, o: tuple, tensors: list) -> torch.Tensor:
        if o[0] == "arg":  # an in-place or out= call returns its argument
            return tensors[o[1]]
        _, src, dtype, shape, stride, offset, device, grad = o
        # As FakeTensorMode builds a cache hit's output (_get_output_tensor_from_cache_entry).
        with in_kernel_invocation_manager(self.mode):
            if src is None:
                e = torch.empty_strided(shape, stride, dtype=dtype, device="meta", requires_grad=grad)
            else:  # a view: the same storage as the argument it views
                e = torch.empty_strided((), (), dtype=dtype, device="meta", requires_grad=grad)
                e.set_(tensors[src].untyped_storage(), offset, shape, stride)
        return FakeTensor(self.mode, e, device)

    def _entry(self, func: Any, tensors: list, out: Any) -> Optional[tuple]:
        if torch.Tag.inplace_view in func.tags:
            return None
        if isinstance(out, torch.Tensor):
            kind, outs = None, [out]
        elif type(out) in (tuple, list) and any(isinstance(o, torch.Tensor) for o in out):
            kind, outs = type(out), list(out)
        else:
            return None
        storages = {}
        for i, t in enumerate(tensors):
            storages.setdefault(t.untyped_storage()._cdata, i)
        made, fresh = [], set()
        for o in outs:
            if o is None:
                made.append(None)
                continue
            if type(o) is not FakeTensor or o.fake_mode is not self.mode or o.constant is not None:
                return None
            if o.layout != torch.strided or o.is_conj() or o.is_neg() or o.is_quantized:
                return None
            same = next((i for i, t in enumerate(tensors) if t is o), None)
            if same is not None:
                made.append(("arg", same))
                continue
            st = o.untyped_storage()._cdata
            src = storages.get(st)
            shape, stride, offset = tuple(o.shape), o.stride(), o.storage_offset()
            if src is None:
                # A new tensor: empty_strided must give it the same storage.
                if st in fresh or offset != 0 or (o.untyped_storage().nbytes()
                                                  != _span(shape, stride) * o.element_size()):
                    return None
                fresh.add(st)
            made.append(("new", src, o.dtype, shape, stride, offset, o.fake_device, o.requires_grad))
        return kind, made


def bypasses() -> int:
    """How many calls FakeTensorMode's cache has not taken so far (all its reasons)."""
    return sum(FakeTensorMode.cache_bypasses.values())


def cache_uses() -> int:
    """How many calls FakeTensorMode's cache has answered or filled so far."""
    return FakeTensorMode.cache_hits + FakeTensorMode.cache_misses
