"""The PyTorch front-end of ``flopscope.profile``: example inputs → trace → the Rust core.

Imported only when a ``torch.nn.Module`` is given, so ``import flopscope`` needs no torch.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from ._capture import CaptureFailed, home_device, trace


def _random(shape, dtype, device) -> torch.Tensor:
    # A generator of its own: making an input must not move the caller's random state.
    g = torch.Generator().manual_seed(0)
    return torch.randn(*shape, dtype=dtype, generator=g).to(device)


def materialize(x: Any, device: torch.device) -> Any:
    """Real random tensors on ``device`` (the model's) in place of the meta placeholders
    ``input_shape`` makes."""
    return torch.utils._pytree.tree_map(
        lambda t: _random(t.shape, t.dtype, device)
        if isinstance(t, torch.Tensor) and t.device.type == "meta" else t, x)


def home_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating-point type a module computes in: that of its first floating-point
    parameter or buffer (a bf16 model's is bfloat16); float32 when it has none (a dynamically
    quantized model keeps its weights packed, outside ``parameters()``)."""
    for t in (*model.parameters(), *model.buffers()):
        if t.is_floating_point():
            return t.dtype
    return torch.float32


def example_inputs(model: torch.nn.Module, inputs: Any, input_shape: Any,
                   real: bool = True) -> tuple[tuple, dict]:
    """``(args, kwargs)`` from what the caller gave: a tensor, a tuple of positional arguments,
    a list (one argument when ``forward`` takes one required positional argument, as
    ``model([img1, img2])``; the positional arguments otherwise), a dict of keyword
    arguments, or a shape for one random input of the model's floating-point
    type (``home_dtype``) on its device (``home_device``); without ``real``, a meta tensor, which
    the capture makes a fake tensor on the model's device: tracing needs no data, and a large
    shape costs no memory."""
    if inputs is not None and input_shape is not None:
        raise ValueError("give inputs= or input_shape=, not both")
    if input_shape is not None:
        if isinstance(input_shape, dict):
            raise ValueError("for a torch module input_shape= is one shape, e.g. (1, 3, 224, 224)")
        dtype = home_dtype(model)
        shape = [int(d) for d in input_shape]
        if not real:
            return (torch.empty(*shape, dtype=dtype, device="meta"),), {}
        return (_random(shape, dtype, home_device(model)),), {}
    if inputs is None:
        raise ValueError(
            "a torch module needs example inputs: inputs=tensor, a tuple of arguments, a dict "
            "of keyword arguments, or input_shape=(1, 3, 224, 224)"
        )
    if isinstance(inputs, dict):
        return (), dict(inputs)
    if isinstance(inputs, list) and _one_argument(model):
        return (inputs,), {}  # model([img1, img2]): torchvision's detection models
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


def _one_argument(model: torch.nn.Module) -> bool:
    """Whether ``model.forward`` takes exactly one required positional argument (and no
    ``*args``): then a list given as ``inputs`` is that argument, not the arguments."""
    import inspect

    try:
        sig = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return False
    kinds = [p for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    if any(p.kind == p.VAR_POSITIONAL for p in kinds):
        return False
    return sum(p.default is p.empty for p in kinds) == 1


def capture(model: torch.nn.Module, args: tuple, kwargs: dict, name: str,
            training: bool = False, loss_fn: Any = None) -> tuple[bytes, list[str]]:
    """The trace of one forward pass (with ``training``, of a training step: forward, loss and
    backward) and notes about how it was taken.

    Fake tensors first; a forward pass that needs real values (``if x.sum() > 0:``) is run
    again on real tensors, unless the model is on the ``meta`` device, where it cannot be.
    """
    notes = []
    if training and model.training is False:
        notes.append(
            "the module is in eval mode: the step was recorded so (BatchNorm with its running "
            "statistics, no dropout); call model.train() for a training-mode step")
    step = {"training": training, "loss_fn": loss_fn}
    try:
        return trace(model, args, kwargs, name, fake=True, **step), notes
    except CaptureFailed as e:
        if not e.data_dependent:
            raise
        if any(t.device.type == "meta" for t in [*model.parameters(), *model.buffers()]):
            raise CaptureFailed(
                f"{e} (the forward pass depends on tensor values, and a model on the meta "
                "device has none: load real weights or pass real inputs)",
                True,
            ) from e
        note = (
            f"traced on real tensors: on fake ones, {e}; the counts are those of the branch "
            "these inputs took"
        )
        args, kwargs = materialize((args, kwargs), home_device(model))
        return trace(model, args, kwargs, name, fake=False, **step), [*notes, note]


def profile_module(model: Any, inputs: Any, input_shape: Any, dims: Any, classes: Any,
                   name: Optional[str], step: Optional[dict] = None, loss_fn: Any = None,
                   attention: str = "full") -> Any:
    """``flopscope.profile`` of a torch module (its arguments, checked there): traced at the
    example inputs, or at ``input_shape``'s symbolic sizes with formulas fitted in the free
    ones; a Hugging Face model's parameters by role from its ``named_parameters``."""
    from . import CaptureError, Profile, UsageError, _dims
    from . import _flopscope as _rs

    if classes is not None:
        raise UsageError("classes= is for built-in models; a torch module has its own head")
    symbolic = (isinstance(input_shape, (tuple, list))
                and any(isinstance(d, str) for d in input_shape))
    if dims is not None and not symbolic:
        raise UsageError(
            "dims= sizes the symbolic dims of input_shape=, e.g. input_shape=('batch', 3, 224, "
            "224), dims={'batch': 8}; a module with example inputs is profiled at their shapes"
        )
    syms: list[str] = []
    for d in input_shape if symbolic else ():
        if isinstance(d, str) and d not in syms:
            syms.append(d)
    given = dict(_dims(dims))
    if unknown := [k for k in given if k not in syms]:
        raise UsageError(f"dims {unknown} are not in input_shape {tuple(input_shape)}")
    at = {s: given.get(s, 1) for s in syms}

    def shape_at(sizes: dict) -> tuple:
        return tuple(sizes[d] if isinstance(d, str) else d for d in input_shape)

    label = name or type(model).__name__

    def trace_at(sizes: dict) -> tuple[bytes, list]:
        try:
            shape = shape_at(sizes) if symbolic else input_shape
            args, kwargs = example_inputs(model, inputs, shape, real=False)
        except ValueError as e:
            raise UsageError(str(e)) from None
        try:
            return capture(model, args, kwargs, label, training=step is not None,
                                  loss_fn=loss_fn)
        except CaptureFailed as e:
            hint = ""
            if syms and sizes == at and [s for s in syms if s not in given]:
                hint = (f" (input_shape {tuple(input_shape)} was traced at "
                        f"{shape_at(sizes)}: symbols not in dims= are 1; give sizes that "
                        "fit the model, e.g. dims={...})")
            raise CaptureError(str(e) + hint) from e.__cause__

    if step is not None:
        _rs.check_training(step)  # a typo is a UsageError before anything is traced
    data, notes = trace_at(at)
    raw = _rs.profile_bytes(data, label, [], [], None, step, attention)
    free = [s for s in syms if s not in given]
    if syms:
        # Symbolic sizes: trace again at the points the formula fit asks for.
        make = lambda pt: trace_at({**at, **dict(zip(free, pt))})[0]  # noqa: E731
        raw = raw.with_formulas(free, list(at.items()), make, attention)
    if notes:
        raw = raw.with_warnings(notes)
    if (experts := hf_experts(model)) is not None:
        named = [(n, p.numel()) for n, p in model.named_parameters()]
        raw = raw.with_param_breakdown(named, *experts)
    return Profile(raw, data)


def hf_experts(model: torch.nn.Module) -> Optional[tuple[int, int]]:
    """``(E, k)`` of a Hugging Face model (its ``config``): routed experts per MoE layer
    (``num_local_experts``: Mixtral; ``n_routed_experts``: DeepSeek; ``num_experts``: Qwen-MoE)
    and experts per token (``num_experts_per_tok``); ``(1, 1)`` for a dense one; ``None`` for
    a module without a Hugging Face config, whose parameter names say nothing of their role."""
    config = getattr(model, "config", None)
    if config is None or not callable(getattr(config, "to_dict", None)):
        return None
    c = config.to_dict()
    c = c.get("text_config") or c  # a multimodal model's language half
    experts = next((c[k] for k in ("num_local_experts", "n_routed_experts", "num_experts")
                    if isinstance(c.get(k), int) and c[k] > 1), 1)
    per_token = c.get("num_experts_per_tok") if experts > 1 else 1
    return experts, per_token if isinstance(per_token, int) else 1
